// Package signstash is the Sign'Stash backend: a REST client of the
// Sign'Stash Proxy and Integration Service (MUST / Multicert) implementing
// signing.Backend.
//
// Small batches are signed with the synchronous call; large ones (mode
// "auto" above SyncMaxFiles documents, or mode "async") are registered on a
// proxy instance, polled there and fetched from there: follow-up calls
// always go to the host and port the instance advertised (Operation.Endpoint),
// since proxy instances keep separate state.
//
// Documents are streamed both ways, in one of two transports (Config.Transport):
//
//   - base64 (default): the request body is written by a goroutine that
//     base64-encodes each file straight from disk, and each signedContent
//     of a response is decoded from the JSON stream straight into a
//     temporary file beside Doc.Out, then renamed;
//   - multipart: the documented binary call (multipart/form-data: a
//     signRequest part and one files part per document), written the same
//     way, asks for no content in the answer; the signed documents are
//     then downloaded as the operation's ZIP and extracted beside Doc.Out
//     as it arrives; the entries are kept once the archive's central
//     directory has confirmed them (streamZip). A ZIP laid out otherwise
//     (stored entries whose sizes follow their data, data around the
//     archive, local headers the central directory contradicts) is
//     downloaded again, spooled to a temporary file in TempDir and read
//     with archive/zip, which follows the central directory. The
//     service does not say whether it matches files to documents by order
//     or by name, so the files follow documents[] in order and each is
//     named as its document, names made unique within the request: both
//     readings agree. An answer that carries the content anyway (the
//     proxy's sync call does) is read as in the base64 transport.
//
// Neither a document nor a batch is ever held in memory.
//
// Errors are classified in one place (classify): 429 and 5xx are transient
// (with the server's Retry-After), licence, credential and client-service
// states are configuration errors (the agent holds the folder), request
// validation errors are document errors for the batch, and per-document
// signing errors become a *signagent.Error in that document's Result.
// The wire error is kept as a *Error inside.
//
// Authentication is OAuth2 client credentials (HTTP Basic at the token
// endpoint). The token is cached and renewed before it expires; a token the
// service rejects (401, or 409 with 0.0.10) is dropped and the call retried
// once. The client secret never appears in logs or errors.
package signstash

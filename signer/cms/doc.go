// Package cms builds and checks detached CMS SignedData (RFC 5652) over a
// SHA-256 digest, the signature container of PAdES and CAdES baseline
// signatures.
//
// SignDigest takes the digest of the content rather than the content, so
// callers stream their documents through SHA-256 and never hold them in
// memory. The SignerInfo carries the signed attributes content-type,
// message-digest and ESS signing-certificate-v2, plus signing-time only when
// asked (PAdES forbids it, CAdES uses it). With a Timestamper the signature
// value is timestamped (RFC 3161) and the token added as the unsigned
// attribute signature-time-stamp, which turns B-B into B-T.
//
// The SignedData is encoded directly in DER. What depends only on the
// signer certificate (its identifier and the signing-certificate-v2
// attribute) is encoded once and kept for the last few certificates used,
// so signing a stream of documents with one key costs one signature each.
//
// VerifyDigest checks the mathematics of such a signature, not trust: the
// caller decides which certificates it trusts.
package cms

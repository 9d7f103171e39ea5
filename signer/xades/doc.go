// Package xades writes and checks XAdES baseline B-B enveloped signatures
// (ETSI EN 319 132-1) on XML documents.
//
// Sign appends one ds:Signature as the last child of the document element.
// The signature has two references, both SHA-256 over exclusive
// canonicalization: the whole document (enveloped-signature transform) and
// the signed qualifying properties (signing time, signing certificate digest,
// data object format). The signed document is the input's bytes with the
// signature spliced in before the document element's end tag, so the
// declaration, namespaces, comments and formatting of the input survive
// byte for byte (references to entities of the DTD excepted, which are
// expanded). With a Timestamper the signature gets an RFC 3161
// xades:SignatureTimeStamp over ds:SignatureValue (XAdES-B-T).
//
// Verify checks every signature of a document offline: each reference
// digest, the signature value against the certificate in ds:KeyInfo, the
// signing certificate digest and any signature timestamp. It does not decide whether the certificate is
// trusted; that is the caller's policy.
//
// Supported input: well-formed XML in UTF-8, US-ASCII or ISO-8859-1 with
// one document element and nothing but white space, comments and
// processing instructions around it. An internal DTD subset may declare
// internal entities without markup (expanded within a small budget; the
// signed document has them expanded, since verifiers such as xmlsec1 do
// not substitute entities before canonicalizing), elements, notations and
// CDATA attributes without defaults. External entities are never fetched:
// a document that declares one is refused, as are parameter entities and
// attribute defaults. Anything else is a signagent.CodeNotXML document
// error.
package xades

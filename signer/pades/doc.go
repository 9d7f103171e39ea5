// Package pades signs PDF documents with PAdES baseline signatures (B-B, or
// B-T with a timestamp authority) written as an incremental update, and
// verifies the signatures of a PDF.
//
// Signing streams: the input is copied to the output unchanged (it stays a
// byte-identical prefix, so earlier signatures remain valid), a small update
// is appended (signature dictionary, signature field and widget, updated
// page, catalog or AcroForm, and a cross-reference section of the same
// flavour as the file's: a classic table or a stream), then the two signed
// byte ranges are hashed by reading the output back, signed with package
// cms, and the signature is written into the reserved /Contents hole.
// Memory use does not depend on the document size.
//
// Only what the update needs is parsed, with a small reader of raw PDF
// objects that keeps each value's original bytes: dictionaries we extend are
// copied entry by entry, untouched entries byte for byte.
//
// Bytes that qpdf and poppler skip are accepted and signed with the rest:
// junk before the %PDF- header (offsets in the file then count from the
// header, and so do the update's; the /ByteRange counts from the file's
// first byte and covers it all), and garbage or repeated %%EOF markers
// after the end.
//
// Documents that cannot be signed safely (encrypted, not a PDF, damaged or
// truncated, objects after the last startxref, a page tree without a page,
// a /Size beyond the 8,388,607 objects readers accept, empty, too large)
// are refused with a *signagent.Error of kind KindDocument and never
// produce output.
package pades

// Package wire holds what the Sign'Stash client and its emulator share: the
// JSON field names of the REST contract, the path templates of the
// operations, and a small streaming JSON lexer that lets a string value (a
// document's base64 content) be read as a stream instead of a Go string.
//
// Both sides stream documents: a request or response may carry hundreds of
// megabytes of base64, so neither side ever holds a whole document or batch
// in memory.
package wire

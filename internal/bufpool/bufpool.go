// Package bufpool holds the 256 KiB buffers files are read, hashed and
// copied through: one pool for the signer, the Sign'Stash client and the
// agent, so that a buffer one of them gives back serves the next.
package bufpool

import "sync"

// Size is the length of every buffer: large enough that a typical
// document is read in one or two calls.
const Size = 256 << 10

var pool = sync.Pool{New: func() any { b := make([]byte, Size); return &b }}

// Get returns a buffer of Size bytes; give it back with Put.
func Get() *[]byte { return pool.Get().(*[]byte) }

// Put gives back a buffer Get returned.
func Put(b *[]byte) { pool.Put(b) }

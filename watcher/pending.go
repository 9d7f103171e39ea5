package watcher

// entry is a file seen at least once and waiting for a look that finds it
// unchanged. mtime is in Unix nanoseconds; seen and emptySince are
// nanoseconds since the loop started, by the watcher's clock, taken just
// after the look.
type entry struct {
	rel        string // slash-separated, relative to the inbox
	marker     string // rel of the done marker, "" when not in marker mode
	size       int64
	mtime      int64
	seen       int64  // when the last look ended
	emptySince int64  // when the file was first seen empty in its current run of empty looks
	found      uint64 // generation of the full scan that found it; 0 when an event did
	evented    bool   // an event named it while it waited
	// closed numbers the last close after writing (IN_CLOSE_WRITE) seen
	// while the file had the size and mtime above; 0: none since it
	// changed, or its short look found it still open for writing.
	closed uint64
}

// pending is the set of files waiting for their next look, in the order
// their looks fall due: every look pushes the entry to the back with a later
// seen time, so the front is always the next one due. Only the run
// goroutine touches it.
type pending struct {
	byRel map[string]*entry
	queue []*entry
	head  int
	// closes holds the files a writer closed, in the order their short
	// look (closeQuiet after the close) falls due.
	closes []closeLook
}

// closeLook is a short look due closeQuiet after at (loop time), for the
// close numbered closed; it is stale when its entry is no longer current or
// saw another close, or a change, since.
type closeLook struct {
	e      *entry
	closed uint64
	at     int64
}

func newPending() *pending {
	return &pending{byRel: make(map[string]*entry)}
}

func (p *pending) len() int { return len(p.byRel) }

func (p *pending) has(rel string) bool {
	_, ok := p.byRel[rel]
	return ok
}

// get returns the pending entry for rel, or nil.
func (p *pending) get(rel string) *entry { return p.byRel[rel] }

// current reports whether e is still the pending entry of its path (an
// entry replaced by a newer observation stays in the queue until popped).
func (p *pending) current(e *entry) bool { return p.byRel[e.rel] == e }

// push adds e at the back. e must not be in the set already, or must have
// just been popped.
func (p *pending) push(e *entry) {
	p.byRel[e.rel] = e
	p.queue = append(p.queue, e)
}

// front returns the entry due next, or nil.
func (p *pending) front() *entry {
	if p.head == len(p.queue) {
		return nil
	}
	return p.queue[p.head]
}

// pop removes the front entry from the queue; the caller either pushes it
// back or forgets it with drop.
func (p *pending) pop() *entry {
	e := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	} else if p.head >= 1024 && p.head*2 >= len(p.queue) {
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue, p.head = p.queue[:n], 0
	}
	return e
}

// drop forgets a popped entry.
func (p *pending) drop(e *entry) { delete(p.byRel, e.rel) }

// pushClose queues the short look for e's latest close, seen at loop time at.
func (p *pending) pushClose(e *entry, at int64) {
	p.closes = append(p.closes, closeLook{e, e.closed, at})
}

// frontClose returns the short look due next, or false.
func (p *pending) frontClose() (closeLook, bool) {
	if len(p.closes) == 0 {
		return closeLook{}, false
	}
	return p.closes[0], true
}

// popClose removes the front short look.
func (p *pending) popClose() {
	p.closes[0] = closeLook{}
	p.closes = p.closes[1:]
	if len(p.closes) == 0 {
		p.closes = nil
	}
}

// live reports whether c still stands: its entry is current and was not
// closed again, or changed, since.
func (p *pending) live(c closeLook) bool { return p.current(c.e) && c.e.closed == c.closed }

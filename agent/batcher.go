package agent

import "time"

// batcher groups documents; it is pure logic (time is passed in) so the
// triggers are tested without a clock. Only the folder loop uses it.
type batcher struct {
	maxFiles int
	maxBytes int64
	maxWait  time.Duration

	docs  []*item
	bytes int64
	first time.Time // arrival of the first pending document
}

// add appends a document and returns a full batch when a count or size
// limit is reached.
func (b *batcher) add(it *item, now time.Time) []*item {
	if len(b.docs) == 0 {
		b.first = now
	}
	b.docs = append(b.docs, it)
	b.bytes += it.doc.Size
	if len(b.docs) >= b.maxFiles || b.bytes >= b.maxBytes {
		return b.take()
	}
	return nil
}

// deadline is when the pending documents must go, zero when none wait.
func (b *batcher) deadline() time.Time {
	if len(b.docs) == 0 {
		return time.Time{}
	}
	return b.first.Add(b.maxWait)
}

// due returns the pending batch if its deadline has passed.
func (b *batcher) due(now time.Time) []*item {
	if len(b.docs) == 0 || now.Before(b.deadline()) {
		return nil
	}
	return b.take()
}

func (b *batcher) take() []*item {
	out := b.docs
	b.docs, b.bytes, b.first = nil, 0, time.Time{}
	return out
}

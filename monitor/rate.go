package monitor

import (
	"sync"
	"time"
)

// rateWindow is the span over which PerMinute averages publications.
const (
	rateWindow = 5 * time.Minute
	rateBucket = 10 * time.Second
	rateSlots  = int(rateWindow / rateBucket)
)

// rates counts publications per folder in 10-second buckets over the last
// five minutes.
type rates struct {
	mu      sync.Mutex
	started time.Time
	folders map[string]*ring
}

type ring struct {
	slot  [rateSlots]int64 // bucket number (time / rateBucket) of each count
	count [rateSlots]int
}

func (r *rates) add(folder string, now time.Time) {
	b := now.UnixNano() / int64(rateBucket)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.folders == nil {
		r.folders = map[string]*ring{}
	}
	g := r.folders[folder]
	if g == nil {
		g = &ring{}
		r.folders[folder] = g
	}
	i := int(b % int64(rateSlots))
	if g.slot[i] != b {
		g.slot[i], g.count[i] = b, 0
	}
	g.count[i]++
}

// perMinute is the folder's publications per minute over the window, or
// over the time since started when that is shorter.
func (r *rates) perMinute(folder string, now time.Time) float64 {
	b := now.UnixNano() / int64(rateBucket)
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.folders[folder]
	if g == nil {
		return 0
	}
	n := 0
	for i := range g.slot {
		if b-g.slot[i] < int64(rateSlots) {
			n += g.count[i]
		}
	}
	span := rateWindow
	if d := now.Sub(r.started); d < span {
		span = max(d, rateBucket)
	}
	return float64(n) / span.Minutes()
}

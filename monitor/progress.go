package monitor

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/signagent/signagent"
)

// DefaultProgressInterval is how often Progress reports a backlog.
const DefaultProgressInterval = 10 * time.Second

// Progress logs one line per folder with a backlog, every Interval: the
// documents waiting (in the ledger, not yet published or failed, plus the
// files in the inbox not yet claimed), the publication rate and the time
// left at that rate. A folder whose backlog clears gets one line saying so;
// an idle folder gets none. The per-document lines stay as they are: they
// are the audit trail of each document, this is the summary an operator
// watches during a burst.
type Progress struct {
	// Status and Live are read at every interval; Live is optional.
	Status StatusFunc
	Live   func(ctx context.Context) ([]FolderLive, error)
	// Rate is a folder's publications per minute (Metrics.PerMinute).
	Rate     func(folder string) float64
	Logger   *slog.Logger
	Interval time.Duration

	// last is the backlog reported per folder, only accessed from Run.
	last map[string]int
}

// Run reports until ctx is done.
func (p *Progress) Run(ctx context.Context) {
	iv := p.Interval
	if iv <= 0 {
		iv = DefaultProgressInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.step(ctx)
		}
	}
}

// waitingStates are the states of a document the agent still works on.
var waitingStates = []signagent.State{signagent.StateSeen, signagent.StateClaimed, signagent.StateBatched,
	signagent.StateSubmitted, signagent.StateSigned}

func (p *Progress) step(ctx context.Context) {
	if p.last == nil {
		p.last = map[string]int{}
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := p.Status(ctx)
	if err != nil {
		return // /healthz and the status page say why
	}
	inbox := map[string]int{}
	if p.Live != nil {
		if ls, err := p.Live(ctx); err == nil {
			for _, l := range ls {
				inbox[l.Name] = l.Inbox
			}
		}
	}
	for _, f := range st.Folders {
		ledger := 0
		for _, s := range waitingStates {
			ledger += f.Counts[s]
		}
		waiting := ledger + inbox[f.Name]
		prev := p.last[f.Name]
		p.last[f.Name] = waiting
		if waiting == 0 {
			if prev > 0 {
				log.Info("backlog cleared", "folder", f.Name)
			}
			continue
		}
		rate := 0.0
		if p.Rate != nil {
			rate = p.Rate(f.Name)
		}
		attrs := []any{"folder", f.Name, "waiting", waiting, "in_inbox", inbox[f.Name], "in_progress", ledger,
			"per_minute", math.Round(rate*10) / 10}
		switch {
		case f.Held != "":
			attrs = append(attrs, "eta", "held")
		case rate > 0:
			attrs = append(attrs, "eta", (time.Duration(float64(waiting) / rate * float64(time.Minute))).Round(time.Second).String())
		default:
			attrs = append(attrs, "eta", "unknown")
		}
		log.Info("backlog", attrs...)
	}
}

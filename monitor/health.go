package monitor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/signagent/signagent"
)

// Problem is one reason the agent is not healthy.
type Problem struct {
	// Folder is the folder concerned, empty for the whole agent.
	Folder string `json:"folder,omitempty"`
	// Reason says what is wrong and, where known, why.
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	if p.Folder == "" {
		return p.Reason
	}
	return fmt.Sprintf("folder %q: %s", p.Folder, p.Reason)
}

// UnhealthyError lists every problem found, in folder order.
type UnhealthyError struct {
	Problems []Problem
}

// Error returns one line per problem.
func (e *UnhealthyError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Healthy reports whether the queue report describes a healthy agent. It
// returns nil, or an *UnhealthyError listing every held folder (with the
// hold's reason), every folder whose watcher is down and every batch whose
// outcome stayed unknown and waits for an operator's decision. A nil report is
// unhealthy. /healthz and `signagent status` share this rule.
func Healthy(st *signagent.Status) error {
	if st == nil {
		return &UnhealthyError{Problems: []Problem{{Reason: "no status report available"}}}
	}
	var ps []Problem
	for _, f := range st.Folders {
		if f.Held != "" {
			ps = append(ps, Problem{Folder: f.Name, Reason: "held: " + f.Held})
		}
		if f.WatchError != "" {
			ps = append(ps, Problem{Folder: f.Name, Reason: "watcher down (periodic scans continue): " + f.WatchError})
		}
		for _, ub := range f.OutcomeUnknown {
			if ub.Decision == "" {
				ps = append(ps, Problem{Folder: f.Name, Reason: fmt.Sprintf("batch %d (%s): outcome unknown since %s, waits for an operator's decision (signagent resolve)",
					ub.ID, ub.Ref, ub.Since.UTC().Format(time.RFC3339))})
			}
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &UnhealthyError{Problems: ps}
}

// EncodeStatus writes st as the stable JSON of GET /status and
// `signagent status --json`: indented by two spaces, one trailing newline.
func EncodeStatus(w io.Writer, st *signagent.Status) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

package signagent

import (
	"encoding/json"
	"math"
	"time"
)

// Status is the queue report of `signagent status --json`, GET /status and
// the gauges of /metrics. Its JSON form is stable; durations in it are
// seconds (keys ending in _seconds).
type Status struct {
	Time time.Time `json:"time"`
	// Agent says which agent made the report: the running one (GET /status
	// and `signagent status` beside it), or none (the ledger's record
	// only). Nil in the ledger's own report.
	Agent       *AgentState    `json:"agent,omitempty"`
	LedgerBytes int64          `json:"ledger_bytes"`
	Folders     []FolderStatus `json:"folders"`
}

// AgentState describes the agent behind a report.
type AgentState struct {
	// Running is false when no agent answered: the report is the ledger's,
	// and its holds are only as last recorded (FolderStatus.LastHold).
	Running bool          `json:"running"`
	PID     int           `json:"pid,omitempty"`
	Version string        `json:"version,omitempty"`
	Started time.Time     `json:"started,omitzero"`
	Uptime  time.Duration `json:"-"` // uptime_seconds
	// LastActivity is the ledger's last write, when no agent runs.
	LastActivity time.Time `json:"last_activity,omitzero"`
	// Problem says why an agent that holds the data directory did not
	// answer, when one does.
	Problem string `json:"problem,omitempty"`
}

// FolderStatus is one watched folder's queue.
type FolderStatus struct {
	Name   string        `json:"name"`
	Counts map[State]int `json:"counts"`
	// Oldest is the oldest document not yet in a terminal state.
	Oldest *Waiting `json:"oldest,omitempty"`
	// Held is the reason the folder's queue is held, empty when it flows.
	Held string `json:"held,omitempty"`
	// InFlight lists operations submitted and not yet finished.
	InFlight []Operation `json:"in_flight,omitempty"`
	// Failures are the most recent failures, newest first (at most 10).
	Failures []Failure `json:"failures,omitempty"`
	// Watching is false when the folder's watcher is down (scans go on).
	WatchError string `json:"watch_error,omitempty"`
	// Ignored lists inbox entries the agent leaves alone and never reads
	// (not regular files it could not move aside), with the reason.
	Ignored []string `json:"ignored,omitempty"`
	// FileSystem is the inbox's file system ("local", "smb", "nfs",
	// "fuse", …); empty when unknown.
	FileSystem string `json:"file_system,omitempty"`
	// Network is set when the inbox is on a network share or user-space
	// file system: file events are unreliable there, and new files are
	// found by scanning every ScanInterval.
	Network bool `json:"network,omitempty"`
	// ScanInterval is the time between scans of the inbox.
	ScanInterval time.Duration `json:"-"` // scan_interval_seconds
	// Unreported counts files a scan found that no file event had
	// reported (running agent only): when it grows, events are not
	// arriving for this folder.
	Unreported int64 `json:"unreported_by_events,omitempty"`
	// Retrying lists documents waiting to be tried again after transient
	// failures, next attempt first (at most 10).
	Retrying []Retry `json:"retrying,omitempty"`
	// OutcomeUnknown lists batches that may or may not have been taken,
	// which look-ups could not settle: they wait for an operator's
	// decision (`signagent resolve BATCH --resend|--fail`).
	OutcomeUnknown []UnknownBatch `json:"outcome_unknown,omitempty"`
	// HeldSince is when the current hold began and NextRecheck when the
	// held folder tries again by itself (running agent only; zero when
	// unknown).
	HeldSince   time.Time `json:"held_since,omitzero"`
	NextRecheck time.Time `json:"next_recheck,omitzero"`
	// LastHold is the hold the ledger last recorded, in a report made
	// while no agent runs (Held is empty then): whether it still holds is
	// known only once an agent runs again.
	LastHold string `json:"last_recorded_hold,omitempty"`
	// Inbox describes the files waiting in the inbox to be claimed
	// (running agent only).
	Inbox *InboxWaiting `json:"inbox,omitempty"`
}

// InboxWaiting is what waits in an inbox, not yet claimed.
type InboxWaiting struct {
	Files int `json:"files"`
	// AtLeast is set when the inbox was too large to count fully: Files
	// is a lower bound.
	AtLeast bool `json:"at_least,omitempty"`
	// Oldest is the oldest file's path under the inbox, OldestSince its
	// modification time.
	Oldest      string    `json:"oldest,omitempty"`
	OldestSince time.Time `json:"oldest_since,omitzero"`
}

// UnknownBatch is a batch waiting for an operator's decision.
type UnknownBatch struct {
	ID       int64     `json:"id"`
	Folder   string    `json:"folder"`
	Ref      string    `json:"batch"`
	Docs     int       `json:"docs"`
	Since    time.Time `json:"since"`
	Decision string    `json:"decision,omitempty"` // resend | fail, until the agent carries it out
}

// Retry is a document waiting for its next attempt after transient
// failures.
type Retry struct {
	File        string    `json:"file"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
}

// Waiting describes a document that waits.
type Waiting struct {
	File  string        `json:"file"`
	State State         `json:"state"`
	Since time.Time     `json:"since"`
	Age   time.Duration `json:"-"` // age_seconds
}

// Operation is a batch in flight at a backend.
type Operation struct {
	Batch     string    `json:"batch"`
	Backend   string    `json:"backend"`
	ID        string    `json:"operation,omitempty"`
	Docs      int       `json:"docs"`
	Submitted time.Time `json:"submitted"`
}

// Failure is one failed document.
type Failure struct {
	File     string    `json:"file"`
	Code     Code      `json:"code"`
	Message  string    `json:"message"`
	FailedAt time.Time `json:"failed_at"`
}

// Observer receives pipeline events for metrics. Implementations must be
// safe for concurrent use and must not block.
type Observer interface {
	// Transition counts a document entering state to in folder.
	Transition(folder string, to State)
	// Batch records a submitted batch's size.
	Batch(folder string, docs int, bytes int64)
	// Stage records the latency of a pipeline stage: "submit", "poll",
	// "publish" or "settle_to_publish".
	Stage(folder, stage string, d time.Duration)
	// Retry counts a retried attempt after a transient error.
	Retry(folder string)
}

// NopObserver discards every event.
type NopObserver struct{}

func (NopObserver) Transition(string, State)            {}
func (NopObserver) Batch(string, int, int64)            {}
func (NopObserver) Stage(string, string, time.Duration) {}
func (NopObserver) Retry(string)                        {}

// seconds is d in seconds, to the millisecond, for the JSON forms.
func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func fromSeconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// MarshalJSON writes ScanInterval as scan_interval_seconds.
func (f FolderStatus) MarshalJSON() ([]byte, error) {
	type plain FolderStatus
	return json.Marshal(struct {
		plain
		ScanInterval float64 `json:"scan_interval_seconds,omitempty"`
	}{plain(f), seconds(f.ScanInterval)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *FolderStatus) UnmarshalJSON(b []byte) error {
	type plain FolderStatus
	v := struct {
		*plain
		ScanInterval float64 `json:"scan_interval_seconds"`
	}{plain: (*plain)(f)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	f.ScanInterval = fromSeconds(v.ScanInterval)
	return nil
}

// MarshalJSON writes Age as age_seconds.
func (w Waiting) MarshalJSON() ([]byte, error) {
	type plain Waiting
	return json.Marshal(struct {
		plain
		Age float64 `json:"age_seconds"`
	}{plain(w), seconds(w.Age)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *Waiting) UnmarshalJSON(b []byte) error {
	type plain Waiting
	v := struct {
		*plain
		Age float64 `json:"age_seconds"`
	}{plain: (*plain)(w)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	w.Age = fromSeconds(v.Age)
	return nil
}

// MarshalJSON writes Uptime as uptime_seconds.
func (a AgentState) MarshalJSON() ([]byte, error) {
	type plain AgentState
	return json.Marshal(struct {
		plain
		Uptime float64 `json:"uptime_seconds,omitempty"`
	}{plain(a), seconds(a.Uptime)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *AgentState) UnmarshalJSON(b []byte) error {
	type plain AgentState
	v := struct {
		*plain
		Uptime float64 `json:"uptime_seconds"`
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.Uptime = fromSeconds(v.Uptime)
	return nil
}

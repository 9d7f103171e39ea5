package signagent

import "time"

// Status is the queue report of `signagent status --json`, GET /status and
// the gauges of /metrics. Its JSON form is stable.
type Status struct {
	Time        time.Time      `json:"time"`
	LedgerBytes int64          `json:"ledger_bytes"`
	Folders     []FolderStatus `json:"folders"`
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
	ScanInterval time.Duration `json:"scan_interval_ns,omitempty"`
	// Unreported counts files a scan found that no file event had
	// reported (running agent only): when it grows, events are not
	// arriving for this folder.
	Unreported int64 `json:"unreported_by_events,omitempty"`
	// Retrying lists documents waiting to be tried again after transient
	// failures, next attempt first (at most 10).
	Retrying []Retry `json:"retrying,omitempty"`
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
	Age   time.Duration `json:"age_ns"`
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

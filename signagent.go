// Package signagent holds the vocabulary shared by every part of the agent:
// document states, error kinds and stable error codes.
//
// The pipeline (package agent) moves each document through the states below;
// the ledger stores them as the stable text of State. Errors carry a Kind, which
// decides what the agent does, and a Code, which users and scripts read in the
// error file. Both are decided in one place: KindOf and CodeOf.
package signagent

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"syscall"
	"time"
)

// State is a document's place in the pipeline, stored as stable text.
type State string

// Document states, in pipeline order. Failed and Published are terminal.
const (
	StateSeen      State = "seen"
	StateClaimed   State = "claimed"
	StateBatched   State = "batched"
	StateSubmitted State = "submitted"
	StateSigned    State = "signed"
	StatePublished State = "published"
	StateFailed    State = "failed"
)

// Terminal reports whether no further transition follows s.
func (s State) Terminal() bool { return s == StatePublished || s == StateFailed }

// Kind is the class of an error; it decides what the agent does with it.
type Kind int

// Error kinds. See docs/ARCHITECTURE.md §3.
const (
	// KindTransient: retry with backoff (network, 5xx, 429, timeout, token
	// expiry). The zero value, so unknown errors are retried, never bounced.
	KindTransient Kind = iota
	// KindDocument: this document is bad or was rejected; it goes to error/ now.
	KindDocument
	// KindConfig: configuration or account problem (credentials, licence,
	// certificate); the folder is held and documents wait.
	KindConfig
	// KindLocal: local fault (disk full, permission denied); hold and report,
	// never lose the original.
	KindLocal
)

func (k Kind) String() string {
	switch k {
	case KindDocument:
		return "document"
	case KindConfig:
		return "configuration"
	case KindLocal:
		return "local"
	default:
		return "transient"
	}
}

// Code is a stable, documented error code written to error files.
type Code string

// Stable error codes. Never rename one; add new ones at the end.
const (
	CodeNotAPDF        Code = "NOT_A_PDF"
	CodeEncryptedPDF   Code = "ENCRYPTED_PDF"
	CodeCorruptPDF     Code = "CORRUPT_PDF"
	CodeEmptyFile      Code = "EMPTY_FILE"
	CodeTooLarge       Code = "TOO_LARGE"
	CodeAlreadySigned  Code = "ALREADY_SIGNED"
	CodeDuplicate      Code = "DUPLICATE"
	CodeRemoteRejected Code = "REMOTE_REJECTED"
	CodeSigningError   Code = "SIGNING_ERROR"
	CodeGaveUp         Code = "GAVE_UP"
	CodeNotXML         Code = "NOT_XML"
	CodeUnreadable     Code = "UNREADABLE"
	CodeCollision      Code = "OUTPUT_EXISTS"
	CodeUnsupported    Code = "UNSUPPORTED_TYPE"
	CodeTransient      Code = "TRANSIENT"
	CodeConfig         Code = "CONFIGURATION"
	CodeLocal          Code = "LOCAL_FAULT"
	// CodeNotRegular: a symbolic link, FIFO, socket or device in the inbox.
	// The entry itself (never what it points to) goes to error/.
	CodeNotRegular Code = "NOT_A_REGULAR_FILE"
	// CodeChanged: the document kept changing after it was claimed, so what
	// would be signed is not what was recorded.
	CodeChanged Code = "CHANGED_AFTER_CLAIM"
	// CodeReservedName: on Windows, a name the system cannot address by its
	// plain path (CON.pdf, nul.xml, COM1.pdf; a trailing dot or space). It
	// is moved to error/ under a name it can address, never opened.
	CodeReservedName Code = "RESERVED_NAME"
	// CodeOutcomeUnknown: an operator decided to fail a batch whose send
	// may or may not have been taken (`signagent resolve --fail`).
	CodeOutcomeUnknown Code = "OUTCOME_UNKNOWN"
)

// Error is an error with a kind, a stable code, a message for people and an
// optional hint saying what to do next. Backends and the signer return it; the
// agent acts on Kind and writes Code, Message and Hint to error files.
type Error struct {
	Kind    Kind
	Code    Code
	Message string
	Hint    string
	// RetryAfter, when set on a transient error, is the server's requested wait.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// DocError is a shorthand for a document error with a code and message.
func DocError(code Code, msg, hint string) *Error {
	return &Error{Kind: KindDocument, Code: code, Message: msg, Hint: hint}
}

// KindOf classifies err. This is the one place where errors become actions.
func KindOf(err error) Kind {
	if err == nil {
		return KindTransient
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT),
		errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return KindLocal
	case errors.Is(err, context.DeadlineExceeded):
		return KindTransient
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return KindTransient
	}
	return KindTransient
}

// CodeOf returns err's stable code, deriving one from its kind when err
// carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	switch KindOf(err) {
	case KindDocument:
		return CodeSigningError
	case KindConfig:
		return CodeConfig
	case KindLocal:
		return CodeLocal
	default:
		return CodeTransient
	}
}

// HintOf returns err's hint, if any.
func HintOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

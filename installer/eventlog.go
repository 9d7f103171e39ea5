package installer

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Event identifiers written to the Event Log, by severity.
const (
	EventInfo    = 1
	EventWarning = 2
	EventError   = 3
)

// eventSink is the Event Log as the handler uses it.
type eventSink interface {
	Info(eid uint32, msg string) error
	Warning(eid uint32, msg string) error
	Error(eid uint32, msg string) error
	Close() error
}

// EventLogHandler is a slog.Handler that writes records at or above its
// level to the Windows Event Log, under the service's event source (which
// Install registers). Each event is the message followed by the record's
// attributes as key=value pairs. Outside Windows it is enabled for nothing.
// It is safe for concurrent use.
type EventLogHandler struct {
	sink  eventSink
	level slog.Leveler
	f     *eventFormatter
}

// eventFormatter renders attributes with a text handler into a buffer it
// shares with the handlers derived from it (WithAttrs, WithGroup).
type eventFormatter struct {
	mu  *sync.Mutex // guards buf
	buf *bytes.Buffer
	h   slog.Handler
}

// NewEventLogHandler opens the Event Log for source and returns a handler
// for records at level and above (slog.LevelWarn when level is nil). Close
// it when done.
func NewEventLogHandler(source string, level slog.Leveler) (*EventLogHandler, error) {
	sink, err := openEventLog(source)
	if err != nil {
		return nil, err
	}
	return newEventLogHandler(sink, level), nil
}

func newEventLogHandler(sink eventSink, level slog.Leveler) *EventLogHandler {
	if level == nil {
		level = slog.LevelWarn
	}
	buf := new(bytes.Buffer)
	text := slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{} // the Event Log has its own time and type
			}
			return a
		},
	})
	return &EventLogHandler{sink: sink, level: level, f: &eventFormatter{mu: new(sync.Mutex), buf: buf, h: text}}
}

// Enabled reports whether level reaches the Event Log.
func (h *EventLogHandler) Enabled(_ context.Context, level slog.Level) bool {
	return h.sink != nil && level >= h.level.Level()
}

// Handle writes r as one event.
func (h *EventLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.sink == nil {
		return nil
	}
	h.f.mu.Lock()
	h.f.buf.Reset()
	err := h.f.h.Handle(ctx, r)
	attrs := strings.TrimSpace(h.f.buf.String())
	h.f.mu.Unlock()
	if err != nil {
		return err
	}
	msg := r.Message
	if attrs != "" {
		msg += " " + attrs
	}
	switch {
	case r.Level >= slog.LevelError:
		return h.sink.Error(EventError, msg)
	case r.Level >= slog.LevelWarn:
		return h.sink.Warning(EventWarning, msg)
	default:
		return h.sink.Info(EventInfo, msg)
	}
}

// WithAttrs returns a handler adding attrs to every event.
func (h *EventLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &EventLogHandler{sink: h.sink, level: h.level,
		f: &eventFormatter{mu: h.f.mu, buf: h.f.buf, h: h.f.h.WithAttrs(attrs)}}
}

// WithGroup returns a handler qualifying later attributes with name.
func (h *EventLogHandler) WithGroup(name string) slog.Handler {
	return &EventLogHandler{sink: h.sink, level: h.level,
		f: &eventFormatter{mu: h.f.mu, buf: h.f.buf, h: h.f.h.WithGroup(name)}}
}

// Close closes the Event Log. Handlers derived from h share it.
func (h *EventLogHandler) Close() error {
	if h.sink == nil {
		return nil
	}
	return h.sink.Close()
}

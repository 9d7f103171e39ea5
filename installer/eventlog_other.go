//go:build !windows

package installer

// openEventLog has no Event Log to open: the handler stays disabled.
func openEventLog(string) (eventSink, error) { return nil, nil }

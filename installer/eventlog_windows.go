//go:build windows

package installer

import (
	"fmt"

	"golang.org/x/sys/windows/svc/eventlog"
)

func openEventLog(source string) (eventSink, error) {
	l, err := eventlog.Open(source)
	if err != nil {
		return nil, fmt.Errorf("open event log source %s: %w", source, err)
	}
	return l, nil
}

package installer

import (
	"io"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Log file rotation limits.
const (
	LogMaxMB      = 10 // rotate when the file reaches this size
	LogMaxBackups = 5  // rotated files kept
	LogMaxAgeDays = 90 // rotated files older than this are removed
)

// LogFile returns a writer appending to dataDir/logs/<name>.log (name
// defaults to DefaultName), rotated by size. The Windows service, whose
// standard streams go nowhere, logs there; the file is created on first
// write. Close it when done.
func LogFile(dataDir, name string) io.WriteCloser {
	if name == "" {
		name = DefaultName
	}
	return &lumberjack.Logger{
		Filename:   filepath.Join(dataDir, "logs", name+".log"),
		MaxSize:    LogMaxMB,
		MaxBackups: LogMaxBackups,
		MaxAge:     LogMaxAgeDays,
		LocalTime:  true,
	}
}

package datadir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// The lock file is only ever locked, never written: on Windows a locked byte
// range cannot be read by others, so the holder is named in a sibling file.
const (
	lockName   = "signagent.lock"
	holderName = "signagent.pid"
)

// CommandRun is the command that holds the lock for as long as the agent
// runs. Acquire waits briefly for any other (short) command.
const CommandRun = "run"

// LockedError says that another process holds the data directory.
type LockedError struct {
	Dir     string
	PID     int    // 0 when the holder has not named itself (yet)
	Command string // the holder's command, "" when unknown
}

func (e *LockedError) Error() string {
	pid := "pid unknown"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	if e.Command != "" && e.Command != CommandRun {
		pid += ", " + e.Command
	}
	return fmt.Sprintf("another signagent (%s) is using %s", pid, e.Dir)
}

// Lock is an exclusive hold on a data directory. The operating system
// releases it when the process ends, however it ends; Release releases it
// earlier.
type Lock struct {
	fl     *flock.Flock
	holder string
}

// Acquire takes the exclusive lock of dir (created if needed) for command
// and writes this process's id and command beside it. It does not wait for
// an agent (CommandRun): it returns a *LockedError naming the holder at
// once. A shorter command holding the lock is waited for up to patience.
func Acquire(ctx context.Context, dir, command string, patience time.Duration) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Readable by all: locking needs only a read-only open, so a lock file
	// left by another account (an administrator's retry) never keeps the
	// service account out. The data directory itself stays private.
	fl := flock.New(filepath.Join(dir, lockName), flock.SetPermissions(0o644))
	deadline := time.Now().Add(patience)
	for {
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		if ok {
			break
		}
		// A holder without a name has just released the lock (its name
		// goes first) or could not write one: it is waited for as a
		// short command is. An agent is not.
		held := holder(dir)
		if held.Command == CommandRun || !time.Now().Before(deadline) {
			return nil, held
		}
		select {
		case <-ctx.Done():
			return nil, held
		case <-time.After(100 * time.Millisecond):
		}
	}
	// The name is a courtesy to whoever finds the lock taken: failing to
	// write it does not give the lock up. Removing first replaces a name
	// left, unwritable, by another account.
	l := &Lock{fl: fl, holder: filepath.Join(dir, holderName)}
	os.Remove(l.holder)
	os.WriteFile(l.holder, fmt.Appendf(nil, "%d %s\n", os.Getpid(), command), 0o644)
	return l, nil
}

// Release removes the holder's name, then the lock. Safe to call twice.
func (l *Lock) Release() error {
	if l == nil || !l.fl.Locked() {
		return nil
	}
	os.Remove(l.holder) // before unlocking: never remove the next holder's name
	return l.fl.Unlock()
}

// holder reads who holds dir's lock. The holder writes its name right after
// locking, so an empty or missing file is read again for a moment.
func holder(dir string) *LockedError {
	e := &LockedError{Dir: dir}
	for range 5 {
		data, err := os.ReadFile(filepath.Join(dir, holderName))
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			f := strings.Fields(string(data))
			if len(f) == 2 {
				if pid, err := strconv.Atoi(f[0]); err == nil && pid > 0 {
					e.PID, e.Command = pid, f[1]
					return e
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e
}

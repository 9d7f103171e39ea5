//go:build !windows

package installer

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// execRun runs a command, folding its output into the error (systemctl,
// launchctl: the Unix service managers).
func execRun(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return nil
}

func isRoot() bool { return os.Geteuid() == 0 }

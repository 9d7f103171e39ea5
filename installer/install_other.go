//go:build !linux && !darwin && !windows

package installer

import (
	"fmt"
	"runtime"

	"github.com/signagent/signagent"
)

func prepare(opts Options) (platform, Options, error) {
	return nil, opts, signagent.ConfigError(fmt.Sprintf("installing as a service is not supported on %s", runtime.GOOS),
		"run `signagent run --config FILE` under your system's service manager", nil)
}

//go:build !linux && !darwin && !windows

package installer

import (
	"fmt"
	"runtime"
)

func prepare(opts Options) (platform, Options, error) {
	return nil, opts, configError(fmt.Sprintf("installing as a service is not supported on %s", runtime.GOOS),
		"run `signagent run --config FILE` under your system's service manager")
}

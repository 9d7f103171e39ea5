//go:build !unix && !windows

package main

import "errors"

// signalReload: there is no SIGHUP here; the service is restarted instead.
func signalReload(pid int) error {
	return errors.New("reload by signal is not available on this system")
}

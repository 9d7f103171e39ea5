//go:build unix

package main

import "syscall"

// signalReload sends the reload request (SIGHUP) to pid.
func signalReload(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }

//go:build unix && !linux

package main

import "syscall"

type posixACL struct{}

// readACL: ACLs are read on Linux only; elsewhere the mode decides.
func readACL(string) (posixACL, bool) { return posixACL{}, false }

func (posixACL) allows(*account, uint32, uint32, int) bool { return false }

func readOnlyMount(*syscall.Statfs_t) bool { return false }

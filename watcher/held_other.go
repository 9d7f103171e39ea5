//go:build !windows

package watcher

// heldByOther reports whether another process holds p open without sharing.
// Only Windows has such opens; elsewhere it is always false.
func heldByOther(p string) bool { return false }

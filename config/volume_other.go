//go:build !unix && !windows

package config

import "io/fs"

// volumeID is unknown here; the same-volume check is skipped.
func volumeID(string) (string, error) { return "", nil }

// secretTooOpen is false where mode bits do not protect files.
func secretTooOpen(fs.FileInfo) bool { return false }

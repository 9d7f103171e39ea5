//go:build windows

package config

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// volumeID identifies the volume holding path by its volume name ("C:",
// `\\server\share`): renames succeed only within one volume. A volume
// mounted in a folder of another is not told apart.
func volumeID(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return strings.ToLower(filepath.VolumeName(abs)), nil
}

// secretTooOpen is false: Windows protects files with ACLs, not mode bits.
func secretTooOpen(fs.FileInfo) bool { return false }

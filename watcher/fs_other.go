//go:build !linux && !windows && !darwin && !freebsd

package watcher

import "os"

// detectFS cannot tell here: the folder is taken as local.
func detectFS(path string) (FS, error) {
	if _, err := os.Stat(path); err != nil {
		return FS{}, err
	}
	return FS{Type: "", stableDirs: false}, nil
}

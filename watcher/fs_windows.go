//go:build windows

package watcher

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

func detectFS(path string) (FS, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return FS{}, err
	}
	if _, err := os.Stat(abs); err != nil {
		return FS{}, err
	}
	vol := filepath.VolumeName(abs)
	if strings.HasPrefix(vol, `\\`) || strings.HasPrefix(vol, `//`) {
		return remoteFS("smb"), nil // \\server\share
	}
	root, err := windows.UTF16PtrFromString(vol + `\`)
	if err != nil {
		return FS{}, err
	}
	if windows.GetDriveType(root) == windows.DRIVE_REMOTE {
		return remoteFS("smb"), nil // a mapped network drive
	}
	return localFS, nil
}

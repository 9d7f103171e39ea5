package winname

import (
	"path/filepath"
	"strings"
)

// Extended returns path in the extended-length form (\\?\C:\…,
// \\?\UNC\server\share\…), which Windows takes literally: no device names,
// no dropped dots or spaces. An absolute path is only cleaned, never passed
// through GetFullPathName, which would itself turn C:\in\COM1.pdf into the
// device \\.\COM1. A relative path is made absolute first; device paths
// (\\.\…) and paths already extended are returned as given.
func Extended(path string) string {
	if strings.HasPrefix(path, `\\?\`) || strings.HasPrefix(path, `\??\`) || strings.HasPrefix(path, `\\.\`) {
		return path
	}
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil || !filepath.IsAbs(abs) {
			return path
		}
		path = abs
	}
	path = filepath.Clean(path)
	if strings.HasPrefix(path, `\\`) {
		return `\\?\UNC\` + path[2:]
	}
	return `\\?\` + path
}

//go:build !linux && !windows

package agent

import "errors"

// renameNoReplace is not available here: placeNew falls back to a check and
// a rename.
func renameNoReplace(src, dst string) error { return errors.ErrUnsupported }

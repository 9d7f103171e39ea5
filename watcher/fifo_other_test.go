//go:build !unix

package watcher

import "errors"

func mkfifo(p string) error { return errors.ErrUnsupported }

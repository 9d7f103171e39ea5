//go:build !unix

package agent_test

import "errors"

func mkfifo(p string) error { return errors.ErrUnsupported }

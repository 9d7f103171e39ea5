//go:build !linux

package watcher

import "errors"

// closeWatch exists on Linux only; elsewhere files settle by Config.Settle.
type closeWatch struct{ names chan string }

const closeWrites = false

func newCloseWatch() (*closeWatch, error) { return nil, errors.ErrUnsupported }

func (c *closeWatch) add(string) error { return errors.ErrUnsupported }
func (c *closeWatch) remove(string)    {}
func (c *closeWatch) close()           {}

func openForWrite(string) (busy, known bool) { return false, false }

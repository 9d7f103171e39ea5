package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Permissions of what the agent writes: not world-readable (DESIGN §8).
const (
	filePerm = 0o640
	dirPerm  = 0o750
)

// hashFile returns the SHA-256 of path and the size it read.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	buf := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(buf)
	// CopyBuffer through a plain reader: *os.File's WriteTo would read in
	// 32 KiB pieces; a document is usually one read.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *buf)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

var hashBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// isUnsupported reports whether err is a file system's answer that it cannot
// do what was asked at all (EINVAL, ENOTSUP, ERROR_INVALID_FUNCTION…), as
// opposed to a failure: a directory flush or a chmod that a file system
// does not support is no reason to hold a folder. dir says the operation
// was on a directory handle, where Windows answers ERROR_ACCESS_DENIED.
func isUnsupported(err error, dir bool) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) || unsupportedErrno(err, dir)
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeFileAtomic writes data to a dot-prefixed temp file beside path,
// fsyncs it, renames it over path and fsyncs the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(filePerm); err != nil && !isUnsupported(err, false) {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := renameDurable(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// copyFileNew copies src to a new file dst (which must not exist) through a
// temp file, fsynced.
func copyFileNew(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".*.partial")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	tmp.Chmod(filePerm)
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return placeNew(tmp.Name(), dst)
}

// candidate returns the i-th name for name under the suffix policy:
// "a.pdf", "a (1).pdf", "a (2).pdf"…; for ".p7s" outputs the suffix goes
// before the original extension ("a (1).xml.p7s").
func candidate(name string, i int) string {
	if i == 0 {
		return name
	}
	base, ext := name, ""
	if strings.HasSuffix(strings.ToLower(base), ".p7s") {
		base, ext = base[:len(base)-4], base[len(base)-4:]
	}
	e := filepath.Ext(base)
	return fmt.Sprintf("%s (%d)%s%s", strings.TrimSuffix(base, e), i, e, ext)
}

// freePath returns the first candidate of name in dir that does not exist.
func freePath(dir, name string) string {
	for i := 0; ; i++ {
		p := filepath.Join(dir, candidate(name, i))
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// mkdirUnder creates sub (relative) under root and returns the joined path.
// root itself must exist: a missing outbox, error or archive folder is
// usually an unmounted share, and creating it would write to the local disk
// underneath the mount point.
func mkdirUnder(root, sub string) (string, error) {
	dir := filepath.Join(root, sub)
	fi, err := os.Stat(root)
	if err != nil {
		return dir, err
	}
	if !fi.IsDir() {
		return dir, fmt.Errorf("%s is not a folder", root)
	}
	return dir, os.MkdirAll(dir, dirPerm)
}

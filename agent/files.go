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
	"unicode/utf8"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/atomicfile"
	"github.com/signagent/signagent/internal/bufpool"
)

// Permissions of what the agent writes: not world-readable (docs/ARCHITECTURE.md §6).
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
	return hashReader(f)
}

// hashReader returns the SHA-256 of what r holds and how many bytes it read.
func hashReader(r io.Reader) (string, int64, error) {
	h := sha256.New()
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	// CopyBuffer through a plain reader: *os.File's WriteTo would read in
	// 32 KiB pieces; a document is usually one read.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, *buf)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
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
	return atomicfile.WriteFile(path, data, filePerm)
}

// copyFileNew copies the regular file src to a new file dst (which must not
// exist) through a temp file, fsynced. The copy must hash to want (hex
// SHA-256): otherwise nothing is placed and a CHANGED_AFTER_CLAIM document
// error is returned.
func copyFileNew(src, dst, want string, perm os.FileMode) error {
	in, _, err := openRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), in); err != nil {
		tmp.Close()
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		tmp.Close()
		return signagent.DocError(signagent.CodeChanged,
			"the document changed after its signature was made and checked; nothing was published",
			"make the producer write under a temporary name and rename the file into the inbox when complete; then `signagent retry` it")
	}
	tmp.Chmod(perm)
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return placeNew(tmp.Name(), dst)
}

// tempPattern names the agent's temp files: short, so that a temp file
// beside a document with a name of the longest length still fits.
const tempPattern = ".signagent-*.partial"

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

// maxName is the longest file name the agent writes, in bytes: NAME_MAX on
// Linux and most Unix file systems. Windows counts 255 UTF-16 units, which a
// name of at most 255 UTF-8 bytes never exceeds.
const maxName = 255

// fitName returns name when it and extra more bytes fit in maxName;
// otherwise the stem is cut (at a character boundary) and a short hash of
// the whole name added, so distinct long names stay distinct, and the
// extension is kept.
func fitName(name string, extra int) string {
	if len(name)+extra <= maxName {
		return name
	}
	ext := filepath.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	sum := sha256.Sum256([]byte(name))
	tag := "~" + hex.EncodeToString(sum[:4])
	keep := max(maxName-extra-len(ext)-len(tag), 1)
	for keep > 0 && keep < len(stem) && !utf8.RuneStart(stem[keep]) {
		keep--
	}
	return stem[:min(keep, len(stem))] + tag + ext
}

// fitCandidate is candidate(name, i), shortened by fitName when the suffix
// makes it too long.
func fitCandidate(name string, i int) string {
	c := candidate(name, i)
	if len(c) <= maxName {
		return c
	}
	return candidate(fitName(name, len(c)-len(name)), i)
}

// freePath returns the first candidate of name in dir that does not exist.
func freePath(dir, name string) string {
	for i := 0; ; i++ {
		p := filepath.Join(dir, fitCandidate(name, i))
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

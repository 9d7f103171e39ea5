package signstash

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/internal/wire"
)

// maxSigned bounds the signed version of a document of size bytes: the
// original, its signature and whatever a timestamp or validation data adds.
// An entry larger than that is not a signed version of the document.
func maxSigned(size int64) int64 { return 2*size + 16<<20 }

// fetchZip downloads the ZIP of operation id at endpoint and extracts, for
// every document of b the operation signed but returned no content for,
// its entry to a temporary file beside the document's Out (res.docs[ref].tmp).
//
// archive/zip needs random access, so the answer is spooled to a temporary
// file in TempDir first, never held in memory; it is removed on return.
// Entries are named <externalReference>.<name> (names[ref] is the name the
// request sent); names sent by the server are never used for placement.
func (c *Client) fetchZip(ctx context.Context, endpoint string, id int64, b *signing.Batch, names map[string]string, res *opResult, what string) error {
	type want struct {
		d signing.Doc
		o *outcome
	}
	wanted := map[string]want{}
	var limit int64 = 1 << 20
	for _, d := range b.Docs {
		if o := res.docs[d.Ref]; o != nil && o.status == wire.SignSigned && o.tmp == "" {
			wanted[d.Ref] = want{d, o}
			limit += maxSigned(d.Size) + 1<<10
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	op := strconv.FormatInt(id, 10)
	resp, err := c.do(ctx, http.MethodGet, c.endpointURL(endpoint, c.paths[wire.PathDocumentsZip], map[string]string{"operationId": op}), nil, what)
	if err != nil {
		return err
	}
	defer drain(resp)
	dir := c.cfg.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	spool, err := os.CreateTemp(dir, "signstash-*.zip")
	if err != nil {
		return localErr("cannot spool the signed documents of operation "+op, err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	n, err := copyThrough(spool, io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			return localErr("cannot spool the signed documents of operation "+op, err)
		}
		return signagent.TransientError(what+": the ZIP of Sign'Stash was cut", "", err)
	case n > limit:
		return signagent.TransientError(fmt.Sprintf("%s: the ZIP of Sign'Stash is larger than %d bytes, more than the signed documents can take", what, limit), "", nil)
	}
	zr, err := zip.NewReader(spool, n)
	if err != nil {
		return signagent.TransientError(what+": the answer of Sign'Stash is not a ZIP file", "", err)
	}
	// The entry names the request implies, for an exact match first.
	byEntry := make(map[string]string, len(wanted))
	for ref := range wanted {
		byEntry[ref+"."+names[ref]] = ref
	}
	for _, f := range zr.File {
		ref := zipEntryRef(f.Name, byEntry, wanted)
		w, ok := wanted[ref]
		if !ok || f.FileInfo().IsDir() {
			continue
		}
		delete(wanted, ref) // a second entry for a document is ignored
		tmp, err := extract(f, filepath.Dir(w.d.Out), maxSigned(w.d.Size))
		if err != nil {
			if signagent.KindOf(err) == signagent.KindLocal {
				return err
			}
			// Downloaded again at the next poll: signing again could sign
			// the document twice.
			return signagent.TransientError(fmt.Sprintf("%s: the ZIP entry of document %s is damaged", what, ref), "", err)
		}
		w.o.tmp = tmp
	}
	return nil
}

// zipEntryRef returns the reference of the document a ZIP entry holds:
// the entry is <externalReference>.<name>, possibly inside a folder. The
// exact name the request implies wins (byEntry: entry name → reference);
// otherwise the longest reference of refs the entry starts with, followed
// by a dot.
func zipEntryRef[T any](entry string, byEntry map[string]string, refs map[string]T) string {
	if i := strings.LastIndexAny(entry, `/\`); i >= 0 {
		entry = entry[i+1:]
	}
	if ref, ok := byEntry[entry]; ok {
		return ref
	}
	best := ""
	for ref := range refs {
		if len(ref) > len(best) && strings.HasPrefix(entry, ref+".") {
			best = ref
		}
	}
	return best
}

// extract writes entry f, checked against its CRC-32 and at most max bytes,
// to a new temporary file in dir.
func extract(f *zip.File, dir string, max int64) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	out, err := os.CreateTemp(dir, ".signstash-*.part")
	if err != nil {
		return "", localErr("cannot store a signed document", err)
	}
	n, err := copyThrough(out, io.LimitReader(rc, max+1))
	var pe *os.PathError
	switch {
	case errors.As(err, &pe):
		err = localErr("cannot store a signed document", err)
	case err == nil && n > max:
		err = fmt.Errorf("entry %s is larger than %d bytes", f.Name, max)
	}
	// Not flushed here: the agent flushes every signed file before it
	// publishes it.
	if cerr := out.Close(); err == nil && cerr != nil {
		err = localErr("cannot store a signed document", cerr)
	}
	if err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// localErr is a local error saying msg and then its cause err.
func localErr(msg string, err error) error {
	return signagent.LocalError(msg+": "+err.Error(), "", err)
}

// copyBufs holds the buffers copyThrough copies through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyThrough copies r to the file f through a pooled 256 KiB buffer: a
// signed document in one or two writes, where f's own ReadFrom would
// allocate 32 KiB for every copy and write that much at a time.
func copyThrough(f *os.File, r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{f}, r, *bp)
}

package signstash

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/bufpool"
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
// The ZIP is read as it arrives (streamZip), and its entries are taken
// only once its central directory has confirmed them. An archive laid out
// otherwise is downloaded again, spooled to a temporary file in TempDir
// (never held in memory; removed on return) and read with archive/zip.
// Entries are named <externalReference>.<name> (names[ref] is the name the
// request sent); names sent by the server are never used for placement.
func (c *Client) fetchZip(ctx context.Context, endpoint string, id int64, b *signing.Batch, names map[string]string, res *opResult, what string) error {
	z := zipFetch{c: c, endpoint: endpoint, op: strconv.FormatInt(id, 10), what: what, wanted: map[string]zipWant{}, limit: 1 << 20}
	for _, d := range b.Docs {
		if o := res.docs[d.Ref]; o != nil && o.status == wire.SignSigned && o.tmp == "" {
			z.wanted[d.Ref] = zipWant{d, o}
			z.limit += maxSigned(d.Size) + 1<<10
		}
	}
	if len(z.wanted) == 0 {
		return nil
	}
	// The entry names the request implies, for an exact match first.
	z.byEntry = make(map[string]string, len(z.wanted))
	for ref := range z.wanted {
		z.byEntry[ref+"."+names[ref]] = ref
	}
	err := z.stream(ctx)
	if !errors.Is(err, errZipLayout) {
		return err
	}
	c.log.Info("the ZIP of Sign'Stash is not laid out to be read as it arrives; downloading it again to read it whole", "operation", z.op, "err", err)
	return z.spooled(ctx)
}

// zipWant is a document whose signed version a ZIP should hold.
type zipWant struct {
	d signing.Doc
	o *outcome
}

// zipFetch is one download of an operation's ZIP.
type zipFetch struct {
	c            *Client
	endpoint, op string
	what         string
	wanted       map[string]zipWant
	byEntry      map[string]string // entry name → reference
	limit        int64             // bytes the ZIP may have
}

// get starts the download.
func (z *zipFetch) get(ctx context.Context) (*http.Response, error) {
	return z.c.do(ctx, http.MethodGet, z.c.endpointURL(z.endpoint, z.c.paths[wire.PathDocumentsZip], map[string]string{"operationId": z.op}), nil, z.what)
}

// take extracts entry name, when it holds a document still wanted, to a
// temporary file beside the document's output (see extract). It returns
// the document (o nil for an entry not taken) and the file.
func (z *zipFetch) take(name string, isDir bool, open func() (io.ReadCloser, error)) (*outcome, string, error) {
	ref := zipEntryRef(name, z.byEntry, z.wanted)
	w, ok := z.wanted[ref]
	if !ok || isDir {
		return nil, "", nil
	}
	delete(z.wanted, ref) // a second entry for a document is ignored
	rc, err := open()
	if err == nil {
		var tmp string
		tmp, err = extract(rc, name, filepath.Dir(w.d.Out), maxSigned(w.d.Size))
		rc.Close()
		if err == nil {
			return w.o, tmp, nil
		}
	}
	var cut zipCut
	if signagent.KindOf(err) == signagent.KindLocal || errors.Is(err, errZipLayout) || errors.As(err, &cut) {
		return nil, "", err
	}
	// Downloaded again at the next poll: signing again could sign the
	// document twice.
	return nil, "", signagent.TransientError(fmt.Sprintf("%s: the ZIP entry of document %s is damaged", z.what, ref), "", err)
}

// stream reads the ZIP as it arrives. The entries' files are kept only
// when the whole archive was read and its central directory agrees.
func (z *zipFetch) stream(ctx context.Context) error {
	resp, err := z.get(ctx)
	if err != nil {
		return err
	}
	defer drain(resp)
	wanted := maps.Clone(z.wanted)
	taken := map[*outcome]string{} // document → temporary file
	body := &limitedBody{r: resp.Body, left: z.limit}
	err = streamZip(body, uint64(z.limit), func(name string, content io.Reader) error {
		o, tmp, err := z.take(name, strings.HasSuffix(name, "/"), func() (io.ReadCloser, error) { return io.NopCloser(content), nil })
		if o != nil {
			taken[o] = tmp
		}
		return err
	})
	if err == nil {
		for o, tmp := range taken {
			o.tmp = tmp
		}
		return nil
	}
	for _, tmp := range taken {
		os.Remove(tmp)
	}
	z.wanted = wanted
	var cut zipCut
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case body.over:
		return z.tooLarge()
	case errors.As(err, &cut):
		return signagent.TransientError(z.what+": the ZIP of Sign'Stash was cut", "", err)
	}
	return err
}

// spooled downloads the ZIP to a temporary file and reads it with
// archive/zip.
func (z *zipFetch) spooled(ctx context.Context) error {
	resp, err := z.get(ctx)
	if err != nil {
		return err
	}
	defer drain(resp)
	dir := z.c.cfg.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	spool, err := os.CreateTemp(dir, "signstash-*.zip")
	if err != nil {
		return localErr("cannot spool the signed documents of operation "+z.op, err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	n, err := copyThrough(spool, io.LimitReader(resp.Body, z.limit+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			return localErr("cannot spool the signed documents of operation "+z.op, err)
		}
		return signagent.TransientError(z.what+": the ZIP of Sign'Stash was cut", "", err)
	case n > z.limit:
		return z.tooLarge()
	}
	zr, err := zip.NewReader(spool, n)
	if err != nil {
		return signagent.TransientError(z.what+": the answer of Sign'Stash is not a ZIP file", "", err)
	}
	for _, f := range zr.File {
		o, tmp, err := z.take(f.Name, f.FileInfo().IsDir(), f.Open)
		if err != nil {
			return err
		}
		if o != nil {
			o.tmp = tmp
		}
	}
	return nil
}

// tooLarge is the error of a ZIP larger than the documents can take.
func (z *zipFetch) tooLarge() error {
	return signagent.TransientError(fmt.Sprintf("%s: the ZIP of Sign'Stash is larger than %d bytes, more than the signed documents can take", z.what, z.limit), "", nil)
}

// limitedBody reads at most left bytes of r; if r holds more, it fails,
// noting it.
type limitedBody struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, err := l.r.Read(one[:]); n == 0 {
			return 0, err
		}
		l.over = true
		return 0, errZipTooLarge
	}
	p = p[:min(int64(len(p)), l.left)]
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

var errZipTooLarge = errors.New("the ZIP is larger than its limit")

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

// extract writes the content r of entry name, at most max bytes, to a new
// temporary file in dir. The entry's CRC-32 is checked by r (archive/zip's
// reader, or streamZip's once the archive is read).
func extract(r io.Reader, name, dir string, max int64) (string, error) {
	out, err := os.CreateTemp(dir, ".signstash-*.part")
	if err != nil {
		return "", localErr("cannot store a signed document", err)
	}
	n, err := copyThrough(out, io.LimitReader(r, max+1))
	var pe *os.PathError
	switch {
	case errors.As(err, &pe):
		err = localErr("cannot store a signed document", err)
	case err == nil && n > max:
		err = fmt.Errorf("entry %s is larger than %d bytes", name, max)
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

// copyThrough copies r to the file f through a pooled 256 KiB buffer: a
// signed document in one or two writes, where f's own ReadFrom would
// allocate 32 KiB for every copy and write that much at a time.
func copyThrough(f *os.File, r io.Reader) (int64, error) {
	bp := bufpool.Get()
	defer bufpool.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{f}, r, *bp)
}

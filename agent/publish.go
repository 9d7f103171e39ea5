package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/atomicfile"
	"github.com/signagent/signagent/internal/winname"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signing"
)

// publishAll publishes signed documents: flush the signed files, choose
// every output name and record them (with pre, the batch's own state
// changes) in one transaction, place the files, flush each outbox folder
// once, archive the originals, then record published in one transaction.
//
// Archiving before recording publication is safe: a document left signed
// with its output in place and its original archived is confirmed by
// reconcile from the output's digest.
func (r *runner) publishAll(ctx context.Context, docs []*ledger.Doc, pre ...ledger.Update) {
	flushed := r.flushSigned(docs)
	var chosen []*ledger.Doc
	outputs := pre
	confirmed := map[*ledger.Doc]bool{}
	type failure struct {
		d   *ledger.Doc
		err error
	}
	var failed []failure
	for i, d := range docs {
		ok, err := r.choose(d, flushed[i])
		if err != nil {
			failed = append(failed, failure{d, err}) // after pre is recorded
			continue
		}
		if ok {
			confirmed[d] = true // a crash came after placing it: only confirm
		} else {
			// Record the chosen name before placing the file, so that after
			// a crash reconcile recognises it (same name, same digest).
			outputs = append(outputs, ledger.Update{ID: d.ID, BatchID: d.BatchID, Output: d.Output})
		}
		chosen = append(chosen, d)
	}
	if err := r.a.Ledger.Apply(ctx, outputs...); err != nil {
		r.log.Error("cannot record signed documents and output names; reconcile will redo them", "err", err)
		return
	}
	for _, f := range failed {
		r.publishFailed(ctx, f.d, f.err)
	}
	var placed []*ledger.Doc
	dirs := map[string]error{}
	for _, d := range chosen {
		start := r.a.Clock.Now()
		if !confirmed[d] {
			if err := r.place(ctx, d); err != nil {
				r.publishFailed(ctx, d, err)
				continue
			}
		}
		r.a.Observer.Stage(r.f.Name, "publish", r.a.Clock.Since(start))
		dirs[filepath.Dir(d.Output)] = nil
		placed = append(placed, d)
	}
	// One flush per outbox folder makes every placement in it durable
	// before any of them is recorded as published.
	for dir := range dirs {
		dirs[dir] = atomicfile.SyncDir(dir)
	}
	var published []ledger.Update
	var done []*ledger.Doc
	for _, d := range placed {
		if err := dirs[filepath.Dir(d.Output)]; err != nil {
			r.publishFailed(ctx, d, local(err, "cannot flush the outbox folder"))
			continue
		}
		if !d.SettledAt.IsZero() {
			r.a.Observer.Stage(r.f.Name, "settle_to_publish", r.a.Clock.Now().Sub(d.SettledAt))
		}
		published = append(published, ledger.Update{ID: d.ID, BatchID: d.BatchID, State: signagent.StatePublished,
			Output: d.Output, Cleaned: r.archive(d)})
		done = append(done, d)
	}
	if err := r.a.Ledger.Apply(ctx, published...); err != nil {
		r.log.Error("cannot record publication; reconcile will confirm it", "err", err)
		return
	}
	if len(done) > 0 {
		r.release(ctx, signagent.KindLocal)
	}
	for _, d := range done {
		d.State = signagent.StatePublished
		r.a.Observer.Transition(r.f.Name, signagent.StatePublished)
		r.log.Info("published", "doc", d.ID, "file", d.Rel, "output", d.Output)
	}
}

// publishFailed sends a document error to error/; anything else (outbox
// missing or unwritable) holds the folder while the signed file waits in
// the claim area for the next attempt (or reconcile).
func (r *runner) publishFailed(ctx context.Context, d *ledger.Doc, err error) {
	if signagent.KindOf(err) == signagent.KindDocument {
		r.fail(ctx, d, "", err)
		return
	}
	r.hold(ctx, err)
	r.retryPublishLater(ctx, d)
}

// retryPublishLater tries a held publication again after the hold's wait.
func (r *runner) retryPublishLater(ctx context.Context, d *ledger.Doc) {
	r.later.Go(func() {
		if r.holdSleep(ctx) {
			r.publishAll(ctx, []*ledger.Doc{d})
		}
	})
}

// flushParallel is how many signed files flushSigned flushes at once.
const flushParallel = 8

// flushSigned fsyncs the signed files of docs, a few at a time, and returns
// each one's error: concurrent flushes share the file system's journal
// commits, where one after another each pays for its own.
func (r *runner) flushSigned(docs []*ledger.Doc) []error {
	errs := make([]error, len(docs))
	sem := make(chan struct{}, flushParallel)
	var wg sync.WaitGroup
	for i, d := range docs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = syncFile(r.out(d))
		}()
	}
	wg.Wait()
	return errs
}

// choose picks d's output name under the collision policy and sets
// d.Output. It reports true when the recorded output already holds our
// bytes (a crash came after placing it), so only the record is missing.
func (r *runner) choose(d *ledger.Doc, flushErr error) (bool, error) {
	signed := r.out(d)
	if d.Output != "" && exists(d.Output) {
		if sum, _, err := hashFile(d.Output); err == nil && sum == d.OutputSHA {
			os.Remove(signed)
			return true, nil
		}
	}
	if !exists(signed) {
		e := signagent.TransientError("signed output vanished from the claim area", "", nil)
		e.Code = signagent.CodeSigningError
		return false, e
	}
	if flushErr != nil {
		return false, local(flushErr, "cannot flush the signed file")
	}
	dir, err := mkdirUnder(r.f.Outbox, rel2dir(d.Rel))
	if err != nil {
		return false, local(err, "cannot create the outbox folder "+dir)
	}
	name := signing.OutputName(filepath.Base(filepath.FromSlash(d.Rel)), signing.Type(d.SigType))
	for i := 0; ; i++ {
		target := filepath.Join(dir, fitCandidate(name, i))
		if !exists(target) && !(r.cades(d) && exists(contentOf(target))) {
			d.Output = target
			return false, nil
		}
		switch r.f.OnCollision {
		case CollisionFail:
			return false, signagent.DocError(signagent.CodeCollision, "the outbox already holds "+filepath.Base(target),
				"remove or rename the existing output, then `signagent retry`, or set on_collision = \"suffix\"")
		case CollisionOverwrite:
			d.Output = target
			return false, nil
		}
	}
}

func (r *runner) cades(d *ledger.Doc) bool { return signing.Type(d.SigType) == signing.TypeCAdES }

// contentOf is the name of the content published beside a .p7s.
func contentOf(p7s string) string { return p7s[:len(p7s)-len(".p7s")] }

// place puts d's signed artefact at d.Output without ever replacing a file
// it does not own; when it loses a race for the name it takes the next one
// and records it first.
func (r *runner) place(ctx context.Context, d *ledger.Doc) error {
	signed := r.out(d)
	os.Chmod(signed, r.a.OutputMode)
	for {
		target := d.Output
		if r.f.OnCollision == CollisionOverwrite {
			os.Remove(target)
			if r.cades(d) {
				os.Remove(contentOf(target))
			}
		}
		err := error(nil)
		if r.cades(d) {
			// A detached signature is useless without its content: publish
			// a copy of the original beside it, under the matching name.
			err = copyFileNew(r.abs(d.Claim), contentOf(target), d.SHA256, r.a.OutputMode)
		}
		if err == nil {
			err = placeNew(signed, target)
		}
		if !errors.Is(err, fs.ErrExist) {
			if signagent.KindOf(err) == signagent.KindDocument {
				return err
			}
			if err != nil {
				return local(err, "cannot write to the outbox")
			}
			return nil
		}
		// Someone took the name between choose and place: choose again.
		if _, err := r.choose(d, nil); err != nil {
			return err
		}
		if err := r.a.Ledger.Apply(ctx, ledger.Update{ID: d.ID, BatchID: d.BatchID, Output: d.Output}); err != nil {
			return err
		}
	}
}

// local wraps a file-system failure of the outbox, error or archive folder:
// whatever the cause, it holds the folder rather than failing the document.
func local(err error, msg string) error {
	return signagent.LocalError(msg, "check that the folder exists, is mounted and writable by the service account", err)
}

// cleanup archives (or deletes) the originals of published documents and
// records that their work is done.
func (r *runner) cleanup(ctx context.Context, docs []*ledger.Doc) {
	var ups []ledger.Update
	for _, d := range docs {
		if r.archive(d) {
			ups = append(ups, ledger.Update{ID: d.ID, BatchID: d.BatchID, Cleaned: true})
		}
	}
	if err := r.a.Ledger.Apply(ctx, ups...); err != nil {
		r.log.Error("cannot record cleanup", "err", err)
	}
}

// archive moves a published document's original to the dated archive (or
// deletes it when there is none) and removes the signed temp file. It
// reports whether the original is gone from the claim area; when not, the
// document stays unfinished and reconcile archives it later.
func (r *runner) archive(d *ledger.Doc) bool {
	os.Remove(r.out(d))
	claim := r.abs(d.Claim)
	if !exists(claim) {
		return true
	}
	if r.f.Archive == "" {
		if err := os.Remove(claim); err != nil {
			r.log.Warn("cannot delete original", "doc", d.ID, "err", err)
			return false
		}
		return true
	}
	dir, err := mkdirUnder(r.f.Archive, filepath.Join(r.a.Clock.Now().Format("2006/01/02"), rel2dir(d.Rel)))
	if err == nil {
		// A rename, not link-then-remove: a crash must not leave the
		// original both here and in the archive (it would be archived
		// twice). Only the agent writes the archive, so the free name stays
		// free.
		err = atomicfile.Rename(claim, freePath(dir, filepath.Base(filepath.FromSlash(d.Rel))))
	}
	if err != nil {
		r.log.Warn("cannot archive original", "doc", d.ID, "err", err)
		return false
	}
	return true
}

// storedName is the name a failed original called name is stored under in
// error/ (before fitName and the collision suffix): on Windows, a name it
// can address (winname.Safe).
func storedName(name string) string {
	if runtime.GOOS == "windows" {
		return winname.Safe(name)
	}
	return name
}

// errorSuffix names the error file beside a failed original.
const errorSuffix = ".error.json"

// freeErrorPath returns the first free name in dir for a failed original
// called name, such that it and its error file both fit (fitName).
func freeErrorPath(dir, name string) string {
	for i := 0; ; i++ {
		c := candidate(name, i)
		if len(c)+len(errorSuffix) > maxName {
			c = candidate(fitName(name, len(c)-len(name)+len(errorSuffix)), i)
		}
		p := filepath.Join(dir, c)
		if !exists(p) && !exists(p+errorSuffix) {
			return p
		}
	}
}

// ErrorFile is the JSON written beside a failed original in error/.
type ErrorFile struct {
	// File is the failed original's name in error/; for a name too long
	// to take the error file's suffix, it is the full original name and
	// StoredAs the shortened name the original was stored under.
	File      string         `json:"file"`
	StoredAs  string         `json:"stored_as,omitempty"`
	Code      signagent.Code `json:"code"`
	Message   string         `json:"message"`
	Hint      string         `json:"hint,omitempty"`
	Attempts  int            `json:"attempts"`
	Batch     string         `json:"batch,omitempty"`
	Operation string         `json:"operation,omitempty"`
	Backend   string         `json:"backend"`
	FirstSeen time.Time      `json:"first_seen"`
	FailedAt  time.Time      `json:"failed_at"`
	SHA256    string         `json:"sha256"`
}

// fail records d as failed, moves its original to error/ and writes the
// error file. Idempotent: reconcile calls it again for unfinished failures.
func (r *runner) fail(ctx context.Context, d *ledger.Doc, batchRef string, cause error) {
	code, msg, hint := signagent.CodeOf(cause), cause.Error(), signagent.HintOf(cause)
	var se *signagent.Error
	if errors.As(cause, &se) && se.Message != "" {
		msg = se.Message
		if se.Err != nil {
			msg += ": " + se.Err.Error()
		}
	}
	if d.State != signagent.StateFailed || d.Output == "" {
		dir, err := mkdirUnder(r.f.Error, rel2dir(d.Rel))
		if err != nil {
			r.hold(ctx, local(err, "cannot create the error folder"))
			return
		}
		// The original and its error file must both fit in a name: a long
		// name is shortened (its full form stays in the error file).
		target := freeErrorPath(dir, storedName(filepath.Base(filepath.FromSlash(d.Rel))))
		d.State, d.ErrCode, d.ErrMessage, d.Output = signagent.StateFailed, code, msg, target
		d.Attempts++
		if err := r.a.Ledger.Apply(ctx, ledger.Update{ID: d.ID, BatchID: d.BatchID, State: signagent.StateFailed,
			ErrCode: code, ErrMessage: msg, Output: target, Attempts: d.Attempts}); err != nil {
			r.log.Error("cannot record failure", "doc", d.ID, "err", err)
			return
		}
		r.a.Observer.Transition(r.f.Name, signagent.StateFailed)
		r.log.Warn("failed", "doc", d.ID, "file", d.Rel, "code", code, "error", msg)
		r.writeFailure(ctx, d, batchRef, hint)
		return
	}
	r.writeFailure(ctx, d, batchRef, hint)
}

func (r *runner) writeFailure(ctx context.Context, d *ledger.Doc, batchRef, hint string) {
	target := d.Output
	os.Remove(r.out(d))
	if claim := r.abs(d.Claim); exists(claim) && !exists(target) {
		if err := placeNew(claim, target); err != nil {
			r.hold(ctx, local(err, "cannot move the failed original to "+filepath.Dir(target)))
			return
		}
	} else if exists(claim) {
		os.Remove(claim) // already moved by an earlier attempt (link placed, source left)
	}
	if hint == "" {
		hint = hintFor(d.ErrCode)
	}
	ef := ErrorFile{
		File: filepath.Base(target), Code: d.ErrCode, Message: d.ErrMessage, Hint: hint,
		Attempts: d.Attempts, Batch: batchRef, Backend: r.f.Backend.Name(),
		FirstSeen: d.FirstSeen.UTC(), FailedAt: r.a.Clock.Now().UTC(), SHA256: d.SHA256,
	}
	if d.BatchID != 0 && batchRef == "" {
		ef.Batch = fmt.Sprint(d.BatchID)
	}
	if name := filepath.Base(filepath.FromSlash(d.Rel)); fitName(storedName(name), len(errorSuffix)) != name {
		ef.File, ef.StoredAs = name, filepath.Base(target)
	}
	b, _ := json.MarshalIndent(ef, "", "  ")
	if err := writeFileAtomic(target+errorSuffix, append(b, '\n')); err != nil {
		r.hold(ctx, local(err, "cannot write the error file"))
		return
	}
	atomicfile.SyncDir(filepath.Dir(target))
	if err := r.a.Ledger.Apply(ctx, ledger.Update{ID: d.ID, BatchID: d.BatchID, Cleaned: true}); err != nil {
		r.log.Error("cannot record failure cleanup", "doc", d.ID, "err", err)
	}
}

// hintFor gives the default next step for a code.
func hintFor(c signagent.Code) string {
	switch c {
	case signagent.CodeNotAPDF:
		return "the file is named .pdf but is not a PDF; export it again"
	case signagent.CodeEncryptedPDF:
		return "export the PDF without a password or encryption"
	case signagent.CodeCorruptPDF:
		return "the PDF is damaged; export it again"
	case signagent.CodeEmptyFile:
		return "export the document again"
	case signagent.CodeTooLarge:
		return "raise max_size of the backend or split the document"
	case signagent.CodeGaveUp:
		return "fix the backend problem, then run `signagent retry`"
	}
	return "see the message; after fixing the cause run `signagent retry`"
}

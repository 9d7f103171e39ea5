package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
)

// publishAll publishes signed documents: flush the signed files, choose
// each output name and record it, place the file, flush each outbox folder
// once, record published, then archive the originals.
func (r *runner) publishAll(ctx context.Context, docs []*ledger.Doc) {
	flushed := r.flushSigned(docs)
	var placed []*ledger.Doc
	dirOf := map[*ledger.Doc]string{}
	for i, d := range docs {
		start := time.Now()
		dir, err := r.publish(ctx, d, flushed[i])
		if err != nil {
			if signagent.KindOf(err) == signagent.KindDocument {
				r.fail(ctx, d, "", err)
				continue
			}
			// Outbox missing or unwritable: hold; the signed file waits in
			// the claim area and reconcile (or the next attempt) publishes it.
			r.hold(ctx, err)
			r.retryPublishLater(ctx, d)
			continue
		}
		r.a.Observer.Stage(r.f.Name, "publish", time.Since(start))
		placed = append(placed, d)
		dirOf[d] = dir
	}
	// One flush per outbox folder makes every placement in it durable
	// before any of them is recorded as published.
	dirErr := map[string]error{}
	for _, d := range placed {
		if dir := dirOf[d]; dir != "" {
			if _, ok := dirErr[dir]; !ok {
				dirErr[dir] = syncDir(dir)
			}
		}
	}
	var published []ledger.Update
	var done []*ledger.Doc
	for _, d := range placed {
		if err := dirErr[dirOf[d]]; err != nil {
			r.hold(ctx, local(err, "cannot flush the outbox folder"))
			r.retryPublishLater(ctx, d)
			continue
		}
		if !d.SettledAt.IsZero() {
			r.a.Observer.Stage(r.f.Name, "settle_to_publish", r.a.Now().Sub(d.SettledAt))
		}
		published = append(published, ledger.Update{ID: d.ID, State: signagent.StatePublished, Output: d.Output})
		done = append(done, d)
	}
	if err := r.a.Ledger.Apply(ctx, published...); err != nil {
		r.log.Error("cannot record publication; reconcile will confirm it", "err", err)
		return
	}
	for _, d := range done {
		d.State = signagent.StatePublished
		r.a.Observer.Transition(r.f.Name, signagent.StatePublished)
		r.log.Info("published", "doc", d.ID, "file", d.Rel, "output", d.Output)
	}
	r.cleanup(ctx, done)
}

// retryPublishLater tries a held publication again after HoldRetry.
func (r *runner) retryPublishLater(ctx context.Context, d *ledger.Doc) {
	go func() {
		if sleep(ctx, r.a.HoldRetry) {
			r.publishAll(ctx, []*ledger.Doc{d})
		}
	}()
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

// publish places d's signed artefact in the outbox under a name that
// follows the collision policy, and returns the outbox folder, which the
// caller must flush before recording the publication. flushErr is the
// result of flushing the signed file (flushSigned). It is idempotent: when
// the recorded output already holds our bytes it only confirms. On success
// d.Output is set.
func (r *runner) publish(ctx context.Context, d *ledger.Doc, flushErr error) (string, error) {
	signed := r.out(d)
	if d.Output != "" && exists(d.Output) {
		if sum, _, err := hashFile(d.Output); err == nil && sum == d.OutputSHA {
			os.Remove(signed)
			return filepath.Dir(d.Output), nil
		}
	}
	if !exists(signed) {
		return "", &signagent.Error{Kind: signagent.KindTransient, Code: signagent.CodeSigningError,
			Message: "signed output vanished from the claim area"}
	}
	dir := filepath.Join(r.f.Outbox, rel2dir(d.Rel))
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return "", local(err, "cannot create the outbox folder "+dir)
	}
	name := signer.OutputName(filepath.Base(filepath.FromSlash(d.Rel)), signer.Type(d.SigType))
	if flushErr != nil {
		return "", local(flushErr, "cannot flush the signed file")
	}
	os.Chmod(signed, filePerm)
	cades := signer.Type(d.SigType) == signer.TypeCAdES
	for i := 0; ; i++ {
		target := filepath.Join(dir, candidate(name, i))
		var content string
		if cades {
			content = target[:len(target)-len(".p7s")]
		}
		taken := exists(target) || (cades && exists(content))
		if taken {
			switch r.f.OnCollision {
			case CollisionFail:
				return "", signagent.DocError(signagent.CodeCollision, "the outbox already holds "+filepath.Base(target),
					"remove or rename the existing output, then `signagent retry`, or set on_collision = \"suffix\"")
			case CollisionOverwrite:
				os.Remove(target)
				if cades {
					os.Remove(content)
				}
			default:
				continue
			}
		}
		// Record the chosen name first, so a crash after placing the file
		// is recognised by reconcile (same name, same digest).
		if err := r.a.Ledger.Apply(ctx, ledger.Update{ID: d.ID, BatchID: d.BatchID, Output: target}); err != nil {
			return "", err
		}
		d.Output = target
		if cades {
			// A detached signature is useless without its content: publish
			// a copy of the original beside it, under the matching name.
			if err := copyFileNew(r.abs(d.Claim), content); err != nil {
				if errors.Is(err, fs.ErrExist) {
					continue
				}
				return "", local(err, "cannot write to the outbox")
			}
		}
		err := placeNew(signed, target)
		if errors.Is(err, fs.ErrExist) {
			continue // lost a race for this name: take the next
		}
		if err != nil {
			return "", local(err, "cannot write to the outbox")
		}
		return dir, nil
	}
}

func local(err error, msg string) error {
	kind := signagent.KindOf(err)
	if kind != signagent.KindLocal {
		kind = signagent.KindLocal
	}
	return &signagent.Error{Kind: kind, Code: signagent.CodeLocal, Message: msg,
		Hint: "check that the folder exists, is mounted and writable by the service account", Err: err}
}

// cleanup archives (or deletes) the originals of published documents and
// records that their work is done.
func (r *runner) cleanup(ctx context.Context, docs []*ledger.Doc) {
	var ups []ledger.Update
	for _, d := range docs {
		os.Remove(r.out(d))
		claim := r.abs(d.Claim)
		if exists(claim) {
			if r.f.Archive == "" {
				if err := os.Remove(claim); err != nil {
					r.log.Warn("cannot delete original", "doc", d.ID, "err", err)
					continue
				}
			} else {
				dir := filepath.Join(r.f.Archive, r.a.Now().Format("2006/01/02"), rel2dir(d.Rel))
				if err := os.MkdirAll(dir, dirPerm); err != nil {
					r.log.Warn("cannot archive original", "doc", d.ID, "err", err)
					continue
				}
				if err := placeNew(claim, freePath(dir, filepath.Base(filepath.FromSlash(d.Rel)))); err != nil {
					r.log.Warn("cannot archive original", "doc", d.ID, "err", err)
					continue
				}
			}
		}
		ups = append(ups, ledger.Update{ID: d.ID, BatchID: d.BatchID, Cleaned: true})
	}
	if err := r.a.Ledger.Apply(ctx, ups...); err != nil {
		r.log.Error("cannot record cleanup", "err", err)
	}
}

// ErrorFile is the JSON written beside a failed original in error/.
type ErrorFile struct {
	File      string         `json:"file"`
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
	dir := filepath.Join(r.f.Error, rel2dir(d.Rel))
	if d.State != signagent.StateFailed || d.Output == "" {
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			r.hold(ctx, local(err, "cannot create the error folder"))
			return
		}
		target := freePath(dir, filepath.Base(filepath.FromSlash(d.Rel)))
		for exists(target + ".error.json") {
			target = freePath(dir, filepath.Base(target)+"_")
		}
		d.State, d.ErrCode, d.ErrMessage, d.Output = signagent.StateFailed, code, msg, target
		d.Attempts++
		if err := r.a.Ledger.Apply(ctx, ledger.Update{ID: d.ID, BatchID: d.BatchID, State: signagent.StateFailed,
			ErrCode: code, ErrMessage: msg, Output: target, Attempts: d.Attempts}); err != nil {
			r.log.Error("cannot record failure", "doc", d.ID, "err", err)
			return
		}
		r.a.Observer.Transition(r.f.Name, signagent.StateFailed)
		r.log.Warn("failed", "doc", d.ID, "file", d.Rel, "code", code, "msg", msg)
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
		FirstSeen: d.FirstSeen.UTC(), FailedAt: r.a.Now().UTC(), SHA256: d.SHA256,
	}
	if d.BatchID != 0 && batchRef == "" {
		ef.Batch = fmt.Sprint(d.BatchID)
	}
	b, _ := json.MarshalIndent(ef, "", "  ")
	if err := writeFileAtomic(target+".error.json", append(b, '\n')); err != nil {
		r.hold(ctx, local(err, "cannot write the error file"))
		return
	}
	syncDir(filepath.Dir(target))
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

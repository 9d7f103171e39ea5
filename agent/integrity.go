package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/winname"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/watcher"
)

// maxChanges is how often a claimed document may be found changed before
// it fails as CHANGED_AFTER_CLAIM.
const maxChanges = 3

// reject moves an inbox entry that is not a regular file (a symbolic link,
// FIFO, socket or device) to error/ as NOT_A_REGULAR_FILE: the entry itself
// is renamed, what it points to is never opened. An entry that cannot be
// moved is reported once and listed in status as ignored.
func (r *runner) reject(ctx context.Context, f watcher.File) {
	fi, err := os.Lstat(f.Path)
	if err != nil || fi.Mode().IsRegular() {
		return // gone, or a regular file again: the next look decides
	}
	r.toError(ctx, f, f.Path, fi, notRegular(fi.Mode().Type()),
		fmt.Sprintf("it is %v, not a regular file", fi.Mode().Type()))
}

// rejectName moves an inbox entry whose name Windows cannot address by its
// plain path (why, from winname) to error/ as RESERVED_NAME, through its
// extended-length path: by its plain path it would be a device, or another
// file. It is stored in error/ under a name Windows can address.
func (r *runner) rejectName(ctx context.Context, f watcher.File, why string) {
	p := winname.Extended(f.Path)
	fi, err := os.Lstat(p)
	if err != nil {
		return // gone: the next look decides
	}
	r.toError(ctx, f, p, fi, signagent.DocError(signagent.CodeReservedName,
		fmt.Sprintf("the name %q cannot be used on Windows: %s", f.Rel, why),
		"rename the file (no device name such as CON, NUL or COM1; no trailing dot or space) and drop it again"),
		fmt.Sprintf("its name cannot be used on Windows (%s)", why))
}

// toError records the inbox entry f (at path p, as fi) and moves it to
// error/ with cause, without reading it. An entry that cannot be moved is
// ignored, with what (what it is) in the reason.
func (r *runner) toError(ctx context.Context, f watcher.File, p string, fi fs.FileInfo, cause error, what string) {
	d := &ledger.Doc{Folder: r.f.Name, Rel: f.Rel, Size: fi.Size(), ModTime: fi.ModTime(), SettledAt: r.a.Clock.Now()}
	if err := r.a.Ledger.AddSeen(ctx, d); err != nil {
		r.log.Error("cannot record document", "file", f.Rel, "err", err)
		return
	}
	if err := os.Rename(p, r.abs(d.Claim)); err != nil {
		if err := r.a.Ledger.Delete(context.WithoutCancel(ctx), d.ID); err != nil {
			r.log.Error("cannot forget unclaimed document", "file", f.Rel, "err", err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			r.ignore(f, fmt.Sprintf("%s, and cannot be moved to the error folder: %v", what, err))
		}
		return
	}
	d.State = signagent.StateClaimed
	if f.Marker != "" {
		os.Remove(f.Marker)
	}
	r.fail(context.WithoutCancel(ctx), d, "", cause)
}

// ignore reports an inbox entry the agent leaves where it is, once in the
// log, and lists it in status until the agent restarts.
func (r *runner) ignore(f watcher.File, why string) {
	r.ignoredMu.Lock()
	defer r.ignoredMu.Unlock()
	if r.ignored == nil {
		r.ignored = map[string]string{}
	}
	if _, ok := r.ignored[f.Rel]; ok {
		return
	}
	r.ignored[f.Rel] = why
	r.log.Error("inbox entry ignored: it is never read; remove it or replace it by the document itself", "file", f.Rel, "why", why)
}

// ignoredEntries lists the ignored entries, sorted, for status.
func (r *runner) ignoredEntries() []string {
	r.ignoredMu.Lock()
	defer r.ignoredMu.Unlock()
	out := make([]string, 0, len(r.ignored))
	for rel, why := range r.ignored {
		out = append(out, rel+": "+why)
	}
	sort.Strings(out)
	return out
}

// errChanged says the bytes to be signed, or signed, are not the ones the
// ledger recorded for the document.
type errChanged struct{ why string }

func (e *errChanged) Error() string { return "the document changed after it was claimed: " + e.why }

func changed(format string, args ...any) error { return &errChanged{fmt.Sprintf(format, args...)} }

// checkOutput verifies a document's signed artefact before it may be
// published: the claimed original still holds the recorded bytes, the
// backend (where it says) signed those bytes, and the output verifies and
// covers the whole document (for PAdES, with the original as an unchanged
// first revision). It returns an *errChanged when the bytes moved under the
// agent, and a document error (SIGNING_ERROR, NOT_A_REGULAR_FILE) when the
// output must never be published. With a nil error it returns the
// output's SHA-256 (hex), taken in the read that checked it.
func (r *runner) checkOutput(d *ledger.Doc, t signing.Type, res signing.Result) (string, error) {
	if res.SHA256 != "" && res.SHA256 != d.SHA256 {
		return "", changed("the backend read bytes with SHA-256 %s, %s when claimed (written to while it was read)", short(res.SHA256), short(d.SHA256))
	}
	claim := r.abs(d.Claim)
	// A PAdES output carries the original as its first revision and a
	// CAdES check reads the original itself: both prove exactly which
	// bytes were signed. A signed XML does not carry them byte for byte:
	// without the backend's digest, the claimed file must still hold the
	// recorded bytes.
	if t == signing.TypeXAdES && res.SHA256 == "" {
		if err := r.claimCheck(d); err != nil {
			return "", err
		}
	}
	// Only a CAdES check reads the original.
	var content io.Reader
	if t == signing.TypeCAdES {
		f, _, err := openRegular(claim)
		if err != nil {
			return "", r.unreadableClaim(claim, err)
		}
		defer f.Close()
		content = f
	}
	sum, err := signer.CheckOutput(t, r.out(d), content, d.Size, d.SHA256, res.Written)
	switch {
	case err == nil:
		return sum, nil
	case errors.Is(err, signer.ErrContentChanged):
		return "", changed("%v", err)
	}
	// The bytes moved under the backend, or a link was swapped in: not the
	// backend's fault.
	if cerr := r.claimCheck(d); isChanged(cerr) || signagent.KindOf(cerr) == signagent.KindDocument {
		return "", cerr
	}
	return "", signagent.DocError(signagent.CodeSigningError,
		"the signed output failed its check and was not published: "+err.Error(),
		"the document was not signed; `signagent retry` it, and report the problem if it fails again")
}

// unreadableClaim classes a failure to read the claimed original during
// the output check: an entry that is no longer a regular file (a link
// swapped in) is NOT_A_REGULAR_FILE; anything else is retried.
func (r *runner) unreadableClaim(claim string, err error) error {
	if errors.Is(err, errNotRegular) {
		var mode fs.FileMode
		if fi, _ := os.Lstat(claim); fi != nil {
			mode = fi.Mode().Type()
		}
		return notRegular(mode)
	}
	return signagent.TransientError("cannot read the claimed document to check its signature", "", err)
}

// claimCheck hashes the claimed original again: nil when it still holds
// the recorded bytes, an *errChanged when they changed, otherwise the
// read failure as unreadableClaim classes it.
func (r *runner) claimCheck(d *ledger.Doc) error {
	claim := r.abs(d.Claim)
	sum, n, _, err := hashRegular(claim)
	switch {
	case err != nil:
		return r.unreadableClaim(claim, err)
	case sum != d.SHA256 || n != d.Size:
		return changed("its SHA-256 is now %s (%d bytes), %s (%d bytes) when claimed", short(sum), n, short(d.SHA256), d.Size)
	}
	return nil
}

func isChanged(err error) bool {
	var ce *errChanged
	return errors.As(err, &ce)
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return sum
}

// resettle sends a claimed document whose bytes changed back to settle:
// once its size and modification time stay put for the folder's settle
// period, its new digest is recorded and it is admitted again (a duplicate
// of signed content fails as DUPLICATE). After maxChanges changes it fails
// as CHANGED_AFTER_CLAIM. cause is the change found, nil when the claim
// itself found the file replaced.
func (r *runner) resettle(ctx context.Context, d *ledger.Doc, cause error) {
	d.Changed++
	if d.Changed >= maxChanges && cause != nil {
		r.fail(context.WithoutCancel(ctx), d, "", signagent.DocError(signagent.CodeChanged,
			fmt.Sprintf("the document changed %d times after it was claimed, so it was never signed; last: %v", d.Changed, cause),
			"make the producer write under a temporary name (or *.tmp) and rename the file into the inbox when complete; then `signagent retry` it"))
		return
	}
	settle := r.f.Watch.Settle
	if settle <= 0 {
		settle = config.DefaultSettle
	}
	claim := r.abs(d.Claim)
	r.log.Warn("document changed after its claim; waiting for it to settle before signing it", "doc", d.ID, "file", d.Rel, "changes", d.Changed, "why", cause)
	r.later.Go(func() {
		var last fs.FileInfo
		for {
			if !r.a.sleep(ctx, settle) {
				return // still claimed: reconcile admits it after restart
			}
			fi, err := os.Lstat(claim)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				r.fail(context.WithoutCancel(ctx), d, "", signagent.DocError(signagent.CodeUnreadable,
					"the claimed document disappeared from "+ledger.ClaimDir, "export the document again"))
				return
			case err != nil:
				r.log.Warn("cannot look at a claimed document; trying again", "doc", d.ID, "err", err)
				continue
			case !fi.Mode().IsRegular():
				r.fail(context.WithoutCancel(ctx), d, "", notRegular(fi.Mode().Type()))
				return
			}
			if last == nil || fi.Size() != last.Size() || !fi.ModTime().Equal(last.ModTime()) {
				last = fi
				continue
			}
			sum, n, hfi, err := hashRegular(claim)
			if err != nil || n != fi.Size() || !hfi.ModTime().Equal(fi.ModTime()) {
				last = nil
				continue
			}
			d.SHA256, d.Size, d.ModTime = sum, n, fi.ModTime()
			if err := r.a.Ledger.Rehash(ctx, d); err != nil {
				r.log.Error("cannot record the changed document; it waits for a restart", "doc", d.ID, "err", err)
				return
			}
			r.admit(ctx, d)
			return
		}
	})
}

// holdWait is how long a held folder waits before it tries again: from
// HoldMin, doubling with every failed attempt, up to HoldRetry.
func (r *runner) holdWait() time.Duration {
	n := r.holdTries.Add(1) - 1
	w := r.a.HoldMin
	for i := int32(0); i < n && w < r.a.HoldRetry; i++ {
		w *= 2
	}
	return min(w, r.a.HoldRetry)
}

// holdSleep waits holdWait, or less when the inbox changes; it reports
// false when ctx ends first.
func (r *runner) holdSleep(ctx context.Context) bool {
	r.wakeMu.Lock()
	if r.wakeCh == nil {
		r.wakeCh = make(chan struct{})
	}
	wake := r.wakeCh
	r.wakeMu.Unlock()
	d := r.holdWait()
	r.noteHoldWait(d)
	t := r.a.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
	case <-wake:
	case <-ctx.Done():
		return false
	}
	return true
}

// wake cuts the waits of a held folder short: something arrived in the
// inbox, so an operator may have fixed the problem. At most once per
// HoldMin, so a burst of arrivals is not a burst of attempts.
func (r *runner) wake() {
	if r.heldBy.Load() == 0 {
		return
	}
	r.wakeMu.Lock()
	defer r.wakeMu.Unlock()
	now := r.a.Clock.Now()
	if r.wakeCh == nil || now.Sub(r.lastWake) < r.a.HoldMin {
		return
	}
	r.lastWake = now
	close(r.wakeCh)
	r.wakeCh = make(chan struct{})
}

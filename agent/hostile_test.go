package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
)

// hookBackend runs hooks around a real backend's Submit, to play a producer
// (or a broken backend) acting on the claimed files while they are signed.
type hookBackend struct {
	signing.Backend
	before, after func(b *signing.Batch)
}

func (h *hookBackend) Submit(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	if h.before != nil {
		h.before(b)
	}
	op, err := h.Backend.Submit(ctx, b)
	if h.after != nil {
		h.after(b)
	}
	return op, err
}

// noBytesFrom fails the test when any file under the folders holds secret.
func (e *env) noBytesFrom(secret []byte) {
	e.t.Helper()
	for _, root := range []string{e.outbox, e.errDir, e.archive} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if b, _ := os.ReadFile(p); bytes.Contains(b, secret) {
				e.t.Errorf("%s holds bytes of a file outside the inbox", p)
			}
			return nil
		})
	}
}

// TestNeverReadThroughLinks: symbolic links (to a secret, to a PDF
// elsewhere, dangling, to a folder) and FIFOs in the inbox are moved to
// error/ as themselves with NOT_A_REGULAR_FILE; no byte of their targets
// reaches any output, and a regular document beside them is signed.
func TestNeverReadThroughLinks(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	secret := []byte("TOP-SECRET-7f3a9c-never-publish")
	must(t, os.WriteFile(filepath.Join(outside, "shadow"), secret, 0o600))
	elsewhere := append(append([]byte{}, pdf...), append([]byte("\n% "), secret...)...)
	must(t, os.WriteFile(filepath.Join(outside, "elsewhere.pdf"), elsewhere, 0o600))

	e := newEnv(t, func(f *agent.Folder) { f.Watch.Include = []string{"*"} })
	e.start()
	links := map[string]string{
		"invoice.txt":  filepath.Join(outside, "shadow"),
		"linked.pdf":   filepath.Join(outside, "elsewhere.pdf"),
		"dangling.xml": filepath.Join(outside, "missing.xml"),
		"folder.pdf":   outside,
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(e.inbox, name)))
	}
	special := []string{}
	if err := mkfifo(filepath.Join(e.inbox, "pipe.xml")); err == nil {
		special = append(special, "pipe.xml")
	}
	e.drop("good.pdf", pdf)

	e.waitFor("every entry accounted for", func() bool {
		return exists(filepath.Join(e.outbox, "good.pdf")) && len(files(e.errDir)) == 2*(len(links)+len(special))
	})
	for name := range links {
		fi, err := os.Lstat(filepath.Join(e.errDir, name))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s: the link itself is not in error/ (%v)", name, err)
		}
		if ef := e.errorFile(name); ef.Code != signagent.CodeNotRegular {
			t.Errorf("%s: %s %s", name, ef.Code, ef.Message)
		}
	}
	for _, name := range special {
		if ef := e.errorFile(name); ef.Code != signagent.CodeNotRegular {
			t.Errorf("%s: %s %s", name, ef.Code, ef.Message)
		}
	}
	if got := files(e.outbox); len(got) != 1 {
		t.Errorf("outbox: %v, want only good.pdf", got)
	}
	e.noBytesFrom(secret)
	if b, _ := os.ReadFile(filepath.Join(outside, "shadow")); !bytes.Equal(b, secret) {
		t.Error("the link's target was changed")
	}
}

// TestSwappedForLinkAfterClaim: a claimed file replaced by a link in the
// claim area before it is signed is never published, and its target's
// bytes appear nowhere.
func TestSwappedForLinkAfterClaim(t *testing.T) {
	t.Parallel()
	txt := []byte("plain document\n")
	secret := []byte("TOP-SECRET-claim-area-swap")
	target := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(target, secret, 0o600))
	e := newEnv(t, nil)
	var once sync.Once
	e.folder.Backend = &hookBackend{Backend: e.local, before: func(b *signing.Batch) {
		once.Do(func() {
			p := b.Docs[0].Path
			must(t, os.Remove(p))
			must(t, os.Symlink(target, p))
		})
	}}
	e.start()
	e.drop("doc.txt", txt)
	e.waitFor("doc.txt failed", func() bool { return exists(filepath.Join(e.errDir, "doc.txt.error.json")) })
	if ef := e.errorFile("doc.txt"); ef.Code != signagent.CodeNotRegular {
		t.Errorf("doc.txt: %s %s", ef.Code, ef.Message)
	}
	if got := files(e.outbox); len(got) != 0 {
		t.Errorf("published %v", got)
	}
	e.noBytesFrom(secret)
}

// TestChangedAfterClaimIsSignedAsRecorded: a producer that keeps the file
// open and rewrites 64 bytes after the claim. What is published is the
// document as it finally is, and the ledger's digest is the digest of
// exactly the bytes that were signed.
func TestChangedAfterClaimIsSignedAsRecorded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ext  string
		when string // before: between claim and signing; after: while signing (torn read)
	}{
		{"pdf-before", ".pdf", "before"},
		{"pdf-after", ".pdf", "after"},
		{"xml-before", ".xml", "before"},
		{"txt-after", ".txt", "after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data []byte
			var at int64 // where the producer rewrites 64 bytes, keeping the document well formed
			switch tc.ext {
			case ".pdf":
				var err error
				if data, err = os.ReadFile(corpusFiles(t, ".pdf")[0]); err != nil {
					t.Fatal(err)
				}
				at = int64(bytes.Index(data, []byte("stream\n")) + len("stream\n") + 16) // inside stream data
			case ".xml":
				data = []byte("<?xml version=\"1.0\"?>\n<Invoice><Note>" + strings.Repeat("a", 300) + "</Note></Invoice>\n")
				at = int64(bytes.Index(data, []byte("<Note>")) + 100)
			default:
				data = bytes.Repeat([]byte("line of a plain document\n"), 100)
				at = 500
			}
			e := newEnv(t, nil)
			e.jumpTime() // the waits for the changed document to settle again take no wall time
			var once sync.Once
			rewrite := func(b *signing.Batch) {
				once.Do(func() {
					f, err := os.OpenFile(b.Docs[0].Path, os.O_WRONLY, 0)
					must(t, err)
					defer f.Close()
					// 64 bytes inside the document, still well formed.
					if _, err := f.WriteAt(bytes.Repeat([]byte("b"), 64), at); err != nil {
						t.Error(err)
					}
				})
			}
			hb := &hookBackend{Backend: e.local}
			if tc.when == "before" {
				hb.before = rewrite
			} else {
				hb.after = rewrite
			}
			e.folder.Backend = hb
			e.start()
			name := "doc" + tc.ext
			e.drop(name, data)
			out := filepath.Join(e.outbox, name)
			if tc.ext == ".txt" {
				out += ".p7s"
			}
			e.waitFor("published", func() bool {
				st, err := e.a.Status(context.Background())
				return err == nil && st.Folders[0].Counts[signagent.StatePublished] == 1
			})
			if got := files(e.errDir); len(got) != 0 {
				t.Fatalf("failed: %v", got)
			}
			rec := e.recorded(name)
			switch tc.ext {
			case ".pdf":
				// The signed PDF's first revision is exactly the recorded document.
				b, _ := os.ReadFile(out)
				if sum := sha256.Sum256(b[:min(int(rec.Size), len(b))]); hex.EncodeToString(sum[:]) != rec.SHA256 {
					t.Errorf("the ledger's digest %s is not that of the signed revision", rec.SHA256[:12])
				}
			case ".txt":
				content, _ := os.ReadFile(filepath.Join(e.outbox, name))
				if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != rec.SHA256 {
					t.Errorf("published content %x, ledger %s", sum[:6], rec.SHA256[:12])
				}
			}
			if vs, err := signer.VerifyFile(context.Background(), out); err != nil || len(vs) == 0 || !vs[len(vs)-1].Valid {
				t.Errorf("output does not verify: %v %+v", err, vs)
			}
			// Changed before signing, or while the backend read it (text):
			// the change must be noticed. A PDF rewritten after it was
			// signed was signed as recorded (its output carries those bytes).
			if tc.name != "pdf-after" && !strings.Contains(e.logs.String(), "document changed after its claim") {
				t.Error("the change was not noticed")
			}
		})
	}
}

// TestChangingForeverFails: a document rewritten at every attempt fails as
// CHANGED_AFTER_CLAIM after three, and nothing is published.
func TestChangingForeverFails(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("line of a plain document\n"), 50)
	e := newEnv(t, nil)
	e.jumpTime() // the waits for the changed document to settle again take no wall time
	n := 0
	e.folder.Backend = &hookBackend{Backend: e.local, after: func(b *signing.Batch) {
		n++
		f, err := os.OpenFile(b.Docs[0].Path, os.O_WRONLY, 0)
		must(t, err)
		f.WriteAt([]byte{byte('a' + n%26)}, 10)
		f.Close()
	}}
	e.start()
	e.drop("doc.txt", data)
	e.waitFor("failed", func() bool { return exists(filepath.Join(e.errDir, "doc.txt.error.json")) })
	if ef := e.errorFile("doc.txt"); ef.Code != signagent.CodeChanged {
		t.Errorf("doc.txt: %s %s", ef.Code, ef.Message)
	}
	if got := files(e.outbox); len(got) != 0 {
		t.Errorf("published %v", got)
	}
}

// brokenBackend writes outputs that must never be published: the input
// unchanged (no signature), or a signed output of other bytes.
type brokenBackend struct {
	signing.Backend
	local *signer.Local
	mode  string
}

func (b *brokenBackend) Submit(ctx context.Context, batch *signing.Batch) (*signing.Operation, error) {
	op := &signing.Operation{Ref: batch.Ref, Done: true}
	for _, d := range batch.Docs {
		switch b.mode {
		case "copy":
			data, _ := os.ReadFile(d.Path)
			os.WriteFile(d.Out, data, 0o600)
		case "other":
			other := filepath.Join(filepath.Dir(d.Out), "other"+filepath.Ext(d.Name))
			// The same document with 8 bytes of stream data changed.
			data, _ := os.ReadFile(d.Path)
			if i := bytes.Index(data, []byte("stream\n")); i >= 0 {
				copy(data[i+len("stream\n")+8:], "CHANGED!")
			} else {
				data = append([]byte("other "), data...)
			}
			os.WriteFile(other, data, 0o600)
			b.local.SignFile(ctx, other, d.Out, d.Name, d.Opts)
			os.Remove(other)
		}
		op.Results = append(op.Results, signing.Result{Ref: d.Ref})
	}
	return op, nil
}

// TestVerifyBeforePublish: an output that does not verify, or signs other
// bytes than the recorded document, goes to error/ as SIGNING_ERROR and is
// never published.
func TestVerifyBeforePublish(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"copy", "other"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, nil)
			e.folder.Backend = &brokenBackend{Backend: e.local, local: e.local, mode: mode}
			e.start()
			e.drop("a.pdf", pdf)
			e.drop("b.txt", []byte("plain text document\n"))
			e.waitFor("both failed", func() bool { return len(files(e.errDir)) == 4 })
			for _, n := range []string{"a.pdf", "b.txt"} {
				if ef := e.errorFile(n); ef.Code != signagent.CodeSigningError || !strings.Contains(ef.Message, "not published") {
					t.Errorf("%s: %s %s", n, ef.Code, ef.Message)
				}
			}
			if got := files(e.outbox); len(got) != 0 {
				t.Errorf("published %v", got)
			}
		})
	}
}

// TestLongNameFailsWithErrorFile: a failed document whose name leaves no
// room for ".error.json" still gets its error file (shortened name, full
// name inside), and the folder is never held by it.
func TestLongNameFailsWithErrorFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(f *agent.Folder) { f.Watch.Include = []string{"*"} })
	e.start()
	long := strings.Repeat("x", 242) + ".pdf"    // 246 bytes
	longTxt := strings.Repeat("y", 245) + ".txt" // its .p7s plus " (1)" would not fit
	e.drop(long, []byte("not a pdf at all\n"))
	e.drop(longTxt, []byte("a plain document\n"))
	e.waitFor("outcomes", func() bool { return len(files(e.errDir)) == 2 && len(files(e.outbox)) == 2 })
	var jsonName string
	for _, f := range files(e.errDir) {
		if len(f) > 255 {
			t.Errorf("name too long: %s", f)
		}
		if strings.HasSuffix(f, ".error.json") {
			jsonName = f
		}
	}
	if jsonName == "" {
		t.Fatalf("no error file: %v", files(e.errDir))
	}
	ef := e.errorFile(strings.TrimSuffix(jsonName, ".error.json"))
	if ef.Code != signagent.CodeNotAPDF || ef.File != long || !exists(filepath.Join(e.errDir, ef.StoredAs)) {
		t.Errorf("error file %+v", ef)
	}
	for _, f := range files(e.outbox) {
		if len(f) > 255 {
			t.Errorf("output name too long: %s", f)
		}
	}
	st, err := e.a.Status(context.Background())
	if err != nil || st.Folders[0].Held != "" {
		t.Errorf("folder held: %v %q", err, st.Folders[0].Held)
	}
}

// TestHoldBacksOffFromSeconds: a held folder tries again after HoldMin
// first, not after the long HoldRetry.
func TestHoldBacksOffFromSeconds(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	e.startWith(func(a *agent.Agent) { a.HoldMin, a.HoldRetry = 100*time.Millisecond, time.Hour })
	e.waitFor("agent started", func() bool { return strings.Contains(e.logs.String(), "agent started") })
	away := e.outbox + ".unmounted"
	must(t, os.Rename(e.outbox, away))
	e.drop("inv.pdf", pdf)
	e.waitFor("folder held", func() bool {
		st, err := e.a.Status(context.Background())
		return err == nil && st.Folders[0].Held != ""
	})
	must(t, os.Rename(away, e.outbox))
	e.waitFor("published soon after the outbox came back", func() bool { return exists(filepath.Join(e.outbox, "inv.pdf")) })
}

// recorded is the ledger's record of the published document called rel.
func (e *env) recorded(rel string) *ledger.Doc {
	e.t.Helper()
	for id := int64(1); id < 100; id++ {
		if d, err := e.db.Get(context.Background(), id); err == nil && d.Rel == rel && d.State == signagent.StatePublished {
			return d
		}
	}
	e.t.Fatalf("no published document %s in the ledger", rel)
	return nil
}

// TestHostileInputsOneOutcomeEach drops a mix of hostile and odd inputs
// into a running agent: mutated and malformed PDFs, XML with external
// entities, entity bombs and two roots, links to secrets, a FIFO, empty and
// binary files. Every input must end in exactly one place (outbox, or
// error/ with its error file), every output must verify, no byte of a file
// outside the inbox may appear anywhere, and the agent must keep running.
func TestHostileInputsOneOutcomeEach(t *testing.T) {
	t.Parallel()
	pdfs := corpusFiles(t, ".pdf")
	base, err := os.ReadFile(pdfs[0])
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	secret := []byte("TOP-SECRET-hostile-suite-4411")
	must(t, os.WriteFile(filepath.Join(outside, "secret"), secret, 0o600))
	secretURL := "file://" + filepath.ToSlash(filepath.Join(outside, "secret"))

	inputs := map[string][]byte{
		"truncated.pdf":      base[:len(base)/2],
		"huge-size.pdf":      bytes.Replace(base, []byte("/Size "), []byte("/Size 2147483653 /Ignored "), 1),
		"junk-before.pdf":    append([]byte("JUNK BEFORE THE HEADER\n"), base...),
		"garbage-after.pdf":  append(append([]byte{}, base...), []byte("\ngarbage after the end\x00\x01\x02")...),
		"many-eof.pdf":       append(append([]byte{}, base...), bytes.Repeat([]byte("%%EOF\n"), 200)...),
		"header-only.pdf":    []byte("%PDF-1.7\n%%EOF\n"),
		"xxe.xml":            []byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "` + secretURL + `">]><a>&x;</a>`),
		"xxe-param.xml":      []byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY % p SYSTEM "` + secretURL + `"> %p;]><a/>`),
		"laughs.xml":         []byte(`<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]><l>&h;</l>`),
		"two-roots.xml":      []byte(`<a/><b/>`),
		"internal-dtd.xml":   []byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY co "ACME Lda.">]><a><seller>&co;</seller></a>`),
		"not-xml.xml":        []byte("just text"),
		"binary.txt":         {0, 1, 2, 3, 0xff, 0xfe, 0, 0},
		"empty.pdf":          nil,
		"line\nbreak.pdf":    append(append([]byte{}, base...), []byte("\n% name with a line break\n")...),
		"-dash and spc .xml": []byte(`<a>ok</a>`),
	}
	// Random single-byte mutations of a real PDF, seeded for repeatability.
	seed := uint32(20261129)
	for i := range 12 {
		m := append([]byte{}, base...)
		for range 4 {
			seed = seed*1664525 + 1013904223
			m[int(seed>>8)%len(m)] ^= byte(seed)
		}
		inputs[fmt.Sprintf("mutated-%02d.pdf", i)] = m
	}

	e := newEnv(t, func(f *agent.Folder) { f.Watch.Include = []string{"*"} })
	e.start()
	for name, data := range inputs {
		e.drop(name, data)
	}
	links := []string{"secret-link.txt", "secret-link.pdf", "secret-link.xml"}
	for _, l := range links {
		must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(e.inbox, l)))
	}
	want := len(inputs) + len(links)
	outcomes := func() (out, failed map[string]bool) {
		out, failed = map[string]bool{}, map[string]bool{}
		for _, f := range files(e.outbox) {
			if strings.HasSuffix(f, ".p7s") {
				out[strings.TrimSuffix(f, ".p7s")] = true
			} else if !exists(filepath.Join(e.outbox, f+".p7s")) {
				out[f] = true
			}
		}
		for _, f := range files(e.errDir) {
			if strings.HasSuffix(f, ".error.json") {
				failed[strings.TrimSuffix(f, ".error.json")] = true
			}
		}
		return out, failed
	}
	e.waitFor("every input accounted for", func() bool {
		out, failed := outcomes()
		return len(out)+len(failed) >= want
	})
	select {
	case err := <-e.done:
		t.Fatalf("the agent stopped: %v", err)
	default:
	}
	out, failed := outcomes()
	for name := range inputs {
		if out[name] == failed[name] {
			t.Errorf("%q: published %v, failed %v: want exactly one", name, out[name], failed[name])
		}
	}
	for _, l := range links {
		if !failed[l] || out[l] {
			t.Errorf("%s: want error/ only", l)
		} else if ef := e.errorFile(l); ef.Code != signagent.CodeNotRegular {
			t.Errorf("%s: %s", l, ef.Code)
		}
	}
	for name := range out {
		p := filepath.Join(e.outbox, name)
		if !strings.HasSuffix(name, ".pdf") && !strings.HasSuffix(name, ".xml") {
			p += ".p7s"
		}
		vs, err := signer.VerifyFile(context.Background(), p)
		if err != nil || len(vs) == 0 || !vs[len(vs)-1].Valid {
			t.Errorf("%q published but does not verify: %v %+v", name, err, vs)
		}
		if strings.HasSuffix(name, ".pdf") && have("pdfsig") {
			if o := pdfsig(t, p); !strings.Contains(o, "Signature is Valid.") {
				t.Errorf("%q published but pdfsig does not accept it:\n%s", name, o)
			}
		}
	}
	for _, name := range []string{"xxe.xml", "xxe-param.xml", "laughs.xml", "two-roots.xml", "not-xml.xml", "empty.pdf", "truncated.pdf", "huge-size.pdf"} {
		if !failed[name] {
			t.Errorf("%s: want it refused", name)
		}
	}
	for _, name := range []string{"internal-dtd.xml", "junk-before.pdf", "garbage-after.pdf", "many-eof.pdf", "binary.txt"} {
		if !out[name] {
			t.Errorf("%s: want it signed", name)
		}
	}
	if left := files(e.inbox); len(left) > 0 {
		t.Errorf("left in the inbox: %v", left)
	}
	e.noBytesFrom(secret)
	st, err := e.a.Status(context.Background())
	if err != nil || st.Folders[0].Held != "" {
		t.Errorf("folder held: %v %+v", err, st)
	}
}

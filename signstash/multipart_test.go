package signstash_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/minipdf"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

// saas points c at the emulator's Integration Service, which answers the
// multipart call without content (the documents come as the ZIP).
func saas(c *signstash.Config) {
	c.BaseURL = strings.Replace(c.BaseURL, "einvoice-integration-client-ws", "einvoice-integration-ws", 1)
}

// callLog records the calls a client makes: method and path.
type callLog struct {
	mu    sync.Mutex
	calls []string
	ctype map[string]string
}

func (c *callLog) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.calls = append(c.calls, r.Method+" "+r.URL.Path)
	if c.ctype == nil {
		c.ctype = map[string]string{}
	}
	c.ctype[r.URL.Path] = r.Header.Get("Content-Type")
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *callLog) count(method, suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.calls {
		if strings.HasPrefix(s, method+" ") && strings.HasSuffix(s, suffix) {
			n++
		}
	}
	return n
}

// TestMultipartSyncSigned signs a batch through the emulator with the
// multipart transport: binary files up, the ZIP down (or the content the
// answer carries). The batch holds two
// documents of the same name and one with a name outside ASCII; the
// emulator matches files by order and by name, so both readings must agree.
func TestMultipartSyncSigned(t *testing.T) {
	calls := &callLog{}
	for _, service := range []string{"einvoice-integration-ws", "einvoice-integration-client-ws"} {
		t.Run(service, func(t *testing.T) {
			e := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) {
				c.Transport = signstash.TransportMultipart
				c.Mode = signstash.ModeSync
				c.HTTPClient = &http.Client{Transport: calls}
				c.TempDir = t.TempDir()
			})
			e.cfg.BaseURL = strings.Replace(e.cfg.BaseURL, "einvoice-integration-client-ws", service, 1)
			client, err := signstash.New(e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			b := e.batch("mp-"+service[:10], 4)
			// Names as the inbox may hand them: a repeat and a non-ASCII one.
			b.Docs[1].Name = b.Docs[0].Name
			b.Docs[2].Name = "fatura nº 7 «março».pdf"
			op, err := client.Submit(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			checkSigned(t, b, op)
			for _, d := range b.Docs {
				if n := e.cluster.Instances[0].Signed(d.Ref); n != 1 {
					t.Fatalf("%s signed %d times", d.Ref, n)
				}
			}
			if n := calls.count("POST", "/api/v0/document/sign"); n != 1 {
				t.Fatalf("%d multipart sign calls, want 1: %v", n, calls.calls)
			}
			// The Integration Service answers without content, as asked;
			// the proxy's sync answer carries it anyway (the emulator
			// follows the inference of SIGNSTASH-API.md §11.4): no ZIP.
			zips := map[string]int{"einvoice-integration-ws": 1, "einvoice-integration-client-ws": 0}[service]
			if n := calls.count("GET", "/documents"); n != zips {
				t.Fatalf("%d ZIP downloads, want %d: %v", n, zips, calls.calls)
			}
			if n := calls.count("POST", "/base64"); n != 0 {
				t.Fatalf("the base64 call was used: %v", calls.calls)
			}
			calls.mu.Lock()
			calls.calls = nil
			calls.mu.Unlock()
		})
	}
}

// TestMultipartZipLayouts: the ZIP of deflated entries (as a Java service
// writes it) is read as it arrives: one download, nothing spooled in
// TempDir. One of stored entries whose sizes follow their data cannot be
// read that way: it is downloaded again, spooled in TempDir, read whole
// and the spool removed. Either way every output is the signed original
// and no temporary file is left beside the outputs.
func TestMultipartZipLayouts(t *testing.T) {
	for _, c := range []struct {
		name      string
		stored    bool
		downloads int
	}{{"deflated, streamed", false, 1}, {"stored with descriptors, spooled", true, 2}} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			calls := &callLog{}
			e := newEnv(t, 1, sim.Config{Sign: sim.MarkerSign, ZipStored: c.stored}, func(cfg *signstash.Config) {
				saas(cfg)
				cfg.Transport = signstash.TransportMultipart
				cfg.TempDir = tmp
				cfg.HTTPClient = &http.Client{Transport: calls}
			})
			b := e.batch("zip", 3)
			op, err := e.client.Submit(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range op.Results {
				if r.Err != nil {
					t.Fatalf("doc %d: %v", i, r.Err)
				}
				in, _ := os.ReadFile(b.Docs[i].Path)
				out, _ := os.ReadFile(b.Docs[i].Out)
				if !bytes.HasPrefix(out, in) || !bytes.Contains(out[len(in):], []byte("signstash-sim")) {
					t.Fatalf("doc %d: output is not the marked original", i)
				}
			}
			if n := calls.count("GET", "/documents"); n != c.downloads {
				t.Fatalf("%d ZIP downloads, want %d: %v", n, c.downloads, calls.calls)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Fatalf("spool files left in TempDir: %v", left)
			}
			left, _ := filepath.Glob(filepath.Join(e.dir, ".signstash-*"))
			if len(left) != 0 {
				t.Fatalf("temporary files left beside the outputs: %v", left)
			}
		})
	}
}

// TestMultipartDocumentErrors: a document the emulator fails has no ZIP
// entry and fails alone; the others are signed.
func TestMultipartDocumentErrors(t *testing.T) {
	e := newEnv(t, 1, sim.Config{Sign: sim.MarkerSign, Faults: sim.Faults{DocErrorRate: 0.5, DocError: "INVALID_CERTIFICATE_SIGN_ERROR"}}, func(c *signstash.Config) {
		saas(c)
		c.Transport = signstash.TransportMultipart
		c.TempDir = t.TempDir()
	})
	b := e.batch("mp-errors", 12)
	op, err := e.client.Submit(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	var ok, bad int
	for i, r := range op.Results {
		_, statErr := os.Stat(b.Docs[i].Out)
		switch {
		case r.Err == nil && statErr == nil:
			ok++
		case r.Err != nil && signagent.KindOf(r.Err) == signagent.KindDocument && os.IsNotExist(statErr):
			bad++
		default:
			t.Fatalf("doc %d: result %v, output %v", i, r.Err, statErr)
		}
	}
	if ok == 0 || bad == 0 {
		t.Fatalf("%d signed, %d failed: want some of each", ok, bad)
	}
}

// TestVisibleLocationsReachTheService: the folder's visible-signature
// location arrives at the emulator as SIGN_FIELD (the field's rectangle),
// PLACEHOLDER (the word's position) or COORDINATE, with both transports;
// a missing word fails the batch as a document error (400 / 2.2.1).
func TestVisibleLocationsReachTheService(t *testing.T) {
	var mu sync.Mutex
	got := map[string]*signing.Visible{}
	rec := func(ctx context.Context, in, out, name string, tp signing.Type, o signing.Options) error {
		mu.Lock()
		got[name] = o.Visible
		mu.Unlock()
		return sim.MarkerSign(ctx, in, out, name, tp, o)
	}
	for _, transport := range []string{signstash.TransportBase64, signstash.TransportMultipart} {
		t.Run(transport, func(t *testing.T) {
			e := newEnv(t, 1, sim.Config{Sign: rec}, func(c *signstash.Config) {
				saas(c)
				c.Transport = transport
				c.TempDir = t.TempDir()
			})
			pdf := fieldPDF("Signature1", "SIGNHERE")
			vis := []*signing.Visible{
				{Location: signing.LocationSignField, Field: "Signature1"},
				{Location: signing.LocationPlaceholder, Placeholder: "SIGNHERE", W: 120, H: 40},
				{Page: 1, X: 50, Y: 60, W: 150, H: 45},
			}
			want := []signing.Visible{
				{Page: 1, X: 100, Y: 200, W: 200, H: 60},
				{Page: 1, X: 72, Y: 700, W: 120, H: 40},
				{Page: 1, X: 50, Y: 60, W: 150, H: 45},
			}
			b := &signing.Batch{Ref: "vis-" + transport}
			for i, v := range vis {
				name := fmt.Sprintf("%s-%d.pdf", transport, i)
				p := filepath.Join(e.dir, name)
				if err := os.WriteFile(p, pdf, 0o600); err != nil {
					t.Fatal(err)
				}
				b.Docs = append(b.Docs, signing.Doc{Ref: fmt.Sprintf("%s.%d", b.Ref, i), Name: name, Path: p, Size: int64(len(pdf)), Out: p + ".signed",
					Opts: signing.Options{Type: signing.TypePAdES, Visible: v}})
			}
			op, err := e.client.Submit(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range op.Results {
				if r.Err != nil {
					t.Fatalf("doc %d: %v", i, r.Err)
				}
				mu.Lock()
				g := got[b.Docs[i].Name]
				mu.Unlock()
				if g == nil || g.Page != want[i].Page || g.X != want[i].X || g.Y != want[i].Y || g.W != want[i].W || g.H != want[i].H {
					t.Errorf("doc %d (%s): the service placed the signature at %+v, want %+v", i, vis[i].Location, g, want[i])
				}
			}

			// A word the document lacks: the service refuses the request.
			p := filepath.Join(e.dir, transport+"-noword.pdf")
			os.WriteFile(p, fieldPDF("", "other"), 0o600)
			nb := &signing.Batch{Ref: "noword-" + transport, Docs: []signing.Doc{{Ref: "noword-" + transport + ".0", Name: "noword.pdf", Path: p, Size: 1, Out: p + ".signed",
				Opts: signing.Options{Type: signing.TypePAdES, Visible: &signing.Visible{Location: signing.LocationPlaceholder, Placeholder: "SIGNHERE"}}}}}
			fi, _ := os.Stat(p)
			nb.Docs[0].Size = fi.Size()
			_, err = e.client.Submit(context.Background(), nb)
			wantKind(t, err, signagent.KindDocument, "2.2.1")
		})
	}
}

// fieldPDF is a one-page PDF holding a signature field named field at
// [100 200 300 260] (none when empty) and the text "Sign here: word" at 72
// 700, in a Flate-compressed content stream.
func fieldPDF(field, word string) []byte {
	acro, annots := "", ""
	if field != "" {
		acro = " /AcroForm << /Fields [6 0 R] /SigFlags 1 >>"
		annots = " /Annots [6 0 R]"
	}
	return minipdf.File(
		"<< /Type /Catalog /Pages 2 0 R"+acro+" >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >>"+annots+" >>",
		minipdf.FlateStream(fmt.Sprintf("BT /F1 12 Tf 72 700 Td (%s) Tj ET", word)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /FT /Sig /T (%s) /Type /Annot /Subtype /Widget /Rect [100 200 300 260] /F 4 /P 3 0 R >>", field),
	)
}

// TestMultipartAsyncSigned registers a batch on the proxy with the
// multipart register call, polls it and downloads the result as the ZIP
// at the instance that holds it (the detail without content, then the
// ZIP), never as base64.
func TestMultipartAsyncSigned(t *testing.T) {
	calls := &callLog{}
	e := newEnv(t, 2, sim.Config{}, func(c *signstash.Config) {
		c.Transport = signstash.TransportMultipart
		c.Mode = signstash.ModeAsync
		c.HTTPClient = &http.Client{Transport: calls}
		c.TempDir = t.TempDir()
	})
	ctx := context.Background()
	b := e.batch("mp-async", 6)
	op, err := e.client.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if op.Done || op.Endpoint == "" {
		t.Fatalf("async submit returned %+v", op)
	}
	op = e.settle(ctx, b, op)
	checkSigned(t, b, op)
	if n := calls.count("POST", "/api/v0/async/document/sign"); n != 1 {
		t.Fatalf("%d multipart register calls, want 1: %v", n, calls.calls)
	}
	if n := calls.count("GET", "/contentInResponse/false"); n != 1 {
		t.Fatalf("%d detail calls without content, want 1: %v", n, calls.calls)
	}
	if n := calls.count("GET", "/documents"); n != 1 {
		t.Fatalf("%d ZIP downloads, want 1: %v", n, calls.calls)
	}
	calls.mu.Lock()
	defer calls.mu.Unlock()
	for _, c := range calls.calls {
		if strings.Contains(c, "base64") || strings.Contains(c, "/async/operation/mp-async") {
			t.Fatalf("a base64 call was used: %v", calls.calls)
		}
	}
}

// TestMultipartAsyncProxyOnlySigns: an instance without the operation
// detail and ZIP calls still delivers: the result comes with its content.
func TestMultipartAsyncProxyOnlySigns(t *testing.T) {
	calls := &callLog{}
	e := newEnv(t, 1, sim.Config{NoProxyLookup: true}, func(c *signstash.Config) {
		c.Transport = signstash.TransportMultipart
		c.Mode = signstash.ModeAsync
		c.HTTPClient = &http.Client{Transport: calls}
	})
	ctx := context.Background()
	b := e.batch("mp-only-signs", 3)
	op, err := e.client.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	op = e.settle(ctx, b, op)
	checkSigned(t, b, op)
	if n := calls.count("GET", "/async/operation/mp-only-signs"); n != 1 {
		t.Fatalf("%d result calls, want 1: %v", n, calls.calls)
	}
}

package sim_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signer/signertest"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

// localSign is a SignFunc signing with the local signer and a development
// certificate, so outputs are real signatures the suite can verify.
func localSign(t *testing.T) sim.SignFunc {
	t.Helper()
	l, err := signer.NewLocal(signer.LocalConfig{Name: "signstash-sim", Certificate: "dev", DataDir: t.TempDir(), Workers: 1,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, in, out, name string, typ signing.Type, o signing.Options) error {
		o.Type = typ
		_, err := l.SignFile(ctx, in, out, name, o)
		return err
	}
}

// TestBackendConformance runs the backend conformance suite against the
// Sign'Stash client over the emulator: through the proxy (sync and async,
// base64 and multipart transports) and through the SaaS path.
func TestBackendConformance(t *testing.T) {
	const corpus = "../../testdata/corpus"
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("corpus of real invoices not found: %v", err)
	}
	sign := localSign(t)
	for _, c := range []struct {
		name, path, mode, transport string
	}{
		{"proxy sync base64", "/signstash/einvoice-integration-client-ws", signstash.ModeSync, signstash.TransportBase64},
		{"proxy async base64", "/signstash/einvoice-integration-client-ws", signstash.ModeAsync, signstash.TransportBase64},
		{"proxy sync multipart", "/signstash/einvoice-integration-client-ws", signstash.ModeSync, signstash.TransportMultipart},
		{"proxy async multipart", "/signstash/einvoice-integration-client-ws", signstash.ModeAsync, signstash.TransportMultipart},
		{"saas sync base64", "/signstash/einvoice-integration-ws", signstash.ModeSync, signstash.TransportBase64},
		{"saas sync multipart", "/signstash/einvoice-integration-ws", signstash.ModeSync, signstash.TransportMultipart},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := sim.StartCluster(sim.Config{Clients: map[string]sim.Client{alias: {Secret: secret}}, Sign: sign, TokenAddr: "127.0.0.1:0"}, "127.0.0.1:0", 1)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			b, err := signstash.New(signstash.Config{Name: "sim", BaseURL: cl.URL + c.path, TokenURL: cl.TokenURL + "/oauth2/authorization-server/oauth/token",
				ClientID: alias, ClientSecret: secret, Mode: c.mode, Transport: c.transport, PollInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			// What the suite's MixedBatch checks of signed documents, run
			// whatever the gaps below: real signatures, verified.
			verifySignedBatch(t, b, corpus)
			calls := cl.Instances[0].Stats().Calls
			if c.transport == signstash.TransportMultipart && calls["multipart_sign"]+calls["async_register_multipart"] == 0 {
				t.Errorf("multipart transport made no multipart call: %v", calls)
			}
			if c.transport == signstash.TransportBase64 && calls["multipart_sign"]+calls["async_register_multipart"] != 0 {
				t.Errorf("base64 transport made multipart calls: %v", calls)
			}
			signertest.Conformance(t, b, signertest.Config{
				PDF: filepath.Join(corpus, "ZUGFeRDv1/correct/Konik/acme_invoice-42_ZUGFeRD.pdf"),
				XML: filepath.Join(corpus, "XML-Rechnung/CII/EN16931_Einfach.cii.xml"),
				// The service signs PDF and XML only.
				CAdES:    false,
				MaxPolls: 500,
			})
		})
	}
}

// verifySignedBatch signs a PDF and an XML invoice through b and verifies
// both outputs.
func verifySignedBatch(t *testing.T, b *signstash.Client, corpus string) {
	t.Helper()
	dir := t.TempDir()
	ref := "verified-" + time.Now().Format("150405.000000000")
	batch := &signing.Batch{Ref: ref}
	for i, src := range []string{"ZUGFeRDv1/correct/Konik/acme_invoice-42_ZUGFeRD.pdf", "XML-Rechnung/CII/EN16931_Einfach.cii.xml"} {
		data, err := os.ReadFile(filepath.Join(corpus, src))
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(src)
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o600)
		batch.Docs = append(batch.Docs, signing.Doc{Ref: fmt.Sprintf("%s-%d", ref, i), Name: name, Path: p, Size: int64(len(data)),
			Out: filepath.Join(dir, "signed-"+name), Opts: signing.Options{Type: signing.TypeAuto}})
	}
	op, err := b.Submit(context.Background(), batch)
	for i := 0; err == nil && !op.Done; i++ {
		if i == 500 {
			t.Fatal("not done after 500 polls")
		}
		time.Sleep(10 * time.Millisecond)
		op, err = b.Poll(context.Background(), batch, op)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range batch.Docs {
		if op.Results[i].Err != nil {
			t.Errorf("%s: %v", d.Name, op.Results[i].Err)
			continue
		}
		vs, err := signer.VerifyFile(context.Background(), d.Out)
		if err != nil || len(vs) == 0 || !vs[len(vs)-1].Valid {
			t.Errorf("%s: VerifyFile = %+v, %v", d.Name, vs, err)
		}
	}
}

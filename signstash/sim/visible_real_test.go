package sim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
)

// TestVisibleLocationsSign: the located signatures are real ones, signed
// by the local signer into the test PDF (which already has a form) and
// verified.
func TestVisibleLocationsSign(t *testing.T) {
	l, err := signer.NewLocal(signer.LocalConfig{Name: "sim", Certificate: "dev", DataDir: t.TempDir(), Workers: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(ctx context.Context, in, out, name string, typ signing.Type, o signing.Options) error {
		o.Type = typ
		_, err := l.SignFile(ctx, in, out, name, o)
		return err
	}
	_, ts := start(t, Config{Sign: sign})
	tok := "Bearer " + token(t, ts, false)
	for ref, vis := range map[string]string{
		"field": `{"locationType":"SIGN_FIELD","locationValue":"Signature1"}`,
		"word":  `{"locationType":"PLACEHOLDER","locationValue":"SIGNHERE"}`,
	} {
		body := `{"externalReference":"` + ref + `","description":"d","returnSignedContent":true,"documents":[{"documentRequest":{"externalReference":"` + ref +
			`","name":"` + ref + `.pdf","contentType":"application/pdf","base64Content":"` + base64.StdEncoding.EncodeToString(testPDF("Signature1", "SIGNHERE")) +
			`"},"signatureInfo":{"signatureType":"PAdES","visibleSignatureInfo":` + vis + `}}]}`
		st, resp := call(t, "POST", ts.URL+"/signstash/einvoice-integration-ws/api/v0/document/sign/base64", tok, body)
		a := decodeOp(t, resp)
		if st != 200 || a.Status != "EXECUTED" {
			t.Fatalf("%s: %d %s", ref, st, resp)
		}
		out, _ := base64.StdEncoding.DecodeString(a.DocumentList[0].SignedContent)
		p := filepath.Join(t.TempDir(), ref+".pdf")
		os.WriteFile(p, out, 0o600)
		vs, err := signer.VerifyFile(context.Background(), p)
		if err != nil || len(vs) != 1 || !vs[0].Valid {
			b, _ := json.Marshal(vs)
			t.Fatalf("%s: VerifyFile %s %v", ref, b, err)
		}
	}
}

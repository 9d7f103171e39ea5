package signer_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signer/signertest"
)

func TestLocalConformance(t *testing.T) {
	p := testpki.New(t, true)
	l, err := signer.NewLocal(signer.LocalConfig{Name: "local", Certificate: p.ChainPEM, KeyFile: p.KeyPEM,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const corpus = "../testdata/corpus"
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("corpus of real invoices not found: %v", err)
	}
	signertest.Conformance(t, l, signertest.Config{
		PDF:   filepath.Join(corpus, "ZUGFeRDv1/correct/Konik/acme_invoice-42_ZUGFeRD.pdf"),
		XML:   filepath.Join(corpus, "XML-Rechnung/CII/EN16931_Einfach.cii.xml"),
		CAdES: true,
	})
}

package signer

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signer/cades"
	"github.com/signagent/signagent/signer/cms"
	"github.com/signagent/signagent/signer/pades"
	"github.com/signagent/signagent/signer/xades"
	"github.com/signagent/signagent/signing"
)

// LocalConfig configures the local signing backend.
type LocalConfig struct {
	Name string // backend name from the configuration
	// Certificate is "dev", a PKCS#12 (.p12/.pfx) path, or a PEM path holding
	// the certificate chain (and the key, unless KeyFile is set).
	Certificate string
	// KeyFile is the PEM private key when Certificate is a PEM chain
	// without it. Optional.
	KeyFile string
	// PasswordFile holds the PKCS#12 password (trailing newline trimmed);
	// empty for no password.
	PasswordFile string
	// TSAURL is an RFC 3161 timestamp authority; empty means no timestamps,
	// and documents asking for one then fail with a configuration error.
	TSAURL string
	// DataDir is where the development certificate lives.
	DataDir string
	// MaxSize refuses larger documents with TOO_LARGE; 0 means no limit.
	MaxSize int64
	// Workers is how many documents of a batch are signed in parallel;
	// 0 means runtime.NumCPU().
	Workers int
	// Logger receives warnings (development certificate, loose password
	// file permissions); nil means slog.Default().
	Logger *slog.Logger
	// HTTPClient reaches the TSA; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Local signs documents in-process with a key loaded once at construction.
// It is a synchronous Backend: Submit signs the whole batch and returns a
// Done operation. It is safe for concurrent use.
type Local struct {
	name    string
	key     crypto.Signer
	chain   []*x509.Certificate
	tsa     cms.Timestamper // nil without a TSA URL
	maxSize int64
	workers int
	log     *slog.Logger
	now     func() time.Time
}

var _ signing.Backend = (*Local)(nil)

// NewLocal loads the credentials and returns the backend. Errors are
// *signagent.Error of kind KindConfig with a hint: missing or unreadable
// files, wrong password, a key that matches no certificate, a certificate
// that is expired or not yet valid.
func NewLocal(cfg LocalConfig) (*Local, error) {
	l := &Local{name: cfg.Name, maxSize: cfg.MaxSize, workers: cfg.Workers, log: cfg.Logger, now: cfg.Now}
	if l.log == nil {
		l.log = slog.Default()
	}
	l.log = l.log.With("component", "signer", "backend", cfg.Name)
	if l.now == nil {
		l.now = time.Now
	}
	if l.workers <= 0 {
		l.workers = runtime.NumCPU()
	}
	var err error
	if cfg.Certificate == "dev" {
		l.key, l.chain, err = DevCredentials(cfg.DataDir, l.log, l.now())
	} else {
		l.key, l.chain, err = loadCredentials(cfg.Certificate, cfg.KeyFile, cfg.PasswordFile, l.log)
	}
	if err != nil {
		return nil, err
	}
	leaf, now := l.chain[0], l.now()
	switch {
	case now.After(leaf.NotAfter):
		return nil, signagent.ConfigError(fmt.Sprintf("the signing certificate %q expired on %s", leaf.Subject.CommonName, leaf.NotAfter.Format(time.DateOnly)),
			"renew the certificate and configure the new one", nil)
	case now.Before(leaf.NotBefore):
		return nil, signagent.ConfigError(fmt.Sprintf("the signing certificate %q is valid only from %s", leaf.Subject.CommonName, leaf.NotBefore.Format(time.RFC3339)),
			"check the system clock, or wait until the certificate is valid", nil)
	}
	if cfg.TSAURL != "" {
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 30 * time.Second}
		}
		l.tsa = &cms.TSA{URL: cfg.TSAURL, Client: client}
	}
	return l, nil
}

// Name is the configured backend name.
func (l *Local) Name() string { return l.name }

// Certificate is the signer's certificate.
func (l *Local) Certificate() *x509.Certificate { return l.chain[0] }

// SignFile signs the file at inPath, whose original name is name, into
// outPath (created or truncated) and returns the format used:
// o.Type.Resolve(name). PAdES and XAdES write the signed document, CAdES a
// detached .p7s signature. On any error no file is left at outPath.
//
// Document problems are *signagent.Error of kind KindDocument: EMPTY_FILE,
// TOO_LARGE, NOT_A_PDF, ENCRYPTED_PDF, CORRUPT_PDF, NOT_XML, UNREADABLE (the
// input vanished). A timestamp asked without a TSA, or an unknown format,
// is KindConfig; TSA outages are KindTransient; local I/O faults are
// returned wrapped (KindLocal for permission and disk-full errors).
//
// The output is flushed to disk before SignFile returns.
func (l *Local) SignFile(ctx context.Context, inPath, outPath string, name string, o signing.Options) (signing.Type, error) {
	return l.signFileHash(ctx, inPath, outPath, name, o, nil, nil, true)
}

// signFileHash is SignFile; when sum is not nil it receives the hex SHA-256
// of the bytes read and signed (XAdES and CAdES; for PAdES the original is
// the output's unchanged prefix, checked by CheckOutput), and when written
// is not nil it receives the digests of a PAdES output taken while it was
// signed (File stays nil for other types). The output is
// flushed when durable is set; a batch's outputs are not: the agent
// flushes every signed file before it publishes it, many at a time, so
// the signing workers do not wait on the disk between documents.
func (l *Local) signFileHash(ctx context.Context, inPath, outPath string, name string, o signing.Options, sum *string, written *signing.Written, durable bool) (signing.Type, error) {
	t := o.Type.Resolve(name)
	err := l.signFile(ctx, inPath, outPath, t, o, sum, written, durable)
	if err != nil {
		if rmErr := os.Remove(outPath); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			l.log.Warn("cannot remove failed output", "file", outPath, "err", rmErr)
		}
	}
	return t, err
}

func (l *Local) signFile(ctx context.Context, inPath, outPath string, t signing.Type, o signing.Options, sum *string, written *signing.Written, durable bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch t {
	case signing.TypePAdES, signing.TypeXAdES, signing.TypeCAdES:
	default:
		e := signagent.ConfigError(fmt.Sprintf("unknown signature type %q", t), "use auto, pades, xades or cades", nil)
		e.Code = signagent.CodeUnsupported
		return e
	}
	var tsa cms.Timestamper
	if o.Timestamp {
		if l.tsa == nil {
			return signagent.ConfigError("a timestamp was asked for but the local backend has no timestamp authority",
				"set tsa_url for the backend, or timestamp = false for the folder", nil)
		}
		tsa = l.tsa
	}
	st, err := os.Stat(inPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return signagent.DocError(signagent.CodeUnreadable, "the document disappeared before it was signed", "put the file in the inbox again")
	case err != nil:
		return fmt.Errorf("stat document: %w", err)
	case st.Size() == 0:
		return signagent.DocError(signagent.CodeEmptyFile, "the document is empty", "export the document again")
	case l.maxSize > 0 && st.Size() > l.maxSize:
		return signagent.DocError(signagent.CodeTooLarge,
			fmt.Sprintf("the document has %d bytes, more than the limit of %d", st.Size(), l.maxSize),
			"raise max_size for the backend or split the document")
	}
	when := o.Time
	if when.IsZero() {
		when = l.now()
	}
	f, err := os.Open(inPath)
	if err != nil {
		return fmt.Errorf("open document: %w", err)
	}
	defer f.Close()
	if t == signing.TypePAdES {
		// The contract lets Out exist already (a retried batch), and it is
		// ours to replace: removed, then created exclusively.
		if err := os.Remove(outPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("replace output: %w", err)
		}
		var vis *pades.Visible
		if o.Visible != nil {
			vis = &pades.Visible{Page: o.Visible.Page, X: o.Visible.X, Y: o.Visible.Y, W: o.Visible.W, H: o.Visible.H}
		}
		// pades reads back what it wrote: the output is opened read-write.
		return writeOutput(outPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, durable, func(out *os.File) error {
			return pades.Sign(ctx, f, out, l.key, l.chain, pades.Options{
				Reason: o.Reason, Location: o.Location, Name: o.Name, Time: when,
				Visible: vis, MaxSize: l.maxSize, Timestamper: tsa, Taken: written,
			})
		})
	}

	h := sha256.New()
	in := io.TeeReader(f, h)
	err = writeOutput(outPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, durable, func(out *os.File) error {
		switch t {
		case signing.TypeXAdES:
			var xo xades.Options
			if tsa != nil {
				xo.Timestamper = tsa
			}
			xo.Time, xo.Location = when, o.Location
			return xades.Sign(ctx, in, out, l.key, l.chain, xo)
		default: // CAdES
			sig, err := cades.Sign(ctx, in, l.key, l.chain, cms.Options{SigningTime: when, Timestamper: tsa})
			if err != nil {
				return err
			}
			_, err = out.Write(sig)
			return err
		}
	})
	if err == nil && sum != nil {
		// Whatever the format left unread still belongs to the document.
		if _, cerr := io.Copy(h, f); cerr != nil {
			return fmt.Errorf("read document: %w", cerr)
		}
		*sum = hex.EncodeToString(h.Sum(nil))
	}
	return err
}

// writeOutput creates outPath with flag (mode 0600), has write fill it,
// and flushes it when durable is set. The caller removes the file when an
// error is returned.
func writeOutput(outPath string, flag int, durable bool, write func(*os.File) error) error {
	out, err := os.OpenFile(outPath, flag, 0o600)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	err = write(out)
	if err == nil && durable {
		if serr := syncOutput(out); serr != nil {
			err = fmt.Errorf("write output: %w", serr)
		}
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write output: %w", cerr)
	}
	return err
}

// syncOutput flushes an output (a variable for the test that counts it).
var syncOutput = (*os.File).Sync

// Submit signs every document of b, up to Workers at a time, and returns a
// Done operation with one signing.Result per document in batch order. A bad
// document fails alone, in its signing.Result. Submit itself fails only when ctx
// ends first; outputs already written for the batch are then removed.
func (l *Local) Submit(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	results := make([]signing.Result, len(b.Docs))
	sem := make(chan struct{}, l.workers)
	var wg sync.WaitGroup
	for i := range b.Docs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			d := &b.Docs[i]
			var sum string
			w := new(signing.Written)
			_, err := l.signFileHash(ctx, d.Path, d.Out, d.Name, d.Opts, &sum, w, false)
			results[i] = signing.Result{Ref: d.Ref, Err: err, SHA256: sum}
			if err == nil && w.File != nil {
				results[i].Written = w
			}
		}(i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		for _, d := range b.Docs {
			os.Remove(d.Out)
		}
		return nil, err
	}
	return &signing.Operation{Ref: b.Ref, Done: true, Results: results}, nil
}

// Poll returns op unchanged: local operations are Done when submitted.
func (l *Local) Poll(ctx context.Context, b *signing.Batch, op *signing.Operation) (*signing.Operation, error) {
	return op, nil
}

// Lookup returns ErrNotFound: the local backend keeps no operations, so a
// batch whose outcome is unknown is simply signed again.
func (l *Local) Lookup(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	return nil, signing.ErrNotFound
}

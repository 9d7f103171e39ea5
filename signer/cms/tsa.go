package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/signagent/signagent"
)

// TSA is an RFC 3161 timestamp authority reached over HTTP.
type TSA struct {
	// URL is the authority's endpoint; credentials in it never reach errors.
	URL string
	// Client sends the requests; nil means a client with a 30 s timeout.
	Client *http.Client
}

var defaultTSAClient = &http.Client{Timeout: 30 * time.Second}

// Timestamp implements Timestamper. Unreachable authorities, 5xx and 429
// are transient errors; a refused or malformed answer is a configuration
// error.
func (t *TSA) Timestamp(ctx context.Context, digest []byte) ([]byte, error) {
	where := redact(t.URL)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("cms: timestamp nonce: %w", err)
	}
	req := &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest, Certificates: true, Nonce: nonce}
	body, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("cms: timestamp request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return nil, tsaConfig(where, "the timestamp authority URL is invalid", nil)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	hr.Header.Set("Accept", "application/timestamp-reply")
	c := t.Client
	if c == nil {
		c = defaultTSAClient
	}
	resp, err := c.Do(hr)
	if err != nil {
		return nil, signagent.TransientError(fmt.Sprintf("timestamp authority %s unreachable", where),
			tsaRetryHint+"; check the network path to the authority", stripURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, signagent.TransientError(fmt.Sprintf("timestamp authority %s: reading the reply failed", where), "", stripURL(err))
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return nil, signagent.TransientError(fmt.Sprintf("timestamp authority %s answered %s", where, resp.Status), tsaRetryHint, nil)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, tsaConfig(where, fmt.Sprintf("answered %s", resp.Status), nil)
	}
	ts, err := timestamp.ParseResponse(data)
	if err != nil {
		return nil, tsaConfig(where, "sent a reply that is not a valid timestamp", oneLine(err))
	}
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, digest) {
		return nil, tsaConfig(where, "timestamped another digest than the one sent", nil)
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, tsaConfig(where, "answered with a wrong nonce", nil)
	}
	return ts.RawToken, nil
}

// tsaRetryHint fits both the agent, which retries, and `signagent sign`,
// which does not.
const tsaRetryHint = "a temporary failure: the agent tries again by itself; signagent sign does not, run it again later"

// oneLine shortens a parser's error to its first line, at most 120
// characters, so a malformed reply is not dumped into messages.
func oneLine(err error) error {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return errors.New(s)
}

func tsaConfig(where, msg string, err error) error {
	return signagent.ConfigError(fmt.Sprintf("timestamp authority %s %s", where, msg),
		"check the timestamp authority URL in the configuration", err)
}

// redact returns u without user information or query, for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	p.User = nil
	p.RawQuery = ""
	p.Fragment = ""
	return p.String()
}

// stripURL drops the URL (which may hold credentials) from *url.Error.
func stripURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

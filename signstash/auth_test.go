package signstash_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

// countingTransport counts token requests.
type countingTransport struct{ tokens atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/oauth/token") {
		c.tokens.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// clock is an adjustable clock for the emulator.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func wantKind(t *testing.T, err error, k signagent.Kind, wireCode string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", k)
	}
	if signagent.KindOf(err) != k {
		t.Fatalf("kind %v, want %v: %v", signagent.KindOf(err), k, err)
	}
	var we *signstash.Error
	if wireCode != "" && (!errors.As(err, &we) || we.Code != wireCode) {
		t.Fatalf("wire code %v, want %s: %v", we, wireCode, err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the secret: %v", err)
	}
}

func TestAuthBadSecretAndUnknownClient(t *testing.T) {
	for name, mod := range map[string]func(*signstash.Config){
		"bad secret":     func(c *signstash.Config) { c.ClientSecret = "wrong-" + secret },
		"unknown client": func(c *signstash.Config) { c.ClientID = "PRT.000000000-PRT.000000000-nobody" },
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			e := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) {
				mod(c)
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			_, err := e.client.Submit(context.Background(), e.batch("auth", 1))
			wantKind(t, err, signagent.KindConfig, "unauthorized")
			wantKind(t, e.client.Check(context.Background()), signagent.KindConfig, "unauthorized")
			if signagent.HintOf(err) == "" {
				t.Error("no hint")
			}
			if strings.Contains(logs.String(), "s3cr3t") {
				t.Fatal("logs leak the secret")
			}
		})
	}
}

func TestAuthExpiredTokenRefreshed(t *testing.T) {
	for _, as409 := range []bool{false, true} {
		t.Run(map[bool]string{false: "401", true: "409 0.0.10"}[as409], func(t *testing.T) {
			clk := &clock{}
			ct := &countingTransport{}
			e := newEnv(t, 1, sim.Config{Now: clk.now, TokenLifetime: time.Hour, Faults: sim.Faults{ExpiredTokenAs409: as409}},
				func(c *signstash.Config) { c.HTTPClient = &http.Client{Transport: ct} })
			ctx := context.Background()
			if err := e.client.Check(ctx); err != nil {
				t.Fatal(err)
			}
			// The service's clock passes the token's expiry while the client
			// still believes it valid: the call is rejected, the client drops
			// the token, gets a new one and retries once.
			clk.advance(2 * time.Hour)
			b := e.batch("expired", 2)
			op, err := e.client.Submit(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			checkSigned(t, b, op)
			if n := ct.tokens.Load(); n != 2 {
				t.Fatalf("%d token requests, want 2", n)
			}
		})
	}
}

func TestAuthTokenFromOtherEnvironment(t *testing.T) {
	other := newEnv(t, 1, sim.Config{}, nil)
	e := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) { c.TokenURL = other.cfg.TokenURL })
	_, err := e.client.Submit(context.Background(), e.batch("env", 1))
	wantKind(t, err, signagent.KindConfig, "invalid_token")
}

func TestInactiveClientHoldsThenWorks(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, nil)
	ctx := context.Background()
	srv := e.cluster.Instances[0]
	if err := srv.SetClientStatus(alias, sim.StatusInactive); err != nil {
		t.Fatal(err)
	}
	b := e.batch("inactive", 2)
	_, err := e.client.Submit(ctx, b)
	wantKind(t, err, signagent.KindConfig, "1.1.1")
	wantKind(t, e.client.Check(ctx), signagent.KindConfig, "1.1.1")
	if srv.Signed(b.Docs[0].Ref) != 0 {
		t.Fatal("signed while inactive")
	}
	srv.SetClientStatus(alias, sim.StatusActive)
	op, err := e.client.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	checkSigned(t, b, op)
}

func TestErrorCodeFaultsClassified(t *testing.T) {
	cases := []struct {
		code string
		kind signagent.Kind
	}{
		{"0.0.1", signagent.KindTransient},
		{"0.0.2", signagent.KindDocument},
		{"0.0.3", signagent.KindConfig},
		{"0.0.6", signagent.KindDocument},
		{"1.1.0", signagent.KindConfig},
		{"1.2.0", signagent.KindConfig},
		{"1.3.0", signagent.KindConfig},
		{"2.2.1", signagent.KindDocument},
		{"429", signagent.KindTransient},
	}
	e := newEnv(t, 1, sim.Config{Faults: sim.Faults{RetryAfter: sim.Duration(7 * time.Second)}}, nil)
	for _, c := range cases {
		f := e.cluster.Instances[0].Faults()
		f.ErrorCode = c.code
		if err := e.cluster.Instances[0].SetFaults(f); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.Submit(context.Background(), e.batch("code-"+c.code, 1))
		want := c.code
		if c.code == "429" {
			want = ""
		}
		wantKind(t, err, c.kind, want)
		var se *signagent.Error
		errors.As(err, &se)
		if c.code == "429" && se.RetryAfter != 7*time.Second {
			t.Fatalf("429: RetryAfter %v, want 7s", se.RetryAfter)
		}
		// Only a 429 proves the send took nothing (no look-up needed).
		if notTaken := errors.Is(err, signing.ErrNotTaken); notTaken != (c.code == "429") {
			t.Errorf("%s: errors.Is(err, ErrNotTaken) = %v", c.code, notTaken)
		}
	}
}

// TestAuthSecretSentRaw: the documented token call carries
// base64(client_id:client_secret) of the raw values. A secret chosen in the
// back-office may hold any of + / @ % : and spaces; none may be escaped.
func TestAuthSecretSentRaw(t *testing.T) {
	for name, s := range map[string]string{"mixed": "a+b/c@d%41e:f g", "spaces": "with spaces  inside", "percent": "100%",
		"colons": "x:y:z", "plus": "plus+only", "reserved": "~!#$&'()*,;=?[]"} {
		t.Run(name, func(t *testing.T) {
			var auth atomic.Value
			rec := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if strings.HasSuffix(r.URL.Path, "/oauth/token") {
					auth.Store(r.Header.Get("Authorization"))
				}
				return http.DefaultTransport.RoundTrip(r)
			})
			e := newEnv(t, 1, sim.Config{Clients: map[string]sim.Client{alias: {Secret: s}}}, func(c *signstash.Config) {
				c.ClientSecret = s
				c.HTTPClient = &http.Client{Transport: rec}
			})
			b := e.batch("raw", 1)
			op, err := e.client.Submit(context.Background(), b)
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			checkSigned(t, b, op)
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte(alias+":"+s))
			if got, _ := auth.Load().(string); got != want {
				t.Fatal("the token request's Basic credentials are not base64(client_id:client_secret) of the raw values")
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTokenRenewedBeforeExpiry: the client keeps its token until 5
// minutes before it expires (80 % of a short lifetime) and then fetches a
// new one before calling, judged by its clock, never by waiting.
func TestTokenRenewedBeforeExpiry(t *testing.T) {
	for _, c := range []struct {
		life, keep, renew time.Duration
	}{
		{time.Hour, 54 * time.Minute, 56 * time.Minute},
		{time.Minute, 47 * time.Second, 49 * time.Second},
	} {
		t.Run(c.life.String(), func(t *testing.T) {
			clk := clockwork.NewFakeClock()
			ct := &countingTransport{}
			e := newEnv(t, 1, sim.Config{TokenLifetime: c.life}, func(cfg *signstash.Config) {
				cfg.HTTPClient = &http.Client{Transport: ct}
				cfg.Clock = clk
			})
			ctx := context.Background()
			call := func() {
				t.Helper()
				b := e.batch(fmt.Sprintf("tok-%d", ct.tokens.Load()), 1)
				if _, err := e.client.Submit(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			call()
			if n := ct.tokens.Load(); n != 1 {
				t.Fatalf("%d token requests, want 1", n)
			}
			clk.Advance(c.keep)
			call()
			if n := ct.tokens.Load(); n != 1 {
				t.Fatalf("after %s of a %s token: %d token requests, want 1 (kept)", c.keep, c.life, n)
			}
			clk.Advance(c.renew - c.keep)
			call()
			if n := ct.tokens.Load(); n != 2 {
				t.Fatalf("after %s of a %s token: %d token requests, want 2 (renewed)", c.renew, c.life, n)
			}
		})
	}
}

package signstash_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

func TestAsyncAffinityAcrossInstances(t *testing.T) {
	e := newEnv(t, 3, sim.Config{}, func(c *signstash.Config) { c.Mode = signstash.ModeAsync })
	ctx := context.Background()
	endpoints := map[string]bool{}
	for i := range 3 {
		b := e.batch(fmt.Sprintf("aff-%d", i), 2)
		op, err := e.client.Submit(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		endpoints[op.Endpoint] = true
		owner := -1
		for j, u := range e.cluster.InstanceURLs {
			if strings.TrimPrefix(u, "http://") == op.Endpoint {
				owner = j
			}
		}
		if owner < 0 {
			t.Fatalf("endpoint %q is none of the instances %v", op.Endpoint, e.cluster.InstanceURLs)
		}
		// The same poll at another instance fails: it knows nothing of it.
		wrong := *op
		wrong.Endpoint = strings.TrimPrefix(e.cluster.InstanceURLs[(owner+1)%3], "http://")
		if _, err := e.client.Poll(ctx, b, &wrong); !errors.Is(err, signing.ErrNotFound) {
			t.Fatalf("poll at the wrong instance: %v, want ErrNotFound", err)
		}
		op = e.settle(ctx, b, op)
		checkSigned(t, b, op)
		for _, d := range b.Docs {
			if n := e.cluster.Instances[owner].Signed(d.Ref); n != 1 {
				t.Fatalf("%s signed %d times on its instance", d.Ref, n)
			}
		}
	}
	if len(endpoints) != 3 {
		t.Fatalf("the balancer spread 3 batches over %d instances", len(endpoints))
	}
}

func TestLookupAsksEveryInstance(t *testing.T) {
	e := newEnv(t, 3, sim.Config{}, func(c *signstash.Config) { c.Mode = signstash.ModeAsync })
	// A second client that knows the instances.
	cfg := e.cfg
	for _, u := range e.cluster.InstanceURLs {
		cfg.Instances = append(cfg.Instances, strings.TrimPrefix(u, "http://"))
	}
	c2, err := signstash.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := e.batch("lookup-all", 2)
	op, err := c2.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 { // whichever instance the balancer picks first, Lookup finds it
		got, err := c2.Lookup(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Endpoint != op.Endpoint {
			t.Fatalf("lookup found %q, want %q", got.Endpoint, op.Endpoint)
		}
	}
	if _, err := c2.Lookup(ctx, e.batch("never-sent", 1)); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("lookup of an unknown batch: %v", err)
	}
}

// TestLookupInstancesAsBaseURLs: instances are written as the configuration
// documents them, base URLs, or as a URL without a path, or a bare
// host:port; every form reaches the instance.
func TestLookupInstancesAsBaseURLs(t *testing.T) {
	e := newEnv(t, 3, sim.Config{}, func(c *signstash.Config) { c.Mode = signstash.ModeAsync })
	forms := map[string]func(u string) string{
		"base URL":     func(u string) string { return u + "/signstash/einvoice-integration-client-ws/" },
		"URL, no path": func(u string) string { return u },
		"host:port":    func(u string) string { return strings.TrimPrefix(u, "http://") },
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			cfg := e.cfg
			for _, u := range e.cluster.InstanceURLs {
				cfg.Instances = append(cfg.Instances, form(u))
			}
			c, err := signstash.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			b := e.batch("inst-"+strings.ReplaceAll(name, " ", ""), 1)
			op, err := c.Submit(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			for range 4 { // the balancer sends the first ask to each instance in turn
				got, err := c.Lookup(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				if got.Endpoint != op.Endpoint {
					t.Fatalf("lookup found %q, want %q", got.Endpoint, op.Endpoint)
				}
			}
			if err := c.Check(ctx); err != nil {
				t.Fatalf("check: %v", err)
			}
		})
	}
}

// TestInstancesRefusedAtNew: an instance that is neither a base URL nor
// host:port is a configuration error naming its index, before any call.
func TestInstancesRefusedAtNew(t *testing.T) {
	for _, bad := range []string{"ftp://proxy:8081", "http://user:pw@proxy:8081", "proxy:99999", "http://", "proxy/x", "fd00::5:8081", ""} {
		_, err := signstash.New(signstash.Config{BaseURL: "https://lb:8443/signstash/einvoice-integration-client-ws",
			TokenURL: "https://auth/oauth/token", ClientID: alias, ClientSecret: secret, Instances: []string{"proxy-a:8081", bad}})
		if signagent.KindOf(err) != signagent.KindConfig || !strings.Contains(err.Error(), "instances[1]") {
			t.Errorf("%q: %v", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: the error echoes the password", bad)
		}
	}
}

// signLikeAgent drives a batch through the Backend contract the way the agent
// does: transient errors are retried (honouring RetryAfter, shortened for the
// test), an unknown outcome is looked up before any resend, and a vanished
// operation is resubmitted once Lookup proves it absent.
func signLikeAgent(t *testing.T, be signing.Backend, b *signing.Batch) *signing.Operation {
	op, _ := signCounting(t, be, b)
	return op
}

// signCounting is signLikeAgent, also returning how many calls failed.
func signCounting(t *testing.T, be signing.Backend, b *signing.Batch) (*signing.Operation, int) {
	t.Helper()
	failures := 0
	ctx := context.Background()
	pause := func(err error) {
		var se *signagent.Error
		if errors.As(err, &se) && se.RetryAfter > 0 {
			time.Sleep(min(se.RetryAfter, 20*time.Millisecond))
		}
	}
	var op *signing.Operation
	for attempt := 0; attempt < 500; attempt++ {
		var err error
		if op == nil {
			op, err = be.Submit(ctx, b)
			if err != nil {
				failures++
				if signagent.KindOf(err) != signagent.KindTransient {
					t.Fatalf("submit: %v", err)
				}
				pause(err)
				op, err = lookup(t, be, b)
				if err != nil {
					op = nil // proven absent: send again
				}
				continue
			}
		}
		if op.Done {
			return op, failures
		}
		next, err := be.Poll(ctx, b, op)
		switch {
		case errors.Is(err, signing.ErrNotFound):
			failures++
			if op, err = lookup(t, be, b); err != nil {
				op = nil
			}
		case err != nil:
			failures++
			if signagent.KindOf(err) != signagent.KindTransient {
				t.Fatalf("poll: %v", err)
			}
			pause(err)
		default:
			op = next
			time.Sleep(op.PollAfter)
		}
	}
	t.Fatal("gave up")
	return nil, 0
}

// lookup retries Lookup through transient errors; it returns ErrNotFound
// only when the backend proves the operation absent.
func lookup(t *testing.T, be signing.Backend, b *signing.Batch) (*signing.Operation, error) {
	for range 200 {
		op, err := be.Lookup(context.Background(), b)
		if err == nil || errors.Is(err, signing.ErrNotFound) {
			return op, err
		}
		if signagent.KindOf(err) != signagent.KindTransient {
			t.Fatalf("lookup: %v", err)
		}
	}
	t.Fatal("lookup never answered")
	return nil, nil
}

func TestFaultsSurvived(t *testing.T) {
	cases := []struct {
		name   string
		faults sim.Faults
		// lost: operations may be forgotten after signing, so a document may
		// be signed again (but is delivered once).
		lost bool
	}{
		{"fail-rate", sim.Faults{FailRate: 0.4}, false},
		{"throttle-rate", sim.Faults{ThrottleRate: 0.4, RetryAfter: sim.Duration(time.Second)}, false},
		{"reset-rate", sim.Faults{ResetRate: 0.4}, false},
		{"latency", sim.Faults{Latency: sim.Duration(20 * time.Millisecond)}, false},
		{"restart-after", sim.Faults{RestartAfter: 7}, true},
		{"all", sim.Faults{FailRate: 0.15, ThrottleRate: 0.15, ResetRate: 0.15}, false},
	}
	for _, c := range cases {
		// async-multipart: the signed documents come as the operation's
		// ZIP, read as it arrives.
		for _, run := range []string{signstash.ModeSync, signstash.ModeAsync, "async-multipart"} {
			mode, multipart := strings.CutSuffix(run, "-multipart")
			t.Run(c.name+"/"+run, func(t *testing.T) {
				e := newEnv(t, 1, sim.Config{Faults: c.faults, Seed: 7}, func(cf *signstash.Config) {
					cf.Mode = mode
					if multipart {
						cf.Transport = signstash.TransportMultipart
						cf.TempDir = t.TempDir()
					}
					// A single proxy listed as the only instance: its
					// "not found" proves absence.
					cf.Instances = []string{cf.BaseURL}
				})
				srv := e.cluster.Instances[0]
				failures := 0
				defer func() {
					// A restart between sync calls is invisible: nothing is in flight.
					if c.name != "latency" && !(c.name == "restart-after" && mode == signstash.ModeSync) && failures == 0 && !t.Failed() {
						t.Error("the fault never fired: nothing was tested")
					}
				}()
				for i := range 3 {
					b := e.batch(fmt.Sprintf("%s-%s-%d", c.name, run, i), 3)
					op, n := signCounting(t, e.client, b)
					failures += n
					checkSigned(t, b, op)
					for _, d := range b.Docs {
						s, dl := srv.Signed(d.Ref), srv.Delivered(d.Ref)
						if dl < 1 || s < 1 || (!c.lost && s != 1) {
							t.Fatalf("%s: signed %d times, delivered %d times", d.Ref, s, dl)
						}
					}
				}
			})
		}
	}
}

func TestDocumentErrorsPerDocument(t *testing.T) {
	for _, mode := range []string{signstash.ModeSync, signstash.ModeAsync} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, 1, sim.Config{Faults: sim.Faults{DocErrorRate: 0.5}, Seed: 3}, func(c *signstash.Config) { c.Mode = mode })
			srv := e.cluster.Instances[0]
			b := e.batch("docerr-"+mode, 8)
			op := signLikeAgent(t, e.client, b)
			failed := 0
			for i, d := range b.Docs {
				r := op.Results[i]
				if r.Err == nil {
					verifySigned(t, d)
					continue
				}
				failed++
				var se *signagent.Error
				if !errors.As(r.Err, &se) || se.Kind != signagent.KindDocument || se.Code != signagent.CodeSigningError ||
					!strings.Contains(se.Message, "INVALID_CERTIFICATE_SIGN_ERROR") {
					t.Fatalf("%s: %#v", d.Ref, r.Err)
				}
				if _, err := os.Stat(d.Out); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s: failed document has an output", d.Ref)
				}
				if srv.Signed(d.Ref) != 0 {
					t.Fatalf("%s: failed document counted as signed", d.Ref)
				}
			}
			if failed == 0 || failed == len(b.Docs) {
				t.Fatalf("%d of %d documents failed; the fault should hit some", failed, len(b.Docs))
			}
		})
	}
}

func TestRemoteDocumentRejectionAndTransientSignErrors(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, nil)
	ctx := context.Background()
	// A file named .pdf that is not a PDF: the signer refuses it, the rest of
	// the batch is signed.
	b := e.batch("bad-pdf", 2)
	os.WriteFile(b.Docs[1].Path, []byte("this is not a PDF"), 0o600)
	op, err := e.client.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if op.Results[0].Err != nil {
		t.Fatal(op.Results[0].Err)
	}
	if signagent.KindOf(op.Results[1].Err) != signagent.KindDocument {
		t.Fatalf("bad pdf: %v", op.Results[1].Err)
	}
	// A transient signError is retried, not failed.
	srv := e.cluster.Instances[0]
	srv.SetFaults(sim.Faults{DocErrorRate: 1, DocError: "TIMESTAMP_SIGN_ERROR"})
	b2 := e.batch("ts", 1)
	op, err = e.client.Submit(ctx, b2)
	if err != nil {
		t.Fatal(err)
	}
	if signagent.KindOf(op.Results[0].Err) != signagent.KindTransient {
		t.Fatalf("TIMESTAMP_SIGN_ERROR: %v", op.Results[0].Err)
	}
	srv.SetFaults(sim.Faults{DocErrorRate: 1, DocError: "INVALID_CERT_SERVICE_CREDS"})
	op, err = e.client.Submit(ctx, e.batch("creds", 1))
	if err != nil {
		t.Fatal(err)
	}
	if signagent.KindOf(op.Results[0].Err) != signagent.KindConfig {
		t.Fatalf("INVALID_CERT_SERVICE_CREDS: %v", op.Results[0].Err)
	}
}

func TestReusedReferenceLooksUp(t *testing.T) {
	for _, mode := range []string{signstash.ModeSync, signstash.ModeAsync} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) { c.Mode = mode })
			b := e.batch("reuse-"+mode, 2)
			op := signLikeAgent(t, e.client, b)
			checkSigned(t, b, op)
			for _, d := range b.Docs {
				os.Remove(d.Out)
			}
			// Sending the same batch again hits 0.0.7: the client finds the
			// existing operation instead of signing twice.
			op = signLikeAgent(t, e.client, b)
			checkSigned(t, b, op)
			for _, d := range b.Docs {
				if n := e.cluster.Instances[0].Signed(d.Ref); n != 1 {
					t.Fatalf("%s signed %d times", d.Ref, n)
				}
			}
		})
	}
}

func TestPathTemplatesConfigurable(t *testing.T) {
	paths := map[string]string{
		"async_register": "api/v1/async/sign",
		"async_status":   "api/v1/async/{externalReference}/status",
		"async_result":   "api/v1/async/{externalReference}/result",
	}
	e := newEnv(t, 1, sim.Config{Paths: paths}, func(c *signstash.Config) { c.Mode = signstash.ModeAsync; c.Paths = paths })
	b := e.batch("paths", 2)
	checkSigned(t, b, signLikeAgent(t, e.client, b))
	// A client on the default templates gets a configuration error.
	cfg := e.cfg
	cfg.Paths = nil
	c2, _ := signstash.New(cfg)
	_, err := c2.Submit(context.Background(), e.batch("paths2", 1))
	wantKind(t, err, signagent.KindConfig, "")
}

func TestSaaSSyncOnly(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) {
		c.BaseURL = strings.Replace(c.BaseURL, "einvoice-integration-client-ws", "einvoice-integration-ws", 1)
		c.SyncMaxFiles = 1
	})
	b := e.batch("saas", 3) // above SyncMaxFiles, yet sync: the SaaS has no async calls
	op, err := e.client.Submit(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	checkSigned(t, b, op)
	cfg := e.cfg
	cfg.Mode = signstash.ModeAsync
	if _, err := signstash.New(cfg); signagent.KindOf(err) != signagent.KindConfig {
		t.Fatalf("async on the SaaS: %v", err)
	}
}

var _ = url.Parse

// TestCheckReachesEveryInstance: check fails, naming the instance, when one
// configured instance does not answer.
func TestCheckReachesEveryInstance(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	e := newEnv(t, 2, sim.Config{}, func(c *signstash.Config) {
		c.Instances = []string{c.BaseURL, dead}
	})
	err = e.client.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "instances[1]") || !strings.Contains(err.Error(), dead) {
		t.Fatalf("check with an unreachable instance: %v", err)
	}
}

// TestLookupBehindBalancerNeverClaimsAbsence: behind a balancer with no
// instances listed, a "not found" comes from whichever instance the
// balancer picked, which knows only its own operations: Lookup must never
// turn it into proof of absence (a resend would sign twice). With every
// instance listed, absence is proven only when all of them deny it.
func TestLookupBehindBalancerNeverClaimsAbsence(t *testing.T) {
	for _, mode := range []string{signstash.ModeSync, signstash.ModeAsync} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, 2, sim.Config{}, func(c *signstash.Config) { c.Mode = mode })
			ctx := context.Background()
			b := e.batch("lb-"+mode, 1)
			if _, err := e.client.Submit(ctx, b); err != nil {
				t.Fatal(err)
			}
			found := 0
			for range 6 { // the balancer alternates between the instances
				op, err := e.client.Lookup(ctx, b)
				if errors.Is(err, signing.ErrNotFound) {
					t.Fatal("an arbitrary instance's 'not found' was taken as proof of absence")
				}
				if err == nil && op != nil {
					found++
				} else if signagent.KindOf(err) != signagent.KindTransient {
					t.Fatalf("lookup: %v", err)
				}
			}
			if found == 0 {
				t.Fatal("the instance holding the operation was never reached")
			}
			_, err := e.client.Lookup(ctx, e.batch("lb-never-"+mode, 1))
			if errors.Is(err, signing.ErrNotFound) || signagent.KindOf(err) != signagent.KindTransient {
				t.Fatalf("unknown batch without instances: %v, want a transient 'outcome unknown'", err)
			}
			// Every instance listed: absence is proven.
			cfg := e.cfg
			cfg.Instances = e.cluster.InstanceURLs
			c, err := signstash.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Lookup(ctx, e.batch("lb-never2-"+mode, 1)); !errors.Is(err, signing.ErrNotFound) {
				t.Fatalf("unknown batch, every instance listed: %v", err)
			}
			op, err := c.Lookup(ctx, b)
			if err != nil {
				t.Fatalf("known batch, every instance listed: %v", err)
			}
			if mode == signstash.ModeSync {
				op, err = c.Poll(ctx, b, op)
				for err == nil && !op.Done {
					time.Sleep(op.PollAfter)
					op, err = c.Poll(ctx, b, op)
				}
				if err != nil {
					t.Fatalf("poll of the operation found at its instance: %v", err)
				}
			}
			// proof_of_absence = "saas": even every instance's denial
			// proves nothing (an instance forgets its operations when it
			// restarts): the outcome stays unknown.
			cfg.ProofOfAbsence = signstash.ProofSaaS
			if c, err = signstash.New(cfg); err != nil {
				t.Fatal(err)
			}
			_, err = c.Lookup(ctx, e.batch("lb-never3-"+mode, 1))
			if errors.Is(err, signing.ErrNotFound) || signagent.KindOf(err) != signagent.KindTransient {
				t.Fatalf("unknown batch, every instance listed, proof_of_absence saas: %v, want a transient 'outcome unknown'", err)
			}
		})
	}
}

// TestErrorClassedByStatusThenCall: the documented 500 / 0.0.6 ("error
// validating request parameters") answering a look-up or a poll is a
// failure of that call, retried, not a rejection of the batch's documents;
// answering a sign call it still rejects the request.
func TestErrorClassedByStatusThenCall(t *testing.T) {
	var inject atomic.Bool
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if inject.Load() && r.Method == http.MethodGet {
			return &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
				Body: io.NopCloser(strings.NewReader(`{"errorCode":"0.0.6","errorCodeDescription":"Error validating request parameters.","causeMessage":"unknown reference"}`))}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	for _, mode := range []string{signstash.ModeSync, signstash.ModeAsync} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) {
				c.Mode, c.HTTPClient, c.Instances = mode, &http.Client{Transport: rt}, []string{c.BaseURL}
			})
			ctx := context.Background()
			b := e.batch("cls-"+mode, 1)
			op, err := e.client.Submit(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			inject.Store(true)
			defer inject.Store(false)
			_, err = e.client.Lookup(ctx, b)
			wantKind(t, err, signagent.KindTransient, "0.0.6")
			if mode == signstash.ModeAsync {
				_, err = e.client.Poll(ctx, b, op)
				wantKind(t, err, signagent.KindTransient, "0.0.6")
			}
		})
	}
}

// TestUnknownStatusIsRunning: an operation status the documentation does
// not list is "still running", never finished: no early fetch.
func TestUnknownStatusIsRunning(t *testing.T) {
	var fetches atomic.Int32
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || r.Method != http.MethodGet {
			return resp, err
		}
		if strings.Contains(r.URL.Path, "/async/operation/status/") || strings.Contains(r.URL.Path, "/operation/status/") {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			b = []byte(strings.NewReplacer(`"EXECUTED"`, `"IN_PROGRESS"`, `"PENDING_EXECUTION"`, `"IN_PROGRESS"`).Replace(string(b)))
			resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader(string(b))), int64(len(b))
			resp.Header.Del("Content-Length")
		} else {
			fetches.Add(1)
		}
		return resp, nil
	})
	e := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) {
		c.Mode, c.HTTPClient = signstash.ModeAsync, &http.Client{Transport: rt}
	})
	ctx := context.Background()
	b := e.batch("unknown-status", 1)
	op, err := e.client.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the emulator has signed by now
	for range 3 {
		if op, err = e.client.Poll(ctx, b, op); err != nil {
			t.Fatal(err)
		}
		if op.Done {
			t.Fatal("an unknown status was taken as finished")
		}
	}
	if n := fetches.Load(); n != 0 {
		t.Fatalf("%d result fetches for an operation whose status is unknown", n)
	}
}

package signstash_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

// TestServiceExplicit: a proxy at the …/einvoice-integration-ws path (as one
// page of the documentation gives it) is a proxy when service says so: its
// "not found" behind a balancer proves nothing, and async mode is allowed.
func TestServiceExplicit(t *testing.T) {
	e := newEnv(t, 2, sim.Config{}, func(c *signstash.Config) {
		c.BaseURL = strings.Replace(c.BaseURL, "einvoice-integration-client-ws", "einvoice-integration-ws", 1)
		c.Service = signstash.ServiceProxy
	})
	if _, err := e.client.Lookup(context.Background(), e.batch("svc-never", 1)); errors.Is(err, signing.ErrNotFound) {
		t.Fatal("a proxy configured at the SaaS path was taken for the SaaS: its 'not found' was trusted")
	}
	cfg := e.cfg
	cfg.Mode = signstash.ModeAsync
	if _, err := signstash.New(cfg); err != nil {
		t.Fatalf("async mode refused for an explicit proxy: %v", err)
	}
	cfg.Service = "cloud"
	if _, err := signstash.New(cfg); err == nil {
		t.Fatal("service \"cloud\" accepted")
	}
	// Inferred: the SaaS path is the SaaS, whose "not found" is authoritative.
	cfg = e.cfg
	cfg.Service = ""
	c, err := signstash.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(context.Background(), e.batch("svc-never2", 1)); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("SaaS look-up of an unknown batch: %v", err)
	}
}

// TestAsyncAnswerShapes: the instance named by an async answer is read in
// every plausible shape (numeric port, string port, one "host:port"), and
// each batch is followed at that instance.
func TestAsyncAnswerShapes(t *testing.T) {
	for _, form := range []string{sim.AdvertiseNumber, sim.AdvertiseStringPort, sim.AdvertiseJoined} {
		t.Run(form, func(t *testing.T) {
			var notFound atomic.Int32
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				resp, err := http.DefaultTransport.RoundTrip(r)
				if err == nil && resp.StatusCode == http.StatusNotFound {
					notFound.Add(1)
				}
				return resp, err
			})
			e := newEnv(t, 2, sim.Config{AdvertiseForm: form}, func(c *signstash.Config) {
				c.Mode, c.HTTPClient = signstash.ModeAsync, &http.Client{Transport: rt}
			})
			ctx := context.Background()
			for i := range 3 {
				b := e.batch("shape-"+form+"-"+string(rune('a'+i)), 1)
				op, err := e.client.Submit(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				if op.Endpoint == "" {
					t.Fatalf("no instance read from the %s answer", form)
				}
				checkSigned(t, b, e.settle(ctx, b, op))
			}
			if n := notFound.Load(); n != 0 {
				t.Fatalf("%d calls went to an instance that did not hold the operation", n)
			}
		})
	}
}

// TestInstanceScheme: an HTTPS balancer in front of plain-HTTP instances;
// the instances named by host:port are reached over instance_scheme.
func TestInstanceScheme(t *testing.T) {
	e := newEnv(t, 2, sim.Config{}, func(c *signstash.Config) { c.Mode = signstash.ModeAsync })
	back, _ := url.Parse(e.cluster.URL)
	front := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(back))
	t.Cleanup(front.Close)
	cfg := e.cfg
	cfg.BaseURL = strings.Replace(cfg.BaseURL, e.cluster.URL, front.URL, 1)
	cfg.TokenURL = strings.Replace(cfg.TokenURL, e.cluster.URL, front.URL, 1)
	cfg.HTTPClient = front.Client()
	cfg.InstanceScheme = "http"
	c, err := signstash.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := e.batch("scheme", 1)
	op, err := c.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for !op.Done {
		if op, err = c.Poll(ctx, b, op); err != nil {
			t.Fatalf("poll over instance_scheme http: %v", err)
		}
	}
	checkSigned(t, b, op)
}

// TestHTTPProxy: with http_proxy set every call goes through it, except to
// NO_PROXY hosts and loopback.
func TestHTTPProxy(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, nil)
	back, _ := url.Parse(e.cluster.URL)
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() || r.URL.Host != "signstash.test" {
			http.Error(w, "not a proxy request for signstash.test", http.StatusBadGateway)
			return
		}
		proxied.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Host, out.Host = back.Host, back.Host
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(proxy.Close)
	cfg := e.cfg
	cfg.BaseURL = strings.Replace(cfg.BaseURL, back.Host, "signstash.test", 1)
	cfg.TokenURL = strings.Replace(cfg.TokenURL, back.Host, "signstash.test", 1)
	cfg.HTTPProxy = proxy.URL
	cfg.HTTPClient = nil
	c, err := signstash.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := e.batch("via-proxy", 1)
	op, err := c.Submit(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	checkSigned(t, b, op)
	if proxied.Load() < 2 {
		t.Fatalf("%d calls through the proxy, want the token and the sign call", proxied.Load())
	}

	pf, err := signstash.ProxyFunc("http://proxy.corp:3128", func(k string) string {
		return map[string]string{"NO_PROXY": "internal.example, 10.0.0.0/8, .corp.example:8443"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	for u, direct := range map[string]bool{
		"https://msignstash.multicert.com/x": false, "https://proxy.internal.example/x": true,
		"http://10.1.2.3:8081/x": true, "https://a.corp.example:8443/x": true, "https://a.corp.example/x": false,
		"http://127.0.0.1:8081/x": true, "http://localhost/x": true,
	} {
		r, _ := http.NewRequest("GET", u, nil)
		p, _ := pf(r)
		if (p == nil) != direct {
			t.Errorf("%s: proxy %v, want direct=%v", u, p, direct)
		}
	}
	if _, err := signstash.ProxyFunc("http://user:pw@proxy:3128", func(string) string { return "" }); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("a proxy URL with a password: %v", err)
	}
}

// TestProxyWithoutLookup: a proxy that only signs answers the look-up with
// "no such call" (404 in the web server's shape): that is not "no such
// operation", even with every instance listed. The outcome stays unknown
// (transient, never ErrNotFound), and Describe says what check found.
func TestProxyWithoutLookup(t *testing.T) {
	e := newEnv(t, 1, sim.Config{NoProxyLookup: true}, func(c *signstash.Config) { c.Instances = []string{c.BaseURL} })
	ctx := context.Background()
	_, err := e.client.Lookup(ctx, e.batch("nolookup", 1))
	if errors.Is(err, signing.ErrNotFound) {
		t.Fatal("a missing look-up call was taken as proof of absence")
	}
	wantKind(t, err, signagent.KindTransient, "")
	if err := e.client.Check(ctx); err != nil {
		t.Fatalf("check of a proxy that only signs: %v", err)
	}
	if d := e.client.Describe(); !strings.Contains(d, "look-up: not offered") {
		t.Fatalf("describe: %s", d)
	}
	// The same proxy with its look-up: check says so.
	e2 := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) { c.Instances = []string{c.BaseURL} })
	if err := e2.client.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if d := e2.client.Describe(); !strings.Contains(d, "look-up: offered") {
		t.Fatalf("describe: %s", d)
	}
}

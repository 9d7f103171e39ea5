package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTokenListen: with --token-listen the token endpoint answers on its
// own address and not on --listen, and the demo secret it prints works.
func TestTokenListen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--token-listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "error"}, &out, &errs)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	tokenRe := regexp.MustCompile(`token:\s+(http://\S+)`)
	proxyRe := regexp.MustCompile(`proxy:\s+(http://\S+)/signstash`)
	var tokenURL, base string
	for i := 0; tokenURL == "" || base == ""; i++ {
		if i == 500 {
			t.Fatalf("no listening line: %s %s", out.String(), errs.String())
		}
		time.Sleep(10 * time.Millisecond)
		if m := tokenRe.FindStringSubmatch(out.String()); m != nil {
			tokenURL = m[1]
		}
		if m := proxyRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	id := regexp.MustCompile(`client_id\s+=\s+(\S+)`).FindStringSubmatch(out.String())
	sec := regexp.MustCompile(`client_secret\s+=\s+(\S+)`).FindStringSubmatch(out.String())
	if id == nil || sec == nil {
		t.Fatalf("no demo client: %s", out.String())
	}
	post := func(u string) (int, string) {
		req, _ := http.NewRequest("POST", u+"?grant_type=client_credentials", nil)
		req.SetBasicAuth(id[1], sec[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if !strings.HasPrefix(tokenURL, "http://") || strings.HasPrefix(tokenURL, base+"/") {
		t.Fatalf("token URL %s is on the business listener %s", tokenURL, base)
	}
	if st, body := post(tokenURL); st != 200 || !strings.Contains(body, "access_token") {
		t.Fatalf("token listener: %d %s", st, body)
	}
	if st, _ := post(base + "/oauth2/authorization-server/oauth/token"); st != 404 {
		t.Fatalf("token endpoint on --listen: %d, want 404", st)
	}
}

func TestTokenListenSameAddress(t *testing.T) {
	var out, errs syncBuffer
	err := run(context.Background(), []string{"--listen", "127.0.0.1:8999", "--token-listen", "127.0.0.1:8999"}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "--token-listen") {
		t.Fatalf("run = %v", err)
	}
}

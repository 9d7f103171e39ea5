package cms

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signagent/signagent"
)

// A reply that is not a timestamp gets a one-line reason, and no hint
// promises a retry the command line never makes.
func TestTSAMalformedReplyOneLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("\x30\x03\x02\x01\x07 not a timestamp reply"))
	}))
	defer srv.Close()
	_, err := (&TSA{URL: srv.URL}).Timestamp(context.Background(), make([]byte, 32))
	if err == nil || signagent.KindOf(err) != signagent.KindConfig {
		t.Fatalf("Timestamp = %v, want a configuration error", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 300 {
		t.Errorf("error is not one short line: %q", msg)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	_, err = (&TSA{URL: down.URL}).Timestamp(context.Background(), make([]byte, 32))
	if h := signagent.HintOf(err); strings.Contains(h, "retried later") || !strings.Contains(h, "signagent sign does not") {
		t.Errorf("hint %q promises a retry", h)
	}
}

package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

type opAnswer struct {
	ID           int64
	Status       string
	DocumentList []struct {
		ExternalReference, SignStatus, SignError, SignedContent string
	}
}

func decodeOp(t *testing.T, body string) opAnswer {
	t.Helper()
	var a opAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return a
}

// TestUnfinishedSyncAnswers: a sync sign answered PENDING_EXECUTION or
// EXECUTION_ERROR has RECEIVED documents and no content; it is executed at
// its PendingPolls-th status or detail call, and signed once.
func TestUnfinishedSyncAnswers(t *testing.T) {
	for _, c := range []struct {
		faults Faults
		status string
	}{
		{Faults{PendingRate: 1, PendingPolls: 2}, "PENDING_EXECUTION"},
		{Faults{ExecErrorRate: 1, PendingPolls: 2}, "EXECUTION_ERROR"},
	} {
		s, ts := start(t, Config{Sign: MarkerSign, Faults: c.faults})
		tok := "Bearer " + token(t, ts, false)
		base := ts.URL + "/signstash/einvoice-integration-ws/api/v0/"
		st, body := call(t, "POST", base+"document/sign/base64", tok, signBody("u", "u.d"))
		a := decodeOp(t, body)
		if st != 200 || a.Status != c.status || len(a.DocumentList) != 1 || a.DocumentList[0].SignStatus != "RECEIVED" || a.DocumentList[0].SignedContent != "" {
			t.Fatalf("%s: sign answer %d %s", c.status, st, body)
		}
		if s.Signed("u.d") != 0 {
			t.Fatalf("%s: signed before any poll", c.status)
		}
		st, body = call(t, "GET", fmt.Sprintf("%soperation/status/%d", base, a.ID), tok, "")
		if st != 200 || decodeOp(t, body).Status != c.status {
			t.Fatalf("%s: first poll %d %s", c.status, st, body)
		}
		st, body = call(t, "GET", fmt.Sprintf("%soperation/sign/detail/%d/contentInResponse/true", base, a.ID), tok, "")
		d := decodeOp(t, body)
		if st != 200 || d.Status != "EXECUTED" || d.DocumentList[0].SignStatus != "SIGNED" || d.DocumentList[0].SignedContent == "" {
			t.Fatalf("%s: second poll %d %s", c.status, st, body)
		}
		if s.Signed("u.d") != 1 {
			t.Fatalf("%s: signed %d times", c.status, s.Signed("u.d"))
		}
	}
}

// TestReceivedDocuments: a document left RECEIVED in a finished operation
// has no signError and makes the operation EXECUTION_FAILED.
func TestReceivedDocuments(t *testing.T) {
	s, ts := start(t, Config{Sign: MarkerSign, Faults: Faults{ReceivedRate: 1}})
	tok := "Bearer " + token(t, ts, false)
	st, body := call(t, "POST", ts.URL+"/signstash/einvoice-integration-ws/api/v0/document/sign/base64", tok, signBody("r", "r.d"))
	a := decodeOp(t, body)
	if st != 200 || a.Status != "EXECUTION_FAILED" || a.DocumentList[0].SignStatus != "RECEIVED" || a.DocumentList[0].SignError != "" || a.DocumentList[0].SignedContent != "" {
		t.Fatalf("%d %s", st, body)
	}
	if s.Signed("r.d") != 0 {
		t.Fatal("a RECEIVED document was signed")
	}
}

// TestSaaSDown: a proxy without its Integration Service answers every
// business call 500 / 0.0.1 and signs nothing; the SaaS base path and the
// token endpoint still work.
func TestSaaSDown(t *testing.T) {
	s, ts := start(t, Config{Sign: MarkerSign, Faults: Faults{SaaSDown: true}})
	tok := "Bearer " + token(t, ts, false)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "document/sign/base64", signBody("p", "p.d")},
		{"GET", "operation/id/withDocumentExternalReference/p.d", ""},
		{"POST", "async/document/sign/base64", signBody("q", "q.d")},
	} {
		st, body := call(t, c.method, ts.URL+"/signstash/einvoice-integration-client-ws/api/v0/"+c.path, tok, c.body)
		var er map[string]string
		json.Unmarshal([]byte(body), &er)
		if st != 500 || er["errorCode"] != "0.0.1" || !strings.Contains(er["causeMessage"], "I/O error") {
			t.Errorf("%s %s: %d %s", c.method, c.path, st, body)
		}
	}
	if st, body := call(t, "POST", ts.URL+"/signstash/einvoice-integration-ws/api/v0/document/sign/base64", tok, signBody("s", "s.d")); st != 200 {
		t.Fatalf("SaaS path: %d %s", st, body)
	}
	if s.Signed("p.d") != 0 || s.Signed("q.d") != 0 || s.Signed("s.d") != 1 {
		t.Fatalf("counters %+v", s.Stats())
	}
}

// TestTokenListener: with TokenAddr the token endpoint is on its own
// listener and nowhere else, and its tokens are good at every instance.
func TestTokenListener(t *testing.T) {
	c, err := StartCluster(Config{Clients: map[string]Client{testAlias: {Secret: testSecret}}, Sign: MarkerSign, TokenAddr: "127.0.0.1:0"}, "127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.TokenURL == c.URL {
		t.Fatal("no token listener of its own")
	}
	tok := "Bearer " + tokenAt(t, c.TokenURL)
	for _, u := range append([]string{c.URL}, c.InstanceURLs...) {
		if st, body := call(t, "POST", u+"/oauth2/authorization-server/oauth/token?grant_type=client_credentials", "", ""); st != 404 || strings.Contains(body, "access_token") {
			t.Errorf("token endpoint on the business listener %s: %d %s", u, st, body)
		}
	}
	for i, u := range c.InstanceURLs {
		if st, body := call(t, "POST", u+"/signstash/einvoice-integration-client-ws/api/v0/document/sign/base64", tok, signBody(fmt.Sprint("t", i), fmt.Sprint("t.d", i))); st != 200 {
			t.Errorf("instance %d: %d %s", i, st, body)
		}
	}
	if st, _ := call(t, "GET", c.TokenURL+"/signstash/einvoice-integration-client-ws/api/v0/operation/status/1", tok, ""); st != 404 {
		t.Errorf("business call on the token listener: %d", st)
	}
}

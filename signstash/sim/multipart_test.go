package sim

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/signagent/signagent/internal/minipdf"
	"github.com/signagent/signagent/signing"
)

// part is one multipart part to send.
type part struct {
	name, filename, ctype string
	body                  []byte
}

func multipartBody(t *testing.T, parts []part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.body)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func postMultipart(t *testing.T, u, auth, ctype string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", auth)
	return send(t, req)
}

// mpSignRequest is a SignRequestDocument for documents named names, with
// document references ref.0, ref.1, …
func mpSignRequest(ref string, names ...string) string {
	var docs []string
	for i, n := range names {
		docs = append(docs, fmt.Sprintf(`{"documentRequest":{"externalReference":"%s.%d","name":%q,"contentType":"application/pdf"},"signatureInfo":{"signatureType":"PAdES"}}`, ref, i, n))
	}
	return `{"externalReference":"` + ref + `","description":"d","returnSignedContent":true,"documents":[` + strings.Join(docs, ",") + `]}`
}

func TestMultipartSignAndZip(t *testing.T) {
	s, ts := start(t, Config{Sign: MarkerSign})
	tok := "Bearer " + token(t, ts, false)
	base := ts.URL + "/signstash/einvoice-integration-ws/api/v0/"
	contents := [][]byte{[]byte("%PDF-1.4 first"), []byte("%PDF-1.4 second")}
	// The signRequest part after the files, and the second file without a
	// filename: both are accepted.
	ct, body := multipartBody(t, []part{
		{name: "files", filename: "a.pdf", ctype: "application/pdf", body: contents[0]},
		{name: "files", ctype: "application/octet-stream", body: contents[1]},
		{name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest("mp", "a.pdf", "b.pdf"))},
	})
	st, resp := postMultipart(t, base+"document/sign/", tok, ct, body)
	if st != 200 {
		t.Fatalf("multipart sign: %d %s", st, resp)
	}
	var op struct {
		ID           int64
		Status       string
		DocumentList []struct{ ExternalReference, Name, SignStatus, SignedContent string }
	}
	if err := json.Unmarshal([]byte(resp), &op); err != nil {
		t.Fatal(err)
	}
	if op.Status != "EXECUTED" || len(op.DocumentList) != 2 {
		t.Fatalf("operation %s", resp)
	}
	signed := map[string][]byte{}
	for i, d := range op.DocumentList {
		got, _ := base64.StdEncoding.DecodeString(d.SignedContent)
		if d.ExternalReference != fmt.Sprintf("mp.%d", i) || d.SignStatus != "SIGNED" || !bytes.HasPrefix(got, contents[i]) || !bytes.Contains(got, []byte("signstash-sim")) {
			t.Fatalf("document %d: %+v (content %q)", i, d, got)
		}
		signed[d.ExternalReference+"."+d.Name] = got
	}

	// The ZIP of the signed documents: entries <externalRef>.<documentName>.
	req, _ := http.NewRequest("GET", fmt.Sprintf("%soperation/sign/detail/%d/documents", base, op.ID), nil)
	req.Header.Set("Authorization", tok)
	zr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zb, _ := io.ReadAll(zr.Body)
	zr.Body.Close()
	if zr.StatusCode != 200 || zr.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip: %d %s %q", zr.StatusCode, zr.Header.Get("Content-Type"), zb)
	}
	z, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	if len(z.File) != 2 {
		t.Fatalf("zip has %d entries", len(z.File))
	}
	for _, f := range z.File {
		want, ok := signed[f.Name]
		rc, _ := f.Open()
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("zip entry %q: %q, want one of %v", f.Name, got, signed)
		}
	}
	if s.Signed("mp.0") != 1 || s.Delivered("mp.0") != 2 || s.Delivered("mp.1") != 2 {
		t.Fatalf("counters: %+v", s.Stats())
	}

	// Unknown operation; a proxy that only signs has no ZIP call.
	if st, b := call(t, "GET", base+"operation/sign/detail/99999/documents", tok, ""); st != 404 || !strings.Contains(b, `"0.0.6"`) {
		t.Fatalf("unknown operation zip: %d %s", st, b)
	}
	_, ps := start(t, Config{Sign: MarkerSign, NoProxyLookup: true})
	ptok := "Bearer " + token(t, ps, false)
	if st, b := call(t, "GET", ps.URL+"/signstash/einvoice-integration-client-ws/api/v0/operation/sign/detail/1001/documents", ptok, ""); st != 404 || strings.Contains(b, "errorCode") {
		t.Fatalf("zip on a proxy without look-ups: %d %s", st, b)
	}
}

// TestMultipartStrict: every malformed multipart call is refused with the
// documented code, and creates no operation.
func TestMultipartStrict(t *testing.T) {
	pdf := []byte("%PDF-1.4 x")
	n := 0
	cases := []struct {
		name   string
		parts  func(ref string) []part
		ctype  string // overrides the request Content-Type
		status int
		code   string
	}{
		{"no signRequest", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}}
		}, "", 500, "0.0.2"},
		{"no files", func(ref string) []part {
			return []part{{name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf"))}}
		}, "", 500, "0.0.2"},
		{"fewer files than documents", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf", "b.pdf"))}}
		}, "", 500, "0.0.2"},
		{"more files than documents", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "files", filename: "b.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf"))}}
		}, "", 500, "0.0.6"},
		{"files out of order", func(ref string) []part {
			return []part{{name: "files", filename: "b.pdf", body: pdf}, {name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf", "b.pdf"))}}
		}, "", 500, "0.0.6"},
		{"unknown field", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(strings.Replace(mpSignRequest(ref, "a.pdf"), `"description"`, `"priority":1,"description"`, 1))}}
		}, "", 500, "0.0.6"},
		{"base64Content in a multipart document", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(strings.Replace(mpSignRequest(ref, "a.pdf"), `"contentType"`, `"base64Content":"JVBERg==","contentType"`, 1))}}
		}, "", 500, "0.0.6"},
		{"unknown signatureInfo field", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(strings.Replace(mpSignRequest(ref, "a.pdf"), `"signatureType"`, `"level":"B","signatureType"`, 1))}}
		}, "", 500, "0.0.6"},
		{"trailing data after signRequest", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf") + "{}")}}
		}, "", 500, "0.0.6"},
		{"lenient separators in signRequest", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(strings.Replace(mpSignRequest(ref, "a.pdf"), `,"description"`, ` "description"`, 1))}}
		}, "", 500, "0.0.6"},
		{"unknown part", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "extra", body: []byte("x")}, {name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf"))}}
		}, "", 500, "0.0.6"},
		{"two signRequest parts", func(ref string) []part {
			sr := part{name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf"))}
			return []part{{name: "files", filename: "a.pdf", body: pdf}, sr, sr}
		}, "", 500, "0.0.6"},
		{"signRequest without a JSON content type", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", body: []byte(mpSignRequest(ref, "a.pdf"))}}
		}, "", 415, ""},
		{"body not multipart", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf"))}}
		}, "application/json", 415, ""},
		{"well formed", func(ref string) []part {
			return []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest(ref, "a.pdf"))}}
		}, "", 200, ""},
	}
	s, ts := start(t, Config{Sign: MarkerSign})
	tok := "Bearer " + token(t, ts, false)
	u := ts.URL + "/signstash/einvoice-integration-client-ws/api/v0/document/sign"
	for _, c := range cases {
		n++
		ref := fmt.Sprintf("strict-%d", n)
		ct, body := multipartBody(t, c.parts(ref))
		if c.ctype != "" {
			ct = c.ctype
		}
		st, b := postMultipart(t, u, tok, ct, body)
		if st != c.status || (c.code != "" && !strings.Contains(b, `"errorCode":"`+c.code+`"`)) {
			t.Errorf("%s: %d %s, want %d %s", c.name, st, b, c.status, c.code)
		}
		if c.status != 200 && s.Signed(ref+".0") != 0 {
			t.Errorf("%s: refused but signed", c.name)
		}
	}
	// Refused requests left no reference behind: the same references sign.
	ct, body := multipartBody(t, []part{{name: "files", filename: "a.pdf", body: pdf}, {name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest("strict-1", "a.pdf"))}})
	if st, b := postMultipart(t, u, tok, ct, body); st != 200 {
		t.Errorf("reference of a refused request: %d %s", st, b)
	}
}

// testPDF builds a two-page PDF whose second page holds a signature field
// named field (none when empty) at 100 200 300 260 and, in a Flate content
// stream, the text "Sign here: word" drawn at 72 700 under a cm of 1 0 0 1
// 10 20.
func testPDF(field, word string) []byte {
	acro, annots := "", ""
	if field != "" {
		acro = " /AcroForm << /Fields [7 0 R] /SigFlags 1 >>"
		annots = " /Annots [7 0 R]"
	}
	return minipdf.File(
		"<< /Type /Catalog /Pages 2 0 R"+acro+" >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 8 0 R /Resources << /Font << /F1 6 0 R >> >> >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R /Resources << /Font << /F1 6 0 R >> >>"+annots+" >>",
		minipdf.FlateStream(fmt.Sprintf("q 1 0 0 1 10 20 cm BT /F1 12 Tf 72 700 Td (Total due) Tj 0 -20 Td [(Sign) -250 (here: %s)] TJ ET Q", word)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /FT /Sig /T (%s) /Type /Annot /Subtype /Widget /Rect [300 260 100 200] /F 4 /P 4 0 R >>", field),
		"<< /Length 0 >>\nstream\n\nendstream",
	)
}

// TestVisibleLocations: SIGN_FIELD signs at the named field's rectangle
// and page, PLACEHOLDER at the word's text position, COORDINATE where
// told; a field or word the document lacks fails the request with 400 /
// 2.2.1, and nothing is signed.
func TestVisibleLocations(t *testing.T) {
	var mu sync.Mutex
	got := map[string]*signing.Visible{}
	rec := func(ctx context.Context, in, out, name string, tp signing.Type, o signing.Options) error {
		mu.Lock()
		got[name] = o.Visible
		mu.Unlock()
		return MarkerSign(ctx, in, out, name, tp, o)
	}
	s, ts := start(t, Config{Sign: rec})
	tok := "Bearer " + token(t, ts, false)
	u := ts.URL + "/signstash/einvoice-integration-ws/api/v0/document/sign/base64"
	body := func(ref, name string, pdf []byte, vis string) string {
		return `{"externalReference":"` + ref + `","description":"d","documents":[{"documentRequest":{"externalReference":"` + ref +
			`","name":"` + name + `","contentType":"application/pdf","base64Content":"` + base64.StdEncoding.EncodeToString(pdf) +
			`"},"signatureInfo":{"signatureType":"PAdES","visibleSignatureInfo":` + vis + `}}]}`
	}
	for _, c := range []struct {
		name string
		pdf  []byte
		vis  string
		want *signing.Visible // nil: refused with 2.2.1
	}{
		{"field.pdf", testPDF("Signature1", "SIGNHERE"), `{"locationType":"SIGN_FIELD","locationValue":"Signature1"}`, &signing.Visible{Page: 2, X: 100, Y: 200, W: 200, H: 60}},
		{"nofield.pdf", testPDF("Signature1", "SIGNHERE"), `{"locationType":"SIGN_FIELD","locationValue":"Signature2"}`, nil},
		{"noform.pdf", testPDF("", "SIGNHERE"), `{"locationType":"SIGN_FIELD","locationValue":"Signature1"}`, nil},
		{"word.pdf", testPDF("", "SIGNHERE"), `{"locationType":"PLACEHOLDER","locationValue":"SIGNHERE","area":"width=100,height=30"}`, &signing.Visible{Page: 2, X: 82, Y: 700, W: 100, H: 30}},
		{"partword.pdf", testPDF("", "SIGNHERE2"), `{"locationType":"PLACEHOLDER","locationValue":"SIGNHERE"}`, nil},
		{"noword.pdf", testPDF("", "other"), `{"locationType":"PLACEHOLDER","locationValue":"SIGNHERE"}`, nil},
		{"notpdf.pdf", []byte("%PDF-1.4 but nothing else"), `{"locationType":"PLACEHOLDER","locationValue":"SIGNHERE"}`, nil},
		{"coord.pdf", testPDF("", "x"), `{"locationType":"COORDINATE","locationValue":"page=1,x=70,y=100","area":"width=155,height=50"}`, &signing.Visible{Page: 1, X: 70, Y: 100, W: 155, H: 50}},
	} {
		ref := strings.TrimSuffix(c.name, ".pdf")
		st, b := call(t, "POST", u, tok, body(ref, c.name, c.pdf, c.vis))
		if c.want == nil {
			var er map[string]string
			json.Unmarshal([]byte(b), &er)
			if st != 400 || er["errorCode"] != "2.2.1" || !strings.Contains(er["causeMessage"], c.name) {
				t.Errorf("%s: %d %s, want 400 / 2.2.1 naming the document", c.name, st, b)
			}
			if s.Signed(ref) != 0 {
				t.Errorf("%s: refused but signed", c.name)
			}
			continue
		}
		mu.Lock()
		v := got[c.name]
		mu.Unlock()
		if st != 200 || v == nil || *v != *c.want {
			t.Errorf("%s: %d %s, visible %+v, want %+v", c.name, st, b, v, c.want)
		}
	}
	// Grammar errors stay 0.0.6 / 0.0.2.
	for vis, code := range map[string]string{
		`{"locationType":"SIGN_FIELD","locationValue":""}`:            "0.0.2",
		`{"locationType":"CORNER","locationValue":"x"}`:               "0.0.6",
		`{"locationType":"COORDINATE","locationValue":"page=1,x=70"}`: "0.0.6",
	} {
		if st, b := call(t, "POST", u, tok, body("g"+code+vis[17:25], "g.pdf", testPDF("", "x"), vis)); st != 500 || !strings.Contains(b, `"`+code+`"`) {
			t.Errorf("%s: %d %s, want 500 / %s", vis, st, b, code)
		}
	}
}

// TestMultipartAsyncRegister: the proxy's asynchronous register call takes
// the multipart body too, and the result is fetched by reference.
func TestMultipartAsyncRegister(t *testing.T) {
	s, ts := start(t, Config{Sign: MarkerSign})
	tok := "Bearer " + token(t, ts, false)
	base := ts.URL + "/signstash/einvoice-integration-client-ws/api/v0/"
	ct, body := multipartBody(t, []part{
		{name: "signRequest", ctype: "application/json", body: []byte(mpSignRequest("am", "a.pdf"))},
		{name: "files", filename: "a.pdf", body: []byte("%PDF-1.4 async")},
	})
	st, resp := postMultipart(t, base+"async/document/sign", tok, ct, body)
	var ao struct {
		ID   int64
		Host string
		Port int
	}
	if err := json.Unmarshal([]byte(resp), &ao); st != 202 || err != nil || ao.ID == 0 || ao.Host == "" {
		t.Fatalf("register: %d %s", st, resp)
	}
	// The SaaS base path has no asynchronous call.
	if st, _ := postMultipart(t, ts.URL+"/signstash/einvoice-integration-ws/api/v0/async/document/sign", tok, ct, body); st != 404 {
		t.Fatalf("async multipart on the SaaS path: %d", st)
	}
	for i := 0; ; i++ {
		st, resp = call(t, "GET", base+"async/operation/am", tok, "")
		if st == 200 {
			break
		}
		if st != 409 || i == 1000 {
			t.Fatalf("result: %d %s", st, resp)
		}
	}
	if a := decodeOp(t, resp); a.Status != "EXECUTED" || a.DocumentList[0].SignedContent == "" || s.Signed("am.0") != 1 {
		t.Fatalf("result %s", resp)
	}
}

package signstash

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/internal/wire"
)

// part is a piece of a request body: literal bytes, or a file sent as
// base64 (a JSON string's content) or as it is (a multipart file part).
type part struct {
	lit  []byte
	path string
	size int64
	ref  string
	raw  bool
}

// reqBody is a request body: its parts, their total length and its
// Content-Type.
type reqBody struct {
	parts []part
	n     int64
	ctype string
}

// signBody lays out a SignRequestBase64Document for docs. Files are only
// stat'ed here; their content is read when the body is written.
func signBody(ref, desc string, docs []signing.Doc) (*reqBody, error) {
	var parts []part
	var n int64
	lit := func(s ...[]byte) {
		var b []byte
		for _, x := range s {
			b = append(b, x...)
		}
		parts = append(parts, part{lit: b})
		n += int64(len(b))
	}
	lit([]byte(`{"externalReference":`), wire.Quote(ref), []byte(`,"description":`), wire.Quote(desc),
		[]byte(`,"returnSignedContent":true,"documents":[`))
	for i, d := range docs {
		size, err := docSize(d)
		if err != nil {
			return nil, err
		}
		ct, _ := wire.ContentType(d.Name)
		sep := []byte{}
		if i > 0 {
			sep = []byte{','}
		}
		lit(sep, []byte(`{"documentRequest":{"externalReference":`), wire.Quote(d.Ref), []byte(`,"name":`), wire.Quote(d.Name),
			[]byte(`,"contentType":`), wire.Quote(ct), []byte(`,"base64Content":"`))
		parts = append(parts, part{path: d.Path, size: size, ref: d.Ref})
		n += int64(base64.StdEncoding.EncodedLen(int(size)))
		si := signatureInfo(d)
		lit([]byte(`"},"signatureInfo":`), mustJSON(si), []byte(`}`))
	}
	lit([]byte(`]}`))
	return &reqBody{parts: parts, n: n, ctype: "application/json"}, nil
}

func docSize(d signing.Doc) (int64, error) {
	fi, err := os.Stat(d.Path)
	if err != nil {
		return 0, &localError{err: signagent.LocalError(fmt.Sprintf("cannot read document %s: %v", d.Name, err), "", err)}
	}
	return fi.Size(), nil
}

// multipartBody lays out the multipart sign call for docs: a signRequest
// part (SignRequestDocument, JSON) and one files part per document.
//
// The service does not say how it matches files to documents[]: by order
// or by name. The body satisfies both readings: the files come in the
// order of documents[], and each file part's filename is its document's
// name, unique in the request (names[i], see wireNames). Files are only
// stat'ed here; their content is read when the body is written.
func multipartBody(ref, desc string, docs []signing.Doc, names []string) (*reqBody, error) {
	var js bytes.Buffer
	js.WriteString(`{"externalReference":`)
	js.Write(wire.Quote(ref))
	js.WriteString(`,"description":`)
	js.Write(wire.Quote(desc))
	js.WriteString(`,"returnSignedContent":false,"documents":[`)
	for i, d := range docs {
		if i > 0 {
			js.WriteByte(',')
		}
		ct, _ := wire.ContentType(d.Name)
		js.WriteString(`{"documentRequest":{"externalReference":`)
		js.Write(wire.Quote(d.Ref))
		js.WriteString(`,"name":`)
		js.Write(wire.Quote(names[i]))
		js.WriteString(`,"contentType":`)
		js.Write(wire.Quote(ct))
		js.WriteString(`},"signatureInfo":`)
		js.Write(mustJSON(signatureInfo(d)))
		js.WriteByte('}')
	}
	js.WriteString(`]}`)

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="signRequest"`)
	h.Set("Content-Type", "application/json")
	w, err := mw.CreatePart(h)
	if err != nil {
		return nil, err
	}
	w.Write(js.Bytes())
	var parts []part
	var n int64
	for i, d := range docs {
		size, err := docSize(d)
		if err != nil {
			return nil, err
		}
		ct, _ := wire.ContentType(d.Name)
		h := textproto.MIMEHeader{}
		// As browsers write it: the name as it is, in quotes (wireNames
		// keeps quotes, backslashes and control characters out of it).
		h.Set("Content-Disposition", `form-data; name="files"; filename="`+names[i]+`"`)
		h.Set("Content-Type", ct)
		if _, err := mw.CreatePart(h); err != nil {
			return nil, err
		}
		parts = append(parts, part{lit: bytes.Clone(buf.Bytes())}, part{path: d.Path, size: size, ref: d.Ref, raw: true})
		n += int64(buf.Len()) + size
		buf.Reset()
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	parts = append(parts, part{lit: bytes.Clone(buf.Bytes())})
	n += int64(buf.Len())
	return &reqBody{parts: parts, n: n, ctype: mw.FormDataContentType()}, nil
}

// wireNames returns the document names a multipart request carries: each
// document's name, made unique within the request (a second "a.pdf" is
// sent as "a~2.pdf") and free of control characters and of characters a
// form-data header would need to escape, so that the name in signRequest
// and the file part's filename are the same string for any server.
func wireNames(docs []signing.Doc) []string {
	out := make([]string, len(docs))
	used := make(map[string]bool, len(docs))
	for i, d := range docs {
		name := strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == '/' {
				return '_'
			}
			return r
		}, d.Name)
		if !utf8.ValidString(name) {
			name = strings.ToValidUTF8(name, "_")
		}
		ext := filepath.Ext(name)
		stem := strings.TrimSuffix(name, ext)
		cand := name
		for k := 2; used[strings.ToLower(cand)]; k++ {
			cand = stem + "~" + strconv.Itoa(k) + ext
		}
		used[strings.ToLower(cand)] = true
		out[i] = cand
	}
	return out
}

func signatureInfo(d signing.Doc) wire.SignatureInfo {
	o := d.Opts
	si := wire.SignatureInfo{Reason: o.Reason, Location: o.Location, ApplyTimestamp: o.Timestamp}
	switch o.Type.Resolve(d.Name) {
	case signing.TypePAdES:
		si.SignatureType = "PAdES"
	case signing.TypeXAdES:
		si.SignatureType = "XAdES"
	default:
		si.SignatureType = "CAdES"
	}
	if v := o.Visible; v != nil && si.SignatureType == "PAdES" {
		f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
		vi := &wire.VisibleSignatureInfo{TemplateType: "SERVICE_CUSTOMIZATION"}
		switch v.Location {
		case signing.LocationSignField:
			// The existing signature field, by name.
			vi.LocationType, vi.LocationValue = "SIGN_FIELD", v.Field
		case signing.LocationPlaceholder:
			// The first occurrence of the word; the service fails the
			// document when it has none.
			vi.LocationType, vi.LocationValue = "PLACEHOLDER", v.Placeholder
		default:
			vi.LocationType = "COORDINATE"
			vi.LocationValue = fmt.Sprintf("page=%d,x=%s,y=%s", max(v.Page, 1), f(v.X), f(v.Y))
		}
		si.VisibleSignatureInfo = vi
		if v.W > 0 && v.H > 0 {
			si.VisibleSignatureInfo.Area = fmt.Sprintf("width=%s,height=%s", f(v.W), f(v.H))
		}
	}
	if si.SignatureType != "PAdES" {
		si.Reason, si.Location = "", "" // PAdES only
	}
	return si
}

// stream returns a bodyFunc writing the body through a pipe: a goroutine
// copies (or base64-encodes) each file from disk as it is read. The
// goroutine ends when the body is written or the reader is closed (the
// transport always closes it).
func stream(b *reqBody) bodyFunc {
	return func() (io.ReadCloser, int64, error) {
		pr, pw := io.Pipe()
		go func() {
			// The base64 encoder writes 1 KB at a time; each pipe write is a
			// hand-off to the transport, so gather them into large writes.
			bw := bufio.NewWriterSize(pw, 64<<10)
			err := writeParts(bw, b.parts, new(wire.Base64))
			if err == nil {
				err = bw.Flush()
			}
			pw.CloseWithError(err)
		}()
		return pr, b.n, nil
	}
}

func writeParts(w io.Writer, parts []part, b64 *wire.Base64) error {
	for _, p := range parts {
		if p.path == "" {
			if _, err := w.Write(p.lit); err != nil {
				return err
			}
			continue
		}
		if err := encodeFile(w, p, b64); err != nil {
			return err
		}
	}
	return nil
}

func encodeFile(w io.Writer, p part, b64 *wire.Base64) error {
	f, err := os.Open(p.path)
	if err != nil {
		return &localError{err: signagent.LocalError(fmt.Sprintf("cannot read document %s: %v", p.ref, err), "", err)}
	}
	defer f.Close()
	// Exactly the size announced in Content-Length: a file that changed
	// since it was claimed fails the call rather than corrupting the body.
	src := io.LimitReader(f, p.size)
	var got int64
	if p.raw {
		// The bufio.Writer reads the file straight into its buffer.
		got, err = io.Copy(w, src)
	} else {
		got, err = b64.Encode(w, src)
	}
	if err != nil {
		return err
	}
	if got != p.size {
		return &localError{err: signagent.LocalError(fmt.Sprintf("document %s shrank from %d to %d bytes while being sent", p.ref, p.size, got), "", nil)}
	}
	return nil
}

func mustJSON(v any) []byte {
	b := wire.OpenObject(v)
	return append(b, '}')
}

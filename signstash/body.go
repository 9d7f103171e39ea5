package signstash

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/internal/wire"
)

// part is a piece of a request body: literal JSON, or a file sent as base64.
type part struct {
	lit  []byte
	path string
	size int64
	ref  string
}

// signBody lays out a SignRequestBase64Document for docs. Files are only
// stat'ed here; their content is read when the body is written.
func signBody(ref, desc string, docs []signing.Doc) ([]part, int64, error) {
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
		fi, err := os.Stat(d.Path)
		if err != nil {
			return nil, 0, &localError{err: &signagent.Error{Kind: signagent.KindLocal, Code: signagent.CodeLocal,
				Message: fmt.Sprintf("cannot read document %s: %v", d.Name, err), Err: err}}
		}
		ct, _ := wire.ContentType(d.Name)
		sep := []byte{}
		if i > 0 {
			sep = []byte{','}
		}
		lit(sep, []byte(`{"documentRequest":{"externalReference":`), wire.Quote(d.Ref), []byte(`,"name":`), wire.Quote(d.Name),
			[]byte(`,"contentType":`), wire.Quote(ct), []byte(`,"base64Content":"`))
		parts = append(parts, part{path: d.Path, size: fi.Size(), ref: d.Ref})
		n += int64(base64.StdEncoding.EncodedLen(int(fi.Size())))
		si := signatureInfo(d)
		lit([]byte(`"},"signatureInfo":`), mustJSON(si), []byte(`}`))
	}
	lit([]byte(`]}`))
	return parts, n, nil
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
		si.VisibleSignatureInfo = &wire.VisibleSignatureInfo{
			TemplateType:  "SERVICE_CUSTOMIZATION",
			LocationType:  "COORDINATE",
			LocationValue: fmt.Sprintf("page=%d,x=%s,y=%s", max(v.Page, 1), f(v.X), f(v.Y)),
		}
		if v.W > 0 && v.H > 0 {
			si.VisibleSignatureInfo.Area = fmt.Sprintf("width=%s,height=%s", f(v.W), f(v.H))
		}
	}
	if si.SignatureType != "PAdES" {
		si.Reason, si.Location = "", "" // PAdES only
	}
	return si
}

// stream returns a bodyFunc writing parts through a pipe: a goroutine
// encodes each file from disk as it is read. The goroutine ends when the
// body is written or the reader is closed (the transport always closes it).
func stream(parts []part, n int64) bodyFunc {
	return func() (io.ReadCloser, int64, error) {
		pr, pw := io.Pipe()
		go func() {
			// The base64 encoder writes 1 KB at a time; each pipe write is a
			// hand-off to the transport, so gather them into large writes.
			bw := bufio.NewWriterSize(pw, 64<<10)
			err := writeParts(bw, parts)
			if err == nil {
				err = bw.Flush()
			}
			pw.CloseWithError(err)
		}()
		return pr, n, nil
	}
}

func writeParts(w io.Writer, parts []part) error {
	for _, p := range parts {
		if p.path == "" {
			if _, err := w.Write(p.lit); err != nil {
				return err
			}
			continue
		}
		if err := encodeFile(w, p); err != nil {
			return err
		}
	}
	return nil
}

func encodeFile(w io.Writer, p part) error {
	f, err := os.Open(p.path)
	if err != nil {
		return &localError{err: &signagent.Error{Kind: signagent.KindLocal, Code: signagent.CodeLocal,
			Message: fmt.Sprintf("cannot read document %s: %v", p.ref, err), Err: err}}
	}
	defer f.Close()
	enc := base64.NewEncoder(base64.StdEncoding, w)
	// Exactly the size announced in Content-Length: a file that changed
	// since it was claimed fails the call rather than corrupting the body.
	got, err := io.Copy(enc, io.LimitReader(f, p.size))
	if err != nil {
		return err
	}
	if got != p.size {
		return &localError{err: &signagent.Error{Kind: signagent.KindLocal, Code: signagent.CodeLocal,
			Message: fmt.Sprintf("document %s shrank from %d to %d bytes while being sent", p.ref, p.size, got)}}
	}
	return enc.Close()
}

func mustJSON(v any) []byte {
	b := wire.OpenObject(v)
	return append(b, '}')
}

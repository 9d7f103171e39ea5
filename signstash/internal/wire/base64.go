package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
)

// Base64 streams documents to and from standard base64 in large chunks:
// encoding/base64's streaming encoder and decoder work 1 KB at a time, so
// a signed document written through them costs a write system call per
// 768 bytes. A Base64 holds its buffers and is reused from one document to
// the next; it is not safe for concurrent use.
type Base64 struct {
	enc []byte // encoded side
	raw []byte // decoded side
}

// base64Chunk is the decoded size of a chunk: 48 KB, 64 KB encoded.
const base64Chunk = 48 << 10

func (b *Base64) buffers() {
	if b.raw == nil {
		b.raw = make([]byte, base64Chunk)
		b.enc = make([]byte, base64.StdEncoding.EncodedLen(base64Chunk))
	}
}

// Encode writes src base64-encoded (with padding) to dst and returns the
// number of bytes read from src.
func (b *Base64) Encode(dst io.Writer, src io.Reader) (int64, error) {
	b.buffers()
	var n int64
	for {
		m, err := io.ReadFull(src, b.raw)
		if m > 0 {
			n += int64(m)
			base64.StdEncoding.Encode(b.enc, b.raw[:m])
			if _, werr := dst.Write(b.enc[:base64.StdEncoding.EncodedLen(m)]); werr != nil {
				return n, werr
			}
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return n, nil
		default:
			return n, err
		}
	}
}

// Decode writes the base64 text of src, decoded, to dst and returns the
// number of bytes written. Like encoding/base64's decoder it ignores
// carriage returns and newlines (MIME-style line breaks); anything else
// outside the alphabet, or data after the padding, is a
// base64.CorruptInputError (the offset counts the text without line
// breaks).
func (b *Base64) Decode(dst io.Writer, src io.Reader) (int64, error) {
	b.buffers()
	var n, off int64
	have := 0 // encoded bytes in b.enc, line breaks removed
	padded := false
	for eof := false; !eof; {
		m, err := io.ReadFull(src, b.enc[have:])
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			eof = true
		default:
			return n, err
		}
		if p := b.enc[have : have+m]; bytes.IndexByte(p, '\n') >= 0 || bytes.IndexByte(p, '\r') >= 0 {
			m = len(stripNewlines(b.enc[have : have+m]))
		}
		have += m
		full := have
		if !eof {
			full = have / 4 * 4
		}
		if full == 0 {
			continue
		}
		if padded {
			return n, base64.CorruptInputError(off)
		}
		chunk := b.enc[:full]
		padded = chunk[len(chunk)-1] == '='
		d, err := base64.StdEncoding.Decode(b.raw, chunk)
		if err != nil {
			var ce base64.CorruptInputError
			if errors.As(err, &ce) {
				return n, base64.CorruptInputError(off + int64(ce))
			}
			return n, err
		}
		if _, err := dst.Write(b.raw[:d]); err != nil {
			return n, err
		}
		n += int64(d)
		off += int64(full)
		have = copy(b.enc, b.enc[full:have])
	}
	return n, nil
}

// stripNewlines removes '\r' and '\n' from p in place.
func stripNewlines(p []byte) []byte {
	out := p[:0]
	for _, c := range p {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return out
}

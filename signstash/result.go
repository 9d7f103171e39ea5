package signstash

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/internal/wire"
)

// outcome is what a SignOperation said about one document.
type outcome struct {
	status, signError string
	tmp               string // decoded signed content, beside Doc.Out
}

// opResult is a decoded SignOperation.
type opResult struct {
	id     int64
	status string
	docs   map[string]*outcome // by document external reference
}

// decodeOperation streams a SignOperation: each signedContent of a document
// of b is base64-decoded straight into a temporary file beside its Out. Names
// sent by the server are never used for placement. On error every temporary
// file is removed.
func decodeOperation(r io.Reader, b *signing.Batch) (res *opResult, err error) {
	byRef := make(map[string]int, len(b.Docs))
	for i, d := range b.Docs {
		byRef[d.Ref] = i
	}
	res = &opResult{docs: map[string]*outcome{}}
	var loose []string // temp files not yet attached to a document
	defer func() {
		if err != nil {
			res.discard()
		}
		for _, t := range loose {
			os.Remove(t)
		}
	}()
	tmpDir := ""
	if len(b.Docs) > 0 {
		tmpDir = filepath.Dir(b.Docs[0].Out)
	}
	l := wire.NewLexer(r)
	var b64 wire.Base64
	if err := l.Expect('{'); err != nil {
		return res, err
	}
	for {
		k, ok, err := l.Key()
		if err != nil {
			return res, err
		}
		if !ok {
			return res, nil
		}
		switch k {
		case "id":
			res.id, err = l.Int()
		case "status":
			res.status, err = l.String()
		case "documentList":
			if err = l.Expect('['); err != nil {
				return res, err
			}
			for {
				more, err := l.More()
				if err != nil {
					return res, err
				}
				if !more {
					break
				}
				var ref string
				o := &outcome{}
				if err := l.Expect('{'); err != nil {
					return res, err
				}
				for {
					k, ok, err := l.Key()
					if err != nil {
						return res, err
					}
					if !ok {
						break
					}
					switch k {
					case "externalReference":
						ref, err = l.String()
					case "signStatus":
						o.status, err = l.String()
					case "signError":
						o.signError, err = l.String()
					case "signedContent":
						o.tmp, err = saveSigned(l, tmpDir, &b64)
						if o.tmp != "" {
							loose = append(loose, o.tmp)
						}
					default:
						err = l.Skip()
					}
					if err != nil {
						return res, err
					}
				}
				if _, mine := byRef[ref]; !mine || res.docs[ref] != nil {
					continue // not ours, or a repeat: its temp file stays loose and is removed
				}
				res.docs[ref] = o
				if o.tmp != "" {
					loose = loose[:len(loose)-1]
				}
			}
		default:
			err = l.Skip()
		}
		if err != nil {
			return res, err
		}
	}
}

// saveSigned streams one signedContent value, base64-decoded, to a new
// temporary file in dir.
func saveSigned(l *wire.Lexer, dir string, b64 *wire.Base64) (string, error) {
	sr, err := l.StringReader()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".signstash-*.part")
	if err != nil {
		return "", localErr("cannot store a signed document", err)
	}
	// Not flushed here: the agent flushes every signed file before it
	// publishes it, several at a time (as for the local backend).
	_, err = b64.Decode(f, sr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return "", fmt.Errorf("signedContent is not valid base64: %w", err)
		}
		return "", err
	}
	return f.Name(), nil
}

// discard removes the temporary files.
func (r *opResult) discard() {
	for _, o := range r.docs {
		if o.tmp != "" {
			os.Remove(o.tmp)
			o.tmp = ""
		}
	}
}

// finished reports whether the operation's results are final: EXECUTED or
// EXECUTION_FAILED (in any letter case). PENDING_EXECUTION and
// EXECUTION_ERROR (the service retries) are running; so is any status the
// documentation does not list, with one warning per value, since fetching
// too early could take a partial result for the final one.
func (c *Client) finished(status string) bool {
	switch {
	case strings.EqualFold(status, wire.StatusExecuted), strings.EqualFold(status, wire.StatusFailed):
		return true
	case strings.EqualFold(status, wire.StatusPending), strings.EqualFold(status, wire.StatusError):
		return false
	}
	if _, seen := c.unknownStatus.LoadOrStore(status, true); !seen {
		c.log.Warn("Sign'Stash answered an undocumented operation status; taking it for still running", "status", status)
	}
	return false
}

// results moves signed documents to their Out and returns one Result per
// document of b, in order. pre holds documents failed before sending.
func (r *opResult) results(b *signing.Batch, pre map[string]error) []signing.Result {
	out := make([]signing.Result, len(b.Docs))
	for i, d := range b.Docs {
		out[i].Ref = d.Ref
		if err := pre[d.Ref]; err != nil {
			out[i].Err = err
			continue
		}
		o := r.docs[d.Ref]
		switch {
		case o == nil:
			out[i].Err = signagent.TransientError(fmt.Sprintf("Sign'Stash operation %d returned no result for document %s", r.id, d.Ref), "", nil)
		case o.status == wire.SignSigned && o.tmp != "":
			if err := os.Rename(o.tmp, d.Out); err != nil {
				os.Remove(o.tmp)
				out[i].Err = signagent.LocalError(fmt.Sprintf("cannot store signed document %s: %v", d.Ref, err), "", err)
			}
			o.tmp = ""
		case o.status == wire.SignSigned:
			out[i].Err = signagent.DocError(signagent.CodeRemoteRejected,
				fmt.Sprintf("Sign'Stash operation %d signed document %s but returned no signed content", r.id, d.Ref),
				"the signed document can be fetched from the Sign'Stash back-office; retrying signs it again")
		default:
			out[i].Err = signError(r.id, d.Ref, o.status, o.signError)
		}
	}
	r.discard()
	return out
}

// signError classifies a per-document signing error.
func signError(op int64, ref, status, code string) *signagent.Error {
	e := signagent.DocError(signagent.CodeSigningError,
		fmt.Sprintf("Sign'Stash could not sign document %s (operation %d): %s %s", ref, op, status, code),
		"the service rejected this document; check that it is a valid, unprotected PDF or XML")
	switch code {
	case "INVALID_CERT_SERVICE_CREDS", "INVALID_CERT_ACCESS_ACCOUNT", "CONFIGURATION_SIGN_ERROR":
		e.Kind = signagent.KindConfig
		e.Hint = "the signing certificate of the client service is not provisioned or its access has expired: renew it in the Sign'Stash back-office; documents wait"
	case "CERT_SERVICE_GLOBAL_ERROR", "STORAGE_SERVICE_GLOBAL_ERROR", "SIGN_OPERATION_INTERNAL_ERROR", "TIMESTAMP_SIGN_ERROR":
		e.Kind = signagent.KindTransient
		e.Hint = "a temporary failure at Sign'Stash; the document is retried"
	case "":
		if status == wire.SignReceived {
			e.Kind = signagent.KindTransient
			e.Message = fmt.Sprintf("Sign'Stash did not sign document %s (operation %d): still %s", ref, op, status)
			e.Hint = "the document is retried"
		}
	}
	return e
}

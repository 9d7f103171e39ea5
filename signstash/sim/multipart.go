package sim

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

// maxSignRequestPart bounds the signRequest part (JSON without content).
const maxSignRequestPart = 8 << 20

// mpRequest is the signRequest part: SignRequestDocument, the JSON request
// whose documents carry no content.
type mpRequest struct {
	ExternalReference   string          `json:"externalReference"`
	Description         *string         `json:"description"`
	Documents           []mpDocument    `json:"documents"`
	PreservationInfo    *map[string]any `json:"preservationInfo,omitempty"`
	ReturnSignedContent bool            `json:"returnSignedContent"`
}

type mpDocument struct {
	DocumentRequest *struct {
		ExternalReference string `json:"externalReference"`
		Name              string `json:"name"`
		ContentType       string `json:"contentType"`
	} `json:"documentRequest"`
	SignatureInfo *signatureInfo `json:"signatureInfo"`
}

type mpFile struct {
	name string // the part's filename parameter, as sent ("" when absent)
	path string
	size int64
}

// springError is Spring Boot's own error answer (not the service's
// ErrorResponse), for failures the framework reports before the service
// sees the request: 415 for a body or part of the wrong media type.
func (s *Server) springError(w http.ResponseWriter, status int, path string) {
	writeJSON(w, status, map[string]any{"timestamp": s.now().UTC().Format("2006-01-02T15:04:05.000+00:00"),
		"status": status, "error": http.StatusText(status), "path": path})
}

var errMediaType = errors.New("unsupported media type")

// parseMultipart reads the multipart sign call: parts "files" (one per
// document, stored in dir as they arrive) and "signRequest" (JSON), in any
// order. Files are matched to documents[] by order; a file part that names
// a file must name the document it is matched with.
func (s *Server) parseMultipart(r *http.Request, dir string) (*signRequest, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errMediaType
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var files []mpFile
	var sr *mpRequest
	var total int64
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, invalid("malformed multipart body: %v", err)
		}
		_, dp, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		if err != nil {
			return nil, invalid("multipart part without a valid Content-Disposition: %v", err)
		}
		switch dp["name"] {
		case "files":
			n := len(files)
			if s.cfg.MaxDocuments > 0 && n >= s.cfg.MaxDocuments {
				return nil, &apiError{code: "0.0.4", cause: fmt.Sprintf("files has more than %d parts", s.cfg.MaxDocuments)}
			}
			f := mpFile{name: dp["filename"], path: filepath.Join(dir, strconv.Itoa(n)+".in")}
			if f.size, err = s.saveFile(p, f.path, n); err != nil {
				return nil, err
			}
			if total += f.size; s.cfg.MaxRequestBytes > 0 && total > s.cfg.MaxRequestBytes {
				return nil, &apiError{code: "0.0.4", cause: fmt.Sprintf("files exceed %d bytes", s.cfg.MaxRequestBytes)}
			}
			files = append(files, f)
		case "signRequest":
			if sr != nil {
				return nil, invalid("more than one signRequest part")
			}
			// Spring reads a @RequestPart by its own Content-Type: a part
			// without one is application/octet-stream, which it cannot
			// read as JSON.
			if pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type")); (err != nil || pt != "application/json") && !s.cfg.Lenient {
				return nil, errMediaType
			}
			b, err := io.ReadAll(io.LimitReader(p, maxSignRequestPart+1))
			if err != nil {
				return nil, invalid("malformed multipart body: %v", err)
			}
			if len(b) > maxSignRequestPart {
				return nil, &apiError{code: "0.0.4", cause: fmt.Sprintf("signRequest exceeds %d bytes", maxSignRequestPart)}
			}
			sr = &mpRequest{}
			if err := decodeStrict(b, sr, s.cfg.Lenient); err != nil {
				return nil, invalid("signRequest: %v", err)
			}
		default:
			if !s.cfg.Lenient {
				return nil, invalid("unknown multipart part %q (the call takes files and signRequest)", dp["name"])
			}
			io.Copy(io.Discard, p)
		}
	}
	switch {
	case sr == nil:
		return nil, missing("signRequest")
	case sr.ExternalReference == "":
		return nil, missing("signRequest.externalReference")
	case sr.Description == nil:
		return nil, missing("signRequest.description")
	case len(sr.Documents) == 0:
		return nil, missing("signRequest.documents")
	case len(files) == 0:
		return nil, missing("files")
	case len(files) < len(sr.Documents):
		return nil, missing(fmt.Sprintf("files[%d] for signRequest.documents[%d] (%d files for %d documents; files are matched to documents by order)", len(files), len(files), len(files), len(sr.Documents)))
	case len(files) > len(sr.Documents):
		return nil, invalid("%d files for %d documents (files are matched to documents by order)", len(files), len(sr.Documents))
	case s.cfg.MaxDocuments > 0 && len(sr.Documents) > s.cfg.MaxDocuments:
		return nil, &apiError{code: "0.0.4", cause: fmt.Sprintf("signRequest.documents has more than %d elements", s.cfg.MaxDocuments)}
	}
	req := &signRequest{ref: sr.ExternalReference, desc: *sr.Description, haveDesc: true, retSigned: sr.ReturnSignedContent, haveDocs: true, bytesWritten: total}
	for i, md := range sr.Documents {
		switch {
		case md.DocumentRequest == nil:
			return nil, missing(fmt.Sprintf("signRequest.documents[%d].documentRequest", i))
		case md.SignatureInfo == nil:
			return nil, missing(fmt.Sprintf("signRequest.documents[%d].signatureInfo", i))
		}
		d := &doc{ref: md.DocumentRequest.ExternalReference, name: md.DocumentRequest.Name, ctype: md.DocumentRequest.ContentType,
			sig: *md.SignatureInfo, in: files[i].path, size: files[i].size, out: filepath.Join(dir, strconv.Itoa(i)+".out")}
		if err := s.checkDoc(i, d); err != nil {
			return nil, err
		}
		if files[i].name != "" && files[i].name != d.name && !s.cfg.Lenient {
			return nil, invalid("files[%d] is named %q but signRequest.documents[%d].documentRequest.name is %q (files are matched to documents by order)", i, files[i].name, i, d.name)
		}
		req.docs = append(req.docs, d)
	}
	return req, nil
}

// saveFile stores one file part.
func (s *Server) saveFile(src io.Reader, path string, n int) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, &apiError{code: "0.0.1", cause: "cannot store document: " + err.Error()}
	}
	defer f.Close()
	if s.cfg.MaxDocumentBytes > 0 {
		src = io.LimitReader(src, s.cfg.MaxDocumentBytes+1)
	}
	size, err := io.Copy(f, src)
	if err != nil {
		return 0, invalid("malformed multipart body: %v", err)
	}
	if s.cfg.MaxDocumentBytes > 0 && size > s.cfg.MaxDocumentBytes {
		return 0, &apiError{code: "0.0.4", cause: fmt.Sprintf("files[%d] exceeds %d bytes", n, s.cfg.MaxDocumentBytes)}
	}
	return size, nil
}

// handleDocuments serves the ZIP of an operation's signed documents, one
// entry per signed document named <externalReference>.<name>. Documents
// that were not signed have no entry.
func (s *Server) handleDocuments(w http.ResponseWriter, alias string, id int64) {
	o := s.find(alias, id)
	if o == nil {
		writeStatusError(w, http.StatusNotFound, "0.0.6", fmt.Sprintf("no operation %d", id))
		return
	}
	type entry struct{ name, path, ref string }
	var entries []entry
	s.mu.Lock()
	pending := o.finished.IsZero()
	for _, d := range o.docs {
		if d.status == "SIGNED" {
			entries = append(entries, entry{d.ref + "." + d.name, d.out, d.ref})
		}
	}
	mod := o.finished
	if !pending {
		o.fetched = s.now()
	}
	s.mu.Unlock()
	if pending {
		writeStatusError(w, http.StatusConflict, "0.0.6", fmt.Sprintf("operation %d is not finished", id))
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%d.zip"`, id))
	w.WriteHeader(http.StatusOK)
	zw := zip.NewWriter(w)
	method := zip.Deflate
	if s.cfg.ZipStored {
		method = zip.Store
	}
	for _, e := range entries {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method, Modified: mod})
		if err == nil {
			err = copyFile(fw, e.path)
		}
		if err != nil {
			s.log.Error("cannot send signed document", "op", id, "doc", e.ref, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	if err := zw.Close(); err != nil {
		return // the client went away: nothing was delivered
	}
	s.mu.Lock()
	for _, e := range entries {
		s.delivered[e.ref]++
	}
	s.mu.Unlock()
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

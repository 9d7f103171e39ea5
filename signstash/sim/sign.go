package sim

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/internal/wire"
)

func urlUnescape(s string) (string, error) { return url.PathUnescape(s) }

// apiError is an ErrorResponse to send.
type apiError struct {
	status int // 0: the code's documented status
	code   string
	cause  string
}

func (e *apiError) Error() string { return e.code + ": " + e.cause }

func (e *apiError) write(w http.ResponseWriter) {
	if e.status != 0 {
		writeStatusError(w, e.status, e.code, e.cause)
		return
	}
	writeError(w, e.code, e.cause)
}

func missing(what string) *apiError { return &apiError{code: "0.0.2", cause: "missing " + what} }

func invalid(format string, a ...any) *apiError {
	return &apiError{code: "0.0.6", cause: fmt.Sprintf(format, a...)}
}

// signRequest is a decoded SignRequestBase64Document; documents' content is
// already on disk.
type signRequest struct {
	ref, desc    string
	haveDesc     bool
	retSigned    bool
	haveDocs     bool
	docs         []*doc
	bytesWritten int64
}

// parseSignRequest decodes the body token by token, streaming each
// base64Content into a file in dir.
func (s *Server) parseSignRequest(body io.Reader, dir string) (*signRequest, error) {
	l := wire.NewLexer(body)
	req := &signRequest{}
	if err := l.Expect('{'); err != nil {
		return nil, invalid("request body is not a JSON object: %v", err)
	}
	for {
		k, ok, err := l.Key()
		if err != nil {
			return nil, invalid("malformed request: %v", err)
		}
		if !ok {
			break
		}
		switch k {
		case "externalReference":
			req.ref, err = l.String()
		case "description":
			req.desc, err = l.String()
			req.haveDesc = true
		case "returnSignedContent":
			req.retSigned, err = l.Bool()
		case "documents":
			req.haveDocs = true
			err = s.parseDocuments(l, req, dir)
		case "preservationInfo":
			err = l.Skip() // documented; preservation is not emulated
		default:
			err = s.unknownField(l, "signRequest."+k)
		}
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				return nil, ae
			}
			return nil, invalid("malformed request at %q: %v", k, err)
		}
	}
	if t, err := l.Next(); err != io.EOF && !s.cfg.Lenient {
		return nil, &apiError{code: "0.0.2", cause: fmt.Sprintf("malformed request: trailing data after the JSON object (%v)", t)}
	}
	switch {
	case req.ref == "":
		return nil, missing("signRequest.externalReference")
	case !req.haveDesc:
		return nil, missing("signRequest.description")
	case !req.haveDocs || len(req.docs) == 0:
		return nil, missing("signRequest.documents")
	}
	return req, nil
}

func (s *Server) parseDocuments(l *wire.Lexer, req *signRequest, dir string) error {
	if err := l.Expect('['); err != nil {
		return err
	}
	for {
		more, err := l.More()
		if err != nil || !more {
			return err
		}
		if s.cfg.MaxDocuments > 0 && len(req.docs) >= s.cfg.MaxDocuments {
			return &apiError{code: "0.0.4", cause: fmt.Sprintf("signRequest.documents has more than %d elements", s.cfg.MaxDocuments)}
		}
		d := &doc{}
		var haveReq, haveSig, haveContent bool
		if err := l.Expect('{'); err != nil {
			return err
		}
		for {
			k, ok, err := l.Key()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch k {
			case "documentRequest":
				haveReq = true
				if err := l.Expect('{'); err != nil {
					return err
				}
				for {
					k, ok, err := l.Key()
					if err != nil {
						return err
					}
					if !ok {
						break
					}
					switch k {
					case "externalReference":
						d.ref, err = l.String()
					case "name":
						d.name, err = l.String()
					case "contentType":
						d.ctype, err = l.String()
					case "base64Content":
						haveContent = true
						d.in = filepath.Join(dir, strconv.Itoa(len(req.docs))+".in")
						d.size, err = s.saveContent(l, d.in, len(req.docs))
						req.bytesWritten += d.size
						if err == nil && s.cfg.MaxRequestBytes > 0 && req.bytesWritten > s.cfg.MaxRequestBytes {
							err = &apiError{code: "0.0.4", cause: fmt.Sprintf("signRequest.documents exceed %d bytes", s.cfg.MaxRequestBytes)}
						}
					default:
						err = s.unknownField(l, fmt.Sprintf("signRequest.documents[%d].documentRequest.%s", len(req.docs), k))
					}
					if err != nil {
						return err
					}
				}
			case "signatureInfo":
				haveSig = true
				var raw json.RawMessage
				if err := l.Decode(&raw, 1<<20); err != nil {
					return invalid("documents[%d].signatureInfo: %v", len(req.docs), err)
				}
				if err := decodeStrict(raw, &d.sig, s.cfg.Lenient); err != nil {
					return invalid("signRequest.documents[%d].signatureInfo: %v", len(req.docs), err)
				}
			default:
				if err := s.unknownField(l, fmt.Sprintf("signRequest.documents[%d].%s", len(req.docs), k)); err != nil {
					return err
				}
			}
		}
		n := len(req.docs)
		switch {
		case !haveReq:
			return missing(fmt.Sprintf("signRequest.documents[%d].documentRequest", n))
		case !haveSig:
			return missing(fmt.Sprintf("signRequest.documents[%d].signatureInfo", n))
		case !haveContent:
			return missing(fmt.Sprintf("signRequest.documents[%d].documentRequest.base64Content", n))
		}
		if err := s.checkDoc(n, d); err != nil {
			return err
		}
		d.out = filepath.Join(dir, strconv.Itoa(n)+".out")
		req.docs = append(req.docs, d)
	}
}

// checkDoc validates one document's request and signature information.
func (s *Server) checkDoc(n int, d *doc) error {
	switch {
	case d.ref == "":
		return missing(fmt.Sprintf("signRequest.documents[%d].documentRequest.externalReference", n))
	case d.name == "":
		return missing(fmt.Sprintf("signRequest.documents[%d].documentRequest.name", n))
	case d.ctype == "":
		return missing(fmt.Sprintf("signRequest.documents[%d].documentRequest.contentType", n))
	case d.sig.SignatureType == "":
		return missing(fmt.Sprintf("signRequest.documents[%d].signatureInfo.signatureType", n))
	}
	switch d.ctype {
	case "application/pdf", "text/xml", "application/xml":
	default:
		return invalid("documents[%d].documentRequest.contentType %q is not one of application/pdf, text/xml, application/xml", n, d.ctype)
	}
	if _, ok := sigTypes[d.sig.SignatureType]; !ok {
		return invalid("documents[%d].signatureInfo.signatureType %q is not one of PAdES, XAdES, CAdES", n, d.sig.SignatureType)
	}
	if !s.cfg.Lenient && !typeFits(d.sig.SignatureType, d.ctype) {
		return invalid("documents[%d]: signatureType %s does not sign contentType %s", n, d.sig.SignatureType, d.ctype)
	}
	vis, err := checkVisible(d.sig.VisibleSignatureInfo)
	if err != nil {
		return err
	}
	d.vis = vis
	return nil
}

// saveContent streams one base64Content value into a file.
func (s *Server) saveContent(l *wire.Lexer, path string, n int) (int64, error) {
	sr, err := l.StringReader()
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, &apiError{code: "0.0.1", cause: "cannot store document: " + err.Error()}
	}
	defer f.Close()
	var src io.Reader = base64.NewDecoder(base64.StdEncoding, sr)
	if s.cfg.MaxDocumentBytes > 0 {
		src = io.LimitReader(src, s.cfg.MaxDocumentBytes+1)
	}
	size, err := io.Copy(f, src)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return 0, invalid("documents[%d].documentRequest.base64Content is not valid base64 (at byte %d)", n, int64(ce))
		}
		return 0, err
	}
	if s.cfg.MaxDocumentBytes > 0 && size > s.cfg.MaxDocumentBytes {
		io.Copy(io.Discard, sr)
		return 0, &apiError{code: "0.0.4", cause: fmt.Sprintf("documents[%d] exceeds %d bytes", n, s.cfg.MaxDocumentBytes)}
	}
	return size, nil
}

// unknownField refuses a field the request schema does not have (the
// service validates its requests); lenient, it skips it.
func (s *Server) unknownField(l *wire.Lexer, path string) error {
	if s.cfg.Lenient {
		return l.Skip()
	}
	return invalid("unknown field %s", path)
}

// typeFits reports whether a signature type signs a content type: PAdES a
// PDF, XAdES XML; CAdES (detached, binary) anything.
func typeFits(sig, ctype string) bool {
	switch sig {
	case "PAdES":
		return ctype == "application/pdf"
	case "XAdES":
		return ctype == "text/xml" || ctype == "application/xml"
	}
	return true
}

var sigTypes = map[string]signing.Type{"PAdES": signing.TypePAdES, "XAdES": signing.TypeXAdES, "CAdES": signing.TypeCAdES}

func kv(s string, keys ...string) (map[string]float64, error) {
	m := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", part)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e6 {
			return nil, fmt.Errorf("%q is not a number of points", v)
		}
		m[k] = f
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("%s is missing", k)
		}
	}
	return m, nil
}

// handleSign serves the sync sign call and the async register call.
func (s *Server) handleSign(w http.ResponseWriter, r *http.Request, alias string, proxy, async, multi, resetAfter bool) {
	id := s.newID()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); !multi && (err != nil || mt != "application/json") && !s.cfg.Lenient {
		// Spring Boot's answer: 415 in its own error shape.
		s.springError(w, http.StatusUnsupportedMediaType, r.URL.Path)
		return
	}
	dir := filepath.Join(s.cfg.DataDir, "ops", strconv.FormatInt(id, 10))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		writeError(w, "0.0.1", "cannot store request: "+err.Error())
		return
	}
	var req *signRequest
	var err error
	if multi {
		req, err = s.parseMultipart(r, dir)
	} else {
		var body io.Reader = r.Body
		if !s.cfg.Lenient {
			body = newJSONCheck(body) // the lexer skips separators; this does not
		}
		req, err = s.parseSignRequest(body, dir)
	}
	if err == nil {
		err = locate(req)
	}
	if errors.Is(err, errMediaType) {
		os.RemoveAll(dir)
		s.springError(w, http.StatusUnsupportedMediaType, r.URL.Path)
		return
	}
	if err != nil {
		os.RemoveAll(dir)
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = invalid("%v", err)
		}
		ae.write(w)
		return
	}
	now := s.now()
	o := &op{id: id, alias: alias, ref: req.ref, desc: req.desc, proxy: proxy, async: async, retSign: req.retSigned || proxy,
		dir: dir, created: now, status: wire.StatusPending, folderID: newJTI(), docs: req.docs}
	// Register the references, refusing reused ones (request and document
	// references are unique per level, per client service).
	s.mu.Lock()
	if _, dup := s.refs[alias+"\x00"+req.ref]; dup {
		s.mu.Unlock()
		os.RemoveAll(dir)
		writeError(w, "0.0.7", "externalReference "+req.ref+" already exists")
		return
	}
	seen := map[string]bool{}
	for _, d := range req.docs {
		if _, dup := s.docRefs[alias+"\x00"+d.ref]; dup || seen[d.ref] {
			s.mu.Unlock()
			os.RemoveAll(dir)
			writeError(w, "0.0.7", "document externalReference "+d.ref+" already exists")
			return
		}
		seen[d.ref] = true
	}
	s.refs[alias+"\x00"+req.ref] = id
	for _, d := range req.docs {
		s.docRefs[alias+"\x00"+d.ref] = id
		d.internalID = s.nextDoc
		s.nextDoc++
		d.received = now
		d.status = wire.SignReceived
	}
	s.ops[id] = o
	if async {
		s.queue = append(s.queue, o)
	}
	s.mu.Unlock()
	s.log.Debug("operation created", "op", id, "ref", req.ref, "docs", len(req.docs), "async", async)

	if async {
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if resetAfter {
			reset(w)
			return
		}
		writeJSON(w, s.cfg.AsyncStatus, s.asyncView(o))
		return
	}
	s.mu.Lock()
	f := s.faults
	x := 1.0
	if f.PendingRate+f.ExecErrorRate > 0 {
		x = s.rng.Float64()
	}
	later := ""
	switch {
	case x < f.PendingRate:
		later = wire.StatusPending
	case x < f.PendingRate+f.ExecErrorRate:
		later = wire.StatusError
	}
	if later != "" {
		o.status = later
		if f.PendingPolls > 0 {
			o.held, o.polls = true, f.PendingPolls
		} else {
			s.queue = append(s.queue, o)
		}
	}
	s.mu.Unlock()
	if later != "" {
		s.log.Debug("sync operation answered unfinished", "op", id, "status", later)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	} else {
		s.execute(r.Context(), o)
	}
	if resetAfter {
		reset(w)
		return
	}
	s.writeOperation(w, o, o.retSign)
}

// execute signs an operation's documents, Workers at a time.
func (s *Server) execute(ctx context.Context, o *op) {
	start := time.Now()
	s.mu.Lock()
	f := s.faults
	docErr := make([]bool, len(o.docs))
	recv := make([]bool, len(o.docs))
	for i := range o.docs {
		docErr[i] = f.DocErrorRate > 0 && s.rng.Float64() < f.DocErrorRate
		recv[i] = f.ReceivedRate > 0 && s.rng.Float64() < f.ReceivedRate
	}
	s.mu.Unlock()
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	for i, d := range o.docs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, serr := wire.SignSigned, ""
			if recv[i] {
				status = wire.SignReceived // never signed, no error given
			} else if docErr[i] {
				status, serr = wire.SignError, f.DocError
				if serr == "" {
					serr = "INVALID_CERTIFICATE_SIGN_ERROR"
				}
			} else if err := s.cfg.Sign(ctx, d.in, d.out, d.name, sigTypes[d.sig.SignatureType], options(d)); err != nil {
				os.Remove(d.out)
				status, serr = wire.SignError, "SIGN_OPERATION_INTERNAL_ERROR"
				if signagent.KindOf(err) == signagent.KindDocument {
					// Not in the documented enum: the emulator's way of
					// saying the document itself cannot be signed.
					serr = "INVALID_DOCUMENT"
				}
				s.log.Info("document not signed", "op", o.id, "doc", d.ref, "err", err)
			}
			os.Remove(d.in)
			s.mu.Lock()
			d.status, d.signError = status, serr
			if status == wire.SignSigned {
				s.signed[d.ref]++
			}
			s.mu.Unlock()
		}()
	}
	wg.Wait()
	s.mu.Lock()
	o.status = wire.StatusExecuted
	for _, d := range o.docs {
		if d.status != wire.SignSigned {
			o.status = wire.StatusFailed
		}
	}
	o.finished = s.now()
	o.execMS = time.Since(start).Milliseconds()
	s.mu.Unlock()
}

func options(d *doc) signing.Options {
	return signing.Options{Type: sigTypes[d.sig.SignatureType], Reason: d.sig.Reason, Location: d.sig.Location, Timestamp: d.sig.ApplyTimestamp, Visible: d.vis}
}

func (s *Server) asyncView(o *op) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := map[string]any{"id": o.id, "externalReference": o.ref, "status": o.status, "host": s.cfg.AdvertiseHost}
	port := strconv.Itoa(s.cfg.AdvertisePort)
	switch s.cfg.AdvertiseForm {
	case AdvertiseStringPort:
		v["port"] = port
	case AdvertiseJoined:
		v["host"] = net.JoinHostPort(s.cfg.AdvertiseHost, port)
	default:
		v["port"] = s.cfg.AdvertisePort
	}
	return v
}

// newID numbers a new operation: from the cluster's counter when there is
// one, so that ids are unique across instances.
func (s *Server) newID() int64 {
	if s.cfg.opIDs != nil {
		return s.cfg.opIDs.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return s.nextID
}

// advance counts one poll of an operation answered pending; the last
// counted poll executes it before it is answered.
func (s *Server) advance(o *op) {
	s.mu.Lock()
	run := false
	if o.held {
		if o.polls--; o.polls <= 0 {
			o.held, run = false, true
		}
	}
	s.mu.Unlock()
	if run {
		s.execute(s.ctx, o)
	}
}

// find returns alias's operation by id (nil when unknown to this instance).
func (s *Server) find(alias string, id int64) *op {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.ops[id]; o != nil && o.alias == alias {
		return o
	}
	return nil
}

func (s *Server) handleAsyncGet(w http.ResponseWriter, alias, ref string, result bool) {
	s.mu.Lock()
	id, ok := s.refs[alias+"\x00"+ref]
	s.mu.Unlock()
	var o *op
	if ok {
		o = s.find(alias, id)
	}
	if o == nil || !o.async {
		writeStatusError(w, http.StatusNotFound, "0.0.6", "no asynchronous operation with externalReference "+ref+" on this instance")
		return
	}
	s.advance(o)
	if !result {
		writeJSON(w, http.StatusOK, s.asyncView(o))
		return
	}
	s.mu.Lock()
	pending := o.finished.IsZero()
	s.mu.Unlock()
	if pending {
		writeStatusError(w, http.StatusConflict, "0.0.6", "operation "+ref+" is not finished; poll its status")
		return
	}
	s.writeOperation(w, o, true)
}

func (s *Server) handleLookup(w http.ResponseWriter, alias, ref string) {
	s.mu.Lock()
	id, ok := s.docRefs[alias+"\x00"+ref]
	s.mu.Unlock()
	if !ok {
		writeStatusError(w, http.StatusNotFound, "0.0.6", "no operation with a document of externalReference "+ref)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(strconv.FormatInt(id, 10)))
}

func (s *Server) handleOperation(w http.ResponseWriter, alias string, id int64, detail, content bool) {
	o := s.find(alias, id)
	if o == nil {
		writeStatusError(w, http.StatusNotFound, "0.0.6", fmt.Sprintf("no operation %d", id))
		return
	}
	s.advance(o)
	if !detail {
		s.mu.Lock()
		view := s.opView(o)
		s.mu.Unlock()
		view.Folder, view.ExecutionTime = nil, nil
		writeJSON(w, http.StatusOK, view)
		return
	}
	s.writeOperation(w, o, content)
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func (s *Server) opView(o *op) wire.Operation {
	v := wire.Operation{ID: o.id, Type: "SIGN", Status: o.status, IssuerClientServiceAlias: o.alias,
		CreationDate: o.created.UTC().Format(timeLayout), FolderExternalReference: o.ref,
		Folder: &wire.Folder{FolderID: o.folderID, ExternalReference: o.ref, Description: o.desc, FolderContent: "DOCUMENT"}}
	if o.proxy {
		v.Folder.FolderContent = "HASH"
	}
	if !o.finished.IsZero() {
		ms := o.execMS
		v.ExecutionTime = &ms
	}
	return v
}

// writeOperation streams a SignOperation, with each signed document's
// content base64-encoded straight from disk when content is set.
func (s *Server) writeOperation(w http.ResponseWriter, o *op, content bool) {
	s.mu.Lock()
	view := s.opView(o)
	type item struct {
		head []byte
		out  string
		ref  string
	}
	items := make([]item, len(o.docs))
	for i, d := range o.docs {
		dr := wire.DocumentResponse{ExternalReference: d.ref, Name: d.name, ContentType: d.ctype, InternalID: d.internalID,
			SignStatus: d.status, SignError: d.signError, CipherStatus: "NO_CIPHER", StorageStatus: "CONTENT_STORED",
			ContentLength: d.size, ReceptionDate: d.received.UTC().Format(timeLayout)}
		if o.proxy {
			dr.StorageStatus = "CONTENT_NOT_STORED"
		}
		items[i] = item{head: wire.OpenObject(dr), ref: d.ref}
		if content && d.status == wire.SignSigned {
			items[i].out = d.out
		}
	}
	if content && !o.finished.IsZero() {
		o.fetched = s.now()
	}
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	head := wire.OpenObject(view)
	bw.Write(head)
	bw.WriteString(wire.Sep(head) + `"documentList":[`)
	var sent []string
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(it.head)
		if it.out != "" {
			bw.WriteString(`,"signedContent":"`)
			if err := encodeFile(bw, it.out); err != nil {
				// Headers are sent: all that is left is to break the body.
				s.log.Error("cannot send signed content", "op", o.id, "doc", it.ref, "err", err)
				panic(http.ErrAbortHandler)
			}
			bw.WriteByte('"')
			sent = append(sent, it.ref)
		}
		bw.WriteByte('}')
	}
	bw.WriteString("]}")
	if err := bw.Flush(); err != nil {
		return // the client went away: nothing was delivered
	}
	s.mu.Lock()
	for _, ref := range sent {
		s.delivered[ref]++
	}
	s.mu.Unlock()
}

func encodeFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	enc := base64.NewEncoder(base64.StdEncoding, w)
	if _, err := io.Copy(enc, f); err != nil {
		return err
	}
	return enc.Close()
}

// run is the instance's worker: it signs queued async operations and removes
// expired operations. It owns no state beyond what s.mu guards.
func (s *Server) run() {
	tick := time.NewTicker(min(s.cfg.ResultTTL/4, time.Minute))
	defer tick.Stop()
	for {
		s.mu.Lock()
		var o *op
		if len(s.queue) > 0 {
			o, s.queue = s.queue[0], s.queue[1:]
		}
		s.mu.Unlock()
		if o != nil {
			s.execute(s.ctx, o)
			s.log.Debug("async operation executed", "op", o.id, "status", o.status)
			continue
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
			s.housekeep()
		}
	}
}

// housekeep deletes operations finished (or fetched) longer than ResultTTL
// ago, and the files of forgotten operations.
func (s *Server) housekeep() {
	now := s.now()
	var dirs []string
	s.mu.Lock()
	for id, o := range s.ops {
		if o.finished.IsZero() {
			continue
		}
		last := o.finished
		if o.fetched.After(last) {
			last = o.fetched
		}
		if now.Sub(last) > s.cfg.ResultTTL {
			delete(s.ops, id)
			delete(s.refs, o.alias+"\x00"+o.ref)
			for _, d := range o.docs {
				delete(s.docRefs, o.alias+"\x00"+d.ref)
			}
			dirs = append(dirs, o.dir)
		}
	}
	for d, t := range s.orphans {
		if now.Sub(t) > time.Minute {
			dirs = append(dirs, d)
			delete(s.orphans, d)
		}
	}
	s.mu.Unlock()
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}

// MarkerSign is a stand-in SignFunc: it copies the input and appends a
// marker line. It does not sign; use it only where real signatures do not
// matter.
func MarkerSign(ctx context.Context, inPath, outPath, name string, t signing.Type, o signing.Options) error {
	in, err := os.Open(inPath)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	marker := "\n%signstash-sim " + string(t) + "\n"
	if t == signing.TypeXAdES {
		marker = "\n<!-- signstash-sim xades -->\n"
	}
	if _, err := io.WriteString(out, marker); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

package sim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/internal/wire"
)

// Server is one emulator instance. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	paths  map[string]string
	log    *slog.Logger
	now    func() time.Time
	tmpDir bool // DataDir was created by New and is removed by Close

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}

	mu        sync.Mutex // guards everything below
	faults    Faults
	rng       *mrand.Rand
	clients   map[string]Client
	ops       map[int64]*op
	refs      map[string]int64 // alias + "\x00" + request ref -> op id
	docRefs   map[string]int64 // alias + "\x00" + document ref -> op id
	nextID    int64
	nextDoc   int64
	calls     int
	queue     []*op
	orphans   map[string]time.Time // directories of forgotten operations
	signed    map[string]int
	delivered map[string]int
	byRoute   map[string]int // business calls by path template name
	forgotten map[string]int // signed document references whose operation a restart forgot
	restarts  int
}

type op struct {
	id       int64
	alias    string
	ref      string
	desc     string
	proxy    bool // created through the proxy base path
	async    bool
	retSign  bool
	dir      string
	created  time.Time
	finished time.Time // zero while pending
	fetched  time.Time
	execMS   int64
	status   string
	folderID string
	docs     []*doc
	held     bool // answered pending: executed after pollsLeft more polls
	polls    int
}

type doc struct {
	ref, name, ctype string
	sig              signatureInfo
	vis              *signing.Visible // resolved visible signature location
	in, out          string
	size             int64
	internalID       int64
	received         time.Time
	status           string
	signError        string
}

// New returns an instance and starts its background worker (async signing
// and housekeeping); Close stops it.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 86399 * time.Second
	}
	if len(cfg.TokenKey) == 0 {
		cfg.TokenKey = make([]byte, 32)
		rand.Read(cfg.TokenKey)
	}
	if cfg.Sign == nil {
		cfg.Sign = MarkerSign
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.ResultTTL <= 0 {
		cfg.ResultTTL = 24 * time.Hour
	}
	if cfg.AsyncStatus == 0 {
		cfg.AsyncStatus = http.StatusAccepted
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.AdvertiseHost == "" {
		cfg.AdvertiseHost = "127.0.0.1"
	}
	switch cfg.AdvertiseForm {
	case "", AdvertiseNumber, AdvertiseStringPort, AdvertiseJoined:
	default:
		return nil, fmt.Errorf("advertise form %q is not %s, %s or %s", cfg.AdvertiseForm, AdvertiseNumber, AdvertiseStringPort, AdvertiseJoined)
	}
	if err := checkFaults(cfg.Faults); err != nil {
		return nil, err
	}
	paths, err := wire.Paths(cfg.Paths)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, paths: paths, log: cfg.Logger.With("component", "signstash-sim", "port", cfg.AdvertisePort), now: cfg.Now,
		wake: make(chan struct{}, 1), faults: cfg.Faults,
		rng:     mrand.New(mrand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		clients: map[string]Client{}, ops: map[int64]*op{}, refs: map[string]int64{}, docRefs: map[string]int64{},
		nextID: 1000, nextDoc: 1, orphans: map[string]time.Time{}, signed: map[string]int{}, delivered: map[string]int{}, byRoute: map[string]int{}, forgotten: map[string]int{},
	}
	for k, v := range cfg.Clients {
		if v.Status == "" {
			v.Status = StatusActive
		}
		s.clients[k] = v
	}
	if s.cfg.DataDir == "" {
		d, err := os.MkdirTemp("", "signstash-sim-")
		if err != nil {
			return nil, err
		}
		s.cfg.DataDir, s.tmpDir = d, true
	} else {
		// Operations do not survive a restart of the emulator: start clean.
		if err := os.RemoveAll(filepath.Join(s.cfg.DataDir, "ops")); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(s.cfg.DataDir, "ops"), 0o700); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.run() }()
	return s, nil
}

// Close stops the worker, waits for it and removes a temporary DataDir.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	if s.tmpDir {
		return os.RemoveAll(s.cfg.DataDir)
	}
	return nil
}

func checkFaults(f Faults) error {
	for name, r := range map[string]float64{"fail_rate": f.FailRate, "throttle_rate": f.ThrottleRate, "reset_rate": f.ResetRate, "doc_error_rate": f.DocErrorRate,
		"pending_rate": f.PendingRate, "exec_error_rate": f.ExecErrorRate, "received_rate": f.ReceivedRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("fault %s = %v is not in [0,1]", name, r)
		}
	}
	if f.ErrorCode != "" {
		if _, ok := errorCodes[f.ErrorCode]; !ok {
			return fmt.Errorf("fault error_code %q is not a documented code (e.g. 0.0.1, 1.1.1, 429)", f.ErrorCode)
		}
	}
	if f.PendingRate+f.ExecErrorRate > 1 {
		return errors.New("faults pending_rate + exec_error_rate exceed 1")
	}
	if f.RestartAfter < 0 || f.Latency < 0 || f.RetryAfter < 0 || f.PendingPolls < 0 {
		return errors.New("fault durations and counts must not be negative")
	}
	return nil
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) error {
	if err := checkFaults(f); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f
	s.calls = 0
	s.mu.Unlock()
	return nil
}

// Faults returns the injected faults.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetClientStatus makes a client service ACTIVE or INACTIVE.
func (s *Server) SetClientStatus(alias, status string) error {
	if status != StatusActive && status != StatusInactive {
		return fmt.Errorf("status %q is neither ACTIVE nor INACTIVE", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[alias]
	if !ok {
		return fmt.Errorf("unknown client service %q", alias)
	}
	c.Status = status
	s.clients[alias] = c
	return nil
}

// Signed returns how many times the document with external reference ref
// was signed by this instance (whether or not the result was delivered).
func (s *Server) Signed(ref string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signed[ref]
}

// Knows reports whether this instance holds an operation with a document
// of external reference ref (of any client service).
func (s *Server) Knows(ref string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.docRefs {
		if _, r, _ := strings.Cut(k, "\x00"); r == ref {
			return true
		}
	}
	return false
}

// Delivered returns how many times the signed content of the document with
// external reference ref was sent in full in a response.
func (s *Server) Delivered(ref string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered[ref]
}

// Stats is the emulator's counters, as served by GET /sim/stats.
type Stats struct {
	Operations int            `json:"operations"`
	Pending    int            `json:"pending"`
	Restarts   int            `json:"restarts"`
	Signed     map[string]int `json:"signed"`
	Delivered  map[string]int `json:"delivered"`
	// Calls counts business calls by path template name (sync_sign,
	// multipart_sign, documents_zip, …), whatever their answer.
	Calls map[string]int `json:"calls"`
	// Forgotten counts, per document reference, the signed documents whose
	// operation a restart forgot: a client can then prove the operation
	// absent and send the document again, so the service signs it twice.
	Forgotten map[string]int `json:"forgotten"`
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Operations: len(s.ops), Restarts: s.restarts, Signed: map[string]int{}, Delivered: map[string]int{}, Calls: map[string]int{}}
	for k, v := range s.byRoute {
		st.Calls[k] = v
	}
	st.Forgotten = map[string]int{}
	for k, v := range s.forgotten {
		st.Forgotten[k] = v
	}
	for _, o := range s.ops {
		if o.finished.IsZero() {
			st.Pending++
		}
	}
	for k, v := range s.signed {
		st.Signed[k] = v
	}
	for k, v := range s.delivered {
		st.Delivered[k] = v
	}
	return st
}

// Restart makes the instance forget every operation, as a restarted proxy
// instance does. Counters are kept.
func (s *Server) Restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restartLocked()
}

func (s *Server) restartLocked() {
	for _, o := range s.ops {
		s.orphans[o.dir] = s.now()
		for _, d := range o.docs {
			if d.status == wire.SignSigned {
				s.forgotten[d.ref]++
			}
		}
	}
	s.ops = map[int64]*op{}
	s.refs = map[string]int64{}
	s.docRefs = map[string]int64{}
	s.queue = nil
	s.restarts++
	s.log.Info("instance restarted: operations forgotten")
}

// Handler returns the HTTP handler: token endpoint, SaaS and proxy business
// paths (trailing and duplicate slashes tolerated) and the /sim/ admin
// endpoints.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// TokenHandler returns the token endpoint alone (every other path is
// Spring Boot's 404), for a token listener of its own.
func (s *Server) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := wire.CleanPath(r.URL.EscapedPath())
		if p != wire.TokenPath {
			s.noSuchPath(w, p)
			return
		}
		s.delay(r.Context())
		s.handleToken(w, r)
	})
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := wire.CleanPath(r.URL.EscapedPath())
	switch {
	case p == wire.TokenPath && !s.cfg.SeparateToken:
		s.delay(r.Context())
		s.handleToken(w, r)
	case strings.HasPrefix(p, "/sim/"):
		s.handleAdmin(w, r, p)
	case strings.HasPrefix(p, wire.ProxyPrefix+"/"):
		s.business(w, r, true, strings.TrimPrefix(p, wire.ProxyPrefix+"/"))
	case strings.HasPrefix(p, wire.SaaSPrefix+"/"):
		s.business(w, r, false, strings.TrimPrefix(p, wire.SaaSPrefix+"/"))
	default:
		s.noSuchPath(w, p)
	}
}

// noSuchPath answers a path the server does not serve as a Spring Boot
// application does: 404 with its own error shape, not the service's
// ErrorResponse, so a client can tell "no such call" from "no such
// operation".
func (s *Server) noSuchPath(w http.ResponseWriter, p string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"timestamp": s.now().UTC().Format("2006-01-02T15:04:05.000+00:00"),
		"status": 404, "error": "Not Found", "path": p})
}

func (s *Server) delay(ctx context.Context) {
	s.mu.Lock()
	d := time.Duration(s.faults.Latency)
	s.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

type route struct {
	name   string
	method string
	proxy  bool // proxy base path only
}

var routes = []route{
	{wire.PathSyncSign, http.MethodPost, false},
	{wire.PathMultipartSign, http.MethodPost, false},
	{wire.PathAsyncRegister, http.MethodPost, true},
	{wire.PathAsyncRegisterFiles, http.MethodPost, true},
	{wire.PathAsyncStatus, http.MethodGet, true},
	{wire.PathAsyncResult, http.MethodGet, true},
	{wire.PathLookup, http.MethodGet, false},
	{wire.PathStatus, http.MethodGet, false},
	{wire.PathDetail, http.MethodGet, false},
	{wire.PathDocumentsZip, http.MethodGet, false},
}

// fault is the outcome of the fault draw for one call.
type fault int

const (
	faultNone fault = iota
	faultReset
)

func (s *Server) business(w http.ResponseWriter, r *http.Request, proxy bool, rel string) {
	var rt *route
	var vars map[string]string
	for i := range routes {
		if proxy && s.cfg.NoProxyLookup && (routes[i].name == wire.PathLookup || routes[i].name == wire.PathStatus || routes[i].name == wire.PathDetail || routes[i].name == wire.PathDocumentsZip) {
			continue // a proxy that only signs: no operation management
		}
		if v, ok := wire.Match(s.paths[routes[i].name], rel); ok && (proxy || !routes[i].proxy) {
			rt, vars = &routes[i], v
			break
		}
	}
	if rt == nil {
		s.noSuchPath(w, r.URL.Path)
		return
	}
	s.mu.Lock()
	s.byRoute[rt.name]++
	s.mu.Unlock()
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed", "error_description": "use " + rt.method})
		return
	}
	alias, ok := s.authorize(w, r)
	if !ok {
		return
	}
	if proxy && s.Faults().SaaSDown {
		writeError(w, "0.0.1", saasDownCause(r.Method, rel))
		return
	}
	f, ok := s.drawFaults(w, r)
	if !ok {
		return
	}
	if f == faultReset && rt.method == http.MethodGet {
		if !s.Faults().ResetSendsOnly {
			reset(w)
			return
		}
		f = faultNone
	}
	switch rt.name {
	case wire.PathSyncSign, wire.PathAsyncRegister, wire.PathMultipartSign, wire.PathAsyncRegisterFiles:
		async := rt.name == wire.PathAsyncRegister || rt.name == wire.PathAsyncRegisterFiles
		multi := rt.name == wire.PathMultipartSign || rt.name == wire.PathAsyncRegisterFiles
		s.handleSign(w, r, alias, proxy, async, multi, f == faultReset)
	case wire.PathAsyncStatus, wire.PathAsyncResult:
		s.handleAsyncGet(w, alias, vars["externalReference"], rt.name == wire.PathAsyncResult)
	case wire.PathLookup:
		s.handleLookup(w, alias, vars["externalReference"])
	case wire.PathStatus, wire.PathDetail, wire.PathDocumentsZip:
		id, err := strconv.ParseInt(vars["operationId"], 10, 64)
		if err != nil {
			writeError(w, "0.0.6", "operationId must be a number")
			return
		}
		incl := false
		if rt.name == wire.PathDetail {
			// A template may write the flag literally (…/contentInResponse/true).
			v, ok := vars["includeContent"]
			if !ok {
				v = "true"
			}
			if incl, err = strconv.ParseBool(v); err != nil {
				writeError(w, "0.0.6", "includeContent must be true or false")
				return
			}
		}
		if rt.name == wire.PathDocumentsZip {
			s.handleDocuments(w, alias, id)
			return
		}
		s.handleOperation(w, alias, id, rt.name == wire.PathDetail, incl)
	}
}

// authorize checks the bearer token and the client service's status.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	var c claims
	err := errBadToken
	if strings.EqualFold(scheme, "bearer") && tok != "" {
		c, err = s.verifyToken(strings.TrimSpace(tok))
	}
	s.mu.Lock()
	cl, known := s.clients[c.ClientID]
	as409 := s.faults.ExpiredTokenAs409
	s.mu.Unlock()
	if err == nil && !known {
		err = errBadToken
	}
	if err != nil {
		if as409 {
			writeError(w, "0.0.10", err.Error())
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, oauthErr("invalid_token", err.Error()))
		}
		return "", false
	}
	if cl.Status == StatusInactive {
		writeError(w, "1.1.1", "client service "+c.ClientID+" is inactive")
		return "", false
	}
	return c.ClientID, true
}

// drawFaults applies the injected faults to one business call. It answers
// the call itself (and returns false) for error faults.
func (s *Server) drawFaults(w http.ResponseWriter, r *http.Request) (fault, bool) {
	s.mu.Lock()
	f := s.faults
	s.calls++
	if f.RestartAfter > 0 && s.calls%f.RestartAfter == 0 {
		s.restartLocked()
	}
	fail := f.FailRate > 0 && s.rng.Float64() < f.FailRate
	throttle := f.ThrottleRate > 0 && s.rng.Float64() < f.ThrottleRate
	rst := f.ResetRate > 0 && s.rng.Float64() < f.ResetRate
	s.mu.Unlock()
	s.delay(r.Context())
	switch {
	case f.ErrorCode == "429" || throttle:
		ra := time.Duration(f.RetryAfter)
		if ra <= 0 {
			ra = time.Second
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
		writeJSON(w, http.StatusTooManyRequests, wire.ErrorResponse{ErrorCode: "", ErrorCodeDescription: "Too many requests.", CauseMessage: "request rate limit reached, retry later"})
		return faultNone, false
	case f.ErrorCode != "":
		writeError(w, f.ErrorCode, "injected by signstash-sim")
		return faultNone, false
	case fail:
		writeError(w, "0.0.1", "injected failure")
		return faultNone, false
	case rst:
		return faultReset, true
	}
	return faultNone, true
}

// reset drops the connection without an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST, not FIN
	}
	c.Close()
}

// errorCodes are the documented error codes with their HTTP statuses.
var errorCodes = map[string]struct {
	status int
	desc   string
}{
	"0.0.1":  {500, "Unhandled error."},
	"0.0.2":  {500, "Mandatory attribute is missing."},
	"0.0.3":  {500, "Missing system default configuration."},
	"0.0.4":  {500, "Attribute size exceeded."},
	"0.0.5":  {500, "E-mail could not be sent."},
	"0.0.6":  {500, "Error validating request parameters."},
	"0.0.7":  {409, "Information already exists."},
	"0.0.10": {409, "Access token provided is expired or invalid."},
	"1.1.0":  {401, "Invalid or missing license."},
	"1.1.1":  {401, "License is inactive."},
	"1.1.2":  {409, "Client service for license already exists."},
	"1.1.3":  {409, "Client service status does not allow the operation."},
	"1.1.4":  {400, "Client service credential is too weak."},
	"1.2.0":  {403, "Issuer is inactive."},
	"1.3.0":  {403, "Partner is inactive."},
	"2.2.1":  {400, "Visible elements not present for PAdES Signature."},
	"429":    {429, "Too many requests."},
}

func writeError(w http.ResponseWriter, code, cause string) {
	e := errorCodes[code]
	writeJSON(w, e.status, wire.ErrorResponse{ErrorCode: code, ErrorCodeDescription: e.desc, CauseMessage: cause})
}

func writeStatusError(w http.ResponseWriter, status int, code, cause string) {
	writeJSON(w, status, wire.ErrorResponse{ErrorCode: code, ErrorCodeDescription: errorCodes[code].desc, CauseMessage: cause})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// handleAdmin serves the emulator-only endpoints:
//
//	GET  /sim/faults           current faults
//	POST /sim/faults           replace faults (JSON Faults)
//	POST /sim/clients/{alias}  {"status":"ACTIVE"|"INACTIVE"}
//	POST /sim/restart          forget all operations
//	GET  /sim/stats            counters (Stats)
func (s *Server) handleAdmin(w http.ResponseWriter, r *http.Request, p string) {
	switch {
	case p == "/sim/faults" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Faults())
	case p == "/sim/faults" && r.Method == http.MethodPost:
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "error_description": err.Error()})
			return
		}
		if err := s.SetFaults(f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "error_description": err.Error()})
			return
		}
		s.log.Info("faults changed", "faults", f)
		writeJSON(w, http.StatusOK, f)
	case strings.HasPrefix(p, "/sim/clients/") && r.Method == http.MethodPost:
		var body struct {
			Status string `json:"status"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "error_description": err.Error()})
			return
		}
		alias := strings.TrimPrefix(p, "/sim/clients/")
		if a, err := urlUnescape(alias); err == nil {
			alias = a
		}
		if err := s.SetClientStatus(alias, body.Status); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "error_description": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, body)
	case p == "/sim/restart" && r.Method == http.MethodPost:
		s.Restart()
		writeJSON(w, http.StatusOK, map[string]bool{"restarted": true})
	case p == "/sim/stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Stats())
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such admin endpoint: " + r.Method + " " + p})
	}
}

// saasDownCause is what a Spring proxy says when its call to the
// Integration Service cannot connect (RestTemplate's wording; inferred).
func saasDownCause(method, rel string) string {
	return fmt.Sprintf("I/O error on %s request for \"https://saas.invalid%s/%s\": Connect to saas.invalid:443 failed: connect timed out", method, wire.SaaSPrefix, rel)
}

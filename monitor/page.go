package monitor

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/signagent/signagent"
)

// CertificateWarning is how long before its expiry a signing certificate is
// flagged on the page.
const CertificateWarning = 30 * 24 * time.Hour

// Page is the status page on GET /: a server-rendered HTML view of the
// queue report, the live folder state, the failures and the agent, with the
// operator actions "recheck now" and "retry" as plain HTML forms (no
// script is needed).
//
// Actions are POSTs that must carry the page's per-process token and, when
// the browser sends them, an Origin (or Sec-Fetch-Site) of the page itself;
// the Host header must name this machine (a loopback name or an IP
// literal), so a page of another site can neither forge an action nor,
// through DNS rebinding, read the token.
type Page struct {
	// Info describes the agent: version, pid, start, configuration file and
	// backends. Required.
	Info *AgentInfo
	// Live returns what only the running agent knows about each folder.
	// Optional: without it the page shows the queue report only.
	Live func(ctx context.Context) ([]FolderLive, error)
	// Actions performs the operator actions; nil disables them (the page
	// shows no buttons and the POST routes answer 403).
	Actions Actions
	// Rate returns a folder's publications per minute over the last few
	// minutes (Metrics.PerMinute); optional.
	Rate func(folder string) float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	once  sync.Once
	token string

	flashMu sync.Mutex
	flashes map[string]flash // by id, at most maxFlashes
}

// Actions are the operator actions of the page; *agent.Agent implements
// them.
type Actions interface {
	// Recheck makes a held folder try again now.
	Recheck(folder string) error
	// Retry requeues failed documents of folder (paths under its error
	// folder; none means all) and returns how many were requeued.
	Retry(ctx context.Context, folder string, rels ...string) (int, error)
}

// AgentInfo describes the running agent.
type AgentInfo struct {
	Version    string
	PID        int
	Started    time.Time
	ConfigFile string
	Listen     string
	Backends   []BackendInfo
}

// BackendInfo is a signing backend and, where the agent holds it, its
// certificate.
type BackendInfo struct {
	Name string
	Type string
	// Subject, Issuer, NotBefore and NotAfter describe the signing
	// certificate; empty when the service holds it (Note says so).
	Subject   string
	Issuer    string
	NotBefore time.Time
	NotAfter  time.Time
	// Dev marks the development certificate, trusted by no one.
	Dev  bool
	Note string
}

// FolderLive is a folder's live state (agent.FolderLive, without the
// dependency).
type FolderLive struct {
	Name           string
	HeldSince      time.Time
	NextRecheck    time.Time
	Inbox          int
	InboxOldest    time.Time
	InboxOldestRel string
	InboxTruncated bool
	Failed         []FailedDoc
	FailedTotal    int
}

// FailedDoc is a failed document waiting in an error folder.
type FailedDoc struct {
	// File is the original's path under the error folder (what Retry
	// takes); ErrorFile its error file's.
	File      string
	ErrorFile string
	Code      string
	Message   string
	Hint      string
	Attempts  int
	FailedAt  time.Time
}

//go:embed page.html
var pageFS embed.FS

var pageTmpl = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"ago":  ago,
	"in":   until,
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"day":  func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"rate": func(f float64) string { return fmt.Sprintf("%.1f", f) },
}).ParseFS(pageFS, "page.html"))

// flash is the outcome of an action, shown once on the page it redirects to.
type flash struct {
	Msg string
	Err bool
	at  time.Time
}

const maxFlashes = 64

func (p *Page) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// Token is the per-process token the page's forms carry.
func (p *Page) Token() string {
	p.once.Do(func() {
		b := make([]byte, 32)
		rand.Read(b)
		p.token = hex.EncodeToString(b)
	})
	return p.token
}

// routes adds the page's routes to mux; status is the queue report source
// and addr the configured listen address (its host is accepted in Host).
func (p *Page) routes(mux *http.ServeMux, status StatusFunc, addr string) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, status) })
	mux.HandleFunc("POST /actions/recheck", func(w http.ResponseWriter, r *http.Request) { p.action(w, r, addr, p.recheck) })
	mux.HandleFunc("POST /actions/retry", func(w http.ResponseWriter, r *http.Request) { p.action(w, r, addr, p.retry) })
}

// view is what the template renders.
type view struct {
	Now      time.Time
	Info     *AgentInfo
	Uptime   time.Duration
	Problems []Problem
	Err      string
	Folders  []folderView
	Failures []failureView
	InFlight []batchView
	Unknown  []unknownView
	Ignored  []string
	Token    string
	Actions  bool
	Flash    *flash
	Ledger   int64
	Backends []backendView
}

type folderView struct {
	signagent.FolderStatus
	Live   FolderLive
	Rate   float64
	States []stateCount
}

type stateCount struct {
	State signagent.State
	N     int
}

type failureView struct {
	Folder string
	FailedDoc
}

// unknownView is a batch whose outcome stayed unknown, waiting for an
// operator's decision.
type unknownView struct {
	Folder string
	signagent.UnknownBatch
}

type batchView struct {
	Folder string
	signagent.Operation
	Held bool
}

type backendView struct {
	BackendInfo
	Expired  bool
	Expiring bool
	Left     time.Duration
}

func (p *Page) serve(w http.ResponseWriter, r *http.Request, status StatusFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	now := p.now()
	v := &view{Now: now, Info: p.Info, Token: p.Token(), Actions: p.Actions != nil}
	if v.Info == nil {
		v.Info = &AgentInfo{}
	}
	if !v.Info.Started.IsZero() {
		v.Uptime = now.Sub(v.Info.Started).Round(time.Second)
	}
	if id := r.URL.Query().Get("result"); id != "" {
		v.Flash = p.takeFlash(id)
	}
	var st *signagent.Status
	var err error
	if status == nil {
		err = errors.New("no status source configured")
	} else {
		st, err = status(ctx)
	}
	if err != nil {
		v.Err = "status unavailable: " + err.Error()
	} else if herr := Healthy(st); herr != nil {
		var u *UnhealthyError
		if errors.As(herr, &u) {
			v.Problems = u.Problems
		}
	}
	live := map[string]FolderLive{}
	if p.Live != nil {
		if ls, err := p.Live(ctx); err == nil {
			for _, l := range ls {
				live[l.Name] = l
			}
		} else if v.Err == "" {
			v.Err = "live state unavailable: " + err.Error()
		}
	}
	if st != nil {
		v.Ledger = st.LedgerBytes
		for _, f := range st.Folders {
			fv := folderView{FolderStatus: f, Live: live[f.Name]}
			for _, s := range states {
				fv.States = append(fv.States, stateCount{s, f.Counts[s]})
			}
			if p.Rate != nil {
				fv.Rate = p.Rate(f.Name)
			}
			v.Folders = append(v.Folders, fv)
			for _, fd := range fv.Live.Failed {
				v.Failures = append(v.Failures, failureView{Folder: f.Name, FailedDoc: fd})
			}
			for _, ub := range f.OutcomeUnknown {
				v.Unknown = append(v.Unknown, unknownView{Folder: f.Name, UnknownBatch: ub})
			}
			for _, op := range f.InFlight {
				v.InFlight = append(v.InFlight, batchView{Folder: f.Name, Operation: op, Held: f.Held != ""})
			}
			for _, ig := range f.Ignored {
				v.Ignored = append(v.Ignored, f.Name+": "+ig)
			}
		}
	}
	sort.SliceStable(v.Failures, func(i, j int) bool { return v.Failures[i].FailedAt.After(v.Failures[j].FailedAt) })
	for _, b := range v.Info.Backends {
		bv := backendView{BackendInfo: b}
		if !b.NotAfter.IsZero() {
			bv.Left = b.NotAfter.Sub(now)
			bv.Expired = bv.Left <= 0
			bv.Expiring = !bv.Expired && bv.Left < CertificateWarning
		}
		v.Backends = append(v.Backends, bv)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	securityHeaders(w.Header())
	if err := pageTmpl.Execute(w, v); err != nil {
		http.Error(w, "render: "+err.Error(), http.StatusInternalServerError)
	}
}

// securityHeaders forbid scripts, framing (no clickjacking of the buttons)
// and form targets other than this listener.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Not "no-referrer": with it browsers send "Origin: null" on the
	// page's own form posts, which the Origin check must refuse.
	h.Set("Referrer-Policy", "same-origin")
}

// action checks a POST against cross-site use, runs do and redirects to the
// page, which shows the outcome once.
func (p *Page) action(w http.ResponseWriter, r *http.Request, addr string, do func(context.Context, *http.Request) (string, error)) {
	securityHeaders(w.Header())
	if p.Actions == nil {
		http.Error(w, "actions are disabled (ui_actions = false)", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := p.allowed(r, addr); err != nil {
		http.Error(w, "refused: "+err.Error(), http.StatusForbidden)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	msg, err := do(ctx, r)
	if r.Header.Get("Accept") == "application/json" {
		// A program (signagent recheck): the outcome itself, no redirect.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		code, res := http.StatusOK, ActionResult{Message: msg}
		if err != nil {
			code, res = http.StatusConflict, ActionResult{Error: err.Error()}
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(res)
		return
	}
	f := flash{Msg: msg, at: p.now()}
	if err != nil {
		f = flash{Msg: err.Error(), Err: true, at: p.now()}
	}
	http.Redirect(w, r, "/?result="+url.QueryEscape(p.putFlash(f)), http.StatusSeeOther)
}

// ActionResult is the answer to an action posted with "Accept:
// application/json": 200 with Message, or 409 with Error.
type ActionResult struct {
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// allowed reports why r may not run an action: a Host that does not name
// this machine, an Origin of another site, or a missing or wrong token.
func (p *Page) allowed(r *http.Request, addr string) error {
	if !p.hostAllowed(r.Host, addr) {
		return fmt.Errorf("host %q is not this machine's address", r.Host)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Errorf("cross-site request from origin %q", o)
		}
	} else if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return fmt.Errorf("cross-site request (%s)", s)
	}
	tok := r.PostFormValue("token")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(p.Token())) != 1 {
		return errors.New("missing or stale page token: reload the page and try again")
	}
	return nil
}

// hostAllowed accepts a Host header that names this machine without a
// name another site could control: a loopback name, an IP literal, or the
// host of the configured listen address.
func (p *Page) hostAllowed(hostport, addr string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil {
		return true
	}
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" && strings.EqualFold(strings.Trim(h, "[]"), host) {
		return true
	}
	return false
}

func (p *Page) recheck(ctx context.Context, r *http.Request) (string, error) {
	folder := r.PostFormValue("folder")
	if err := p.Actions.Recheck(folder); err != nil {
		return "", fmt.Errorf("recheck of folder %q: %w", folder, err)
	}
	return fmt.Sprintf("folder %q: recheck started", folder), nil
}

func (p *Page) retry(ctx context.Context, r *http.Request) (string, error) {
	folder := r.PostFormValue("folder")
	files := r.PostForm["file"]
	n, err := p.Actions.Retry(ctx, folder, files...)
	if err != nil && n == 0 {
		return "", fmt.Errorf("retry in folder %q: %w", folder, err)
	}
	msg := fmt.Sprintf("folder %q: %d document(s) moved back to the inbox for a new attempt", folder, n)
	if err != nil {
		msg += "; not requeued: " + err.Error()
	}
	return msg, nil
}

func (p *Page) putFlash(f flash) string {
	b := make([]byte, 8)
	rand.Read(b)
	id := hex.EncodeToString(b)
	p.flashMu.Lock()
	defer p.flashMu.Unlock()
	if p.flashes == nil {
		p.flashes = map[string]flash{}
	}
	if len(p.flashes) >= maxFlashes {
		var oldest string
		for k, v := range p.flashes {
			if oldest == "" || v.at.Before(p.flashes[oldest].at) {
				oldest = k
			}
		}
		delete(p.flashes, oldest)
	}
	p.flashes[id] = f
	return id
}

func (p *Page) takeFlash(id string) *flash {
	p.flashMu.Lock()
	defer p.flashMu.Unlock()
	f, ok := p.flashes[id]
	if !ok {
		return nil
	}
	delete(p.flashes, id)
	return &f
}

// ago renders how long before now t was, coarsely.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return human(now.Sub(t)) + " ago"
}

// until renders how long after now t is.
func until(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "now"
	}
	return "in " + human(d)
}

func human(d time.Duration) string {
	switch {
	case d < 0:
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

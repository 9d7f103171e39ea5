package signstash

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
)

// Client is the Sign'Stash backend. It is safe for concurrent use.
type Client struct {
	cfg   Config
	base  *url.URL
	paths map[string]string
	hc    *http.Client
	saas  bool
	log   *slog.Logger
	// instances are the parsed Config.Instances: base URLs.
	instances []*url.URL
	// inferred: Service was inferred from BaseURL's path.
	inferred bool
	// offers records, per path template, whether the last Check found the
	// call offered.
	offersMu sync.Mutex
	offers   map[string]bool
	findings []string // the last Check's warnings
	docs     *apiDocs // the last Check's OpenAPI comparison
	// unknownStatus holds the undocumented operation statuses already
	// warned about.
	unknownStatus sync.Map

	tokMu  sync.Mutex // guards tok and tokExp; held while a token is fetched
	tok    string
	tokExp time.Time
}

var _ signing.Backend = (*Client)(nil)

// Name returns the configured backend name.
func (c *Client) Name() string { return c.cfg.Name }

// Error is an error answer of the service, as sent on the wire.
type Error struct {
	StatusCode  int    // HTTP status
	Code        string // errorCode, e.g. "1.1.1"; for OAuth answers the OAuth error
	Description string // errorCodeDescription
	Cause       string // causeMessage

	// errorResponse: the body was the service's ErrorResponse (errorCode,
	// errorCodeDescription, causeMessage), not a web server's or gateway's
	// page. Only such a 404 says "no such operation".
	errorResponse bool
}

func (e *Error) Error() string {
	s := "HTTP " + strconv.Itoa(e.StatusCode)
	if e.Code != "" {
		s += " error " + e.Code
	}
	if e.Description != "" {
		s += " (" + strings.TrimSuffix(e.Description, ".") + ")"
	}
	if e.Cause != "" {
		s += ": " + e.Cause
	}
	return s
}

// wireCode returns the service error code carried by err, if any.
func wireCode(err error) (int, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode, e.Code
	}
	return 0, ""
}

// absent reports whether err is the service saying it holds no such
// operation: HTTP 404 in the service's error shape. A 404 without it (a
// path the server does not offer) says nothing about the operation.
func absent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound && e.errorResponse
}

// missingCall reports whether err says the server does not offer the call
// at all: 404 without the service's error shape, or 405. The proxy may
// offer no look-up, status or detail (it "only signs"), so this is never
// taken for "no such operation".
func missingCall(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusNotFound && !e.errorResponse || e.StatusCode == http.StatusMethodNotAllowed)
}

// token returns a valid access token, fetching one when none is cached or
// the cached one is about to expire.
func (c *Client) token(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.tok != "" && c.cfg.Clock.Now().Before(c.tokExp) {
		return c.tok, nil
	}
	fetched := c.cfg.Clock.Now()
	tok, life, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	if life <= 0 {
		life = time.Hour
	}
	// Renew 5 minutes before expiry, or at 80 % of a short lifetime.
	c.tok, c.tokExp = tok, fetched.Add(life-min(5*time.Minute, life/5))
	c.log.Debug("access token obtained", "expires_in", life)
	return c.tok, nil
}

// basicAuth is the documented token credential: base64 of the raw
// "client_id:client_secret". Unlike RFC 6749 §2.3.1, neither value is
// form-encoded first: the vendor's example and its clients send them as they
// are, so a secret holding + / @ % : or spaces must go out unchanged.
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// fetchToken makes the documented client-credentials call: POST token_url,
// form body grant_type=client_credentials, Basic credentials.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.TokenURL, strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", 0, configError("backend %s: token_url: %v", c.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", basicAuth(c.cfg.ClientID, c.cfg.ClientSecret))
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, ctx.Err()
		}
		return "", 0, signagent.TransientError("cannot get a Sign'Stash access token: no answer from "+req.URL.Host, "", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, c.tokenError(resp.StatusCode, resp.Header, readError(resp))
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	// The body holds the token: never echo it.
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&t); err != nil || t.AccessToken == "" {
		return "", 0, signagent.TransientError("the Sign'Stash token endpoint answered 200 without an access token",
			"check that token_url is the OAuth token endpoint (…/oauth2/authorization-server/oauth/token)", nil)
	}
	if tt := t.TokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		return "", 0, configError("backend %s: the token endpoint issued a %q token, not a bearer token", c.cfg.Name, tt)
	}
	// expires_in is a number in the documented example; a string of digits
	// is accepted too.
	var secs float64
	if err := json.Unmarshal(t.ExpiresIn, &secs); err != nil {
		var str string
		if json.Unmarshal(t.ExpiresIn, &str) == nil {
			secs, _ = strconv.ParseFloat(str, 64)
		}
	}
	if secs > 0 && secs < 1e9 {
		return t.AccessToken, time.Duration(secs * float64(time.Second)), nil
	}
	return t.AccessToken, 0, nil
}

// dropToken forgets tok (if still cached) after the service rejected it.
func (c *Client) dropToken(tok string) {
	c.tokMu.Lock()
	if c.tok == tok {
		c.tok = ""
	}
	c.tokMu.Unlock()
}

func (c *Client) tokenError(st int, h http.Header, we *Error) error {
	switch {
	case st == http.StatusBadRequest || st == http.StatusUnauthorized || st == http.StatusForbidden:
		return signagent.ConfigError(fmt.Sprintf("the Sign'Stash token endpoint refused client service %s", c.cfg.ClientID),
			"check client_id and the client secret (and that token_url is the right environment); documents wait until it works", we)
	case st == http.StatusNotFound:
		return signagent.ConfigError(fmt.Sprintf("the Sign'Stash token endpoint %s does not exist (HTTP 404)", c.cfg.TokenURL),
			"check token_url", we)
	default:
		return classify(false, st, h, we, "get an access token")
	}
}

// bodyFunc produces a fresh request body and its length (-1 if unknown).
type bodyFunc func() (io.ReadCloser, int64, error)

// request is a request body: how to produce it, and its Content-Type.
type request struct {
	open  bodyFunc
	ctype string
}

// do sends one call with a bearer token, retrying once with a fresh token
// when the service rejects the token. A non-2xx answer becomes a classified
// *signagent.Error wrapping *Error; the caller closes a returned response.
func (c *Client) do(ctx context.Context, method, u string, body *request, what string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		var sent bodies
		if body != nil {
			rc, n, err := body.open()
			if err != nil {
				return nil, err
			}
			req.Body, req.ContentLength = sent.add(rc), n
			req.GetBody = func() (io.ReadCloser, error) {
				rc, _, err := body.open()
				if err != nil {
					return nil, err
				}
				return sent.add(rc), nil
			}
			req.Header.Set("Content-Type", body.ctype)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		resp, err := c.hc.Do(req)
		if err != nil || resp.StatusCode < 200 || resp.StatusCode >= 300 {
			// An error answer may come before the body is read (a proxy's
			// 502): stop sending it, so its documents are closed now — on
			// Windows an open document cannot be archived or moved.
			sent.close()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var le *localError
			if errors.As(err, &le) {
				return nil, le.err
			}
			return nil, signagent.TransientError(fmt.Sprintf("%s: no answer from Sign'Stash at %s", what, req.URL.Host), "", err)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		we := readError(resp)
		if attempt == 0 && tokenRejected(we) {
			c.log.Info("access token rejected; fetching a new one", "status", we.StatusCode, "code", we.Code)
			c.dropToken(tok)
			continue
		}
		return nil, classify(method == http.MethodPost, resp.StatusCode, resp.Header, we, what)
	}
}

// bodies are the request bodies a call opened (one, and more if the
// transport asks GetBody for a retry), to close when the call ends with an
// error answer.
type bodies struct {
	mu  sync.Mutex
	rcs []io.Closer
}

func (b *bodies) add(rc io.ReadCloser) io.ReadCloser {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rcs = append(b.rcs, rc)
	return rc
}

func (b *bodies) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rc := range b.rcs {
		rc.Close()
	}
	b.rcs = nil
}

// localError carries a failure of the request body writer (a document that
// cannot be read), which is ours, not the network's.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }

// readError reads (a bounded part of) an error answer and closes it.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	we := &Error{StatusCode: resp.StatusCode}
	var er struct {
		ErrorCode            string `json:"errorCode"`
		ErrorCodeDescription string `json:"errorCodeDescription"`
		CauseMessage         string `json:"causeMessage"`
		Error                string `json:"error"`
		ErrorDescription     string `json:"error_description"`
	}
	if json.Unmarshal(b, &er) == nil {
		we.Code, we.Description, we.Cause = er.ErrorCode, er.ErrorCodeDescription, er.CauseMessage
		we.errorResponse = er.ErrorCode != ""
		if we.Code == "" && er.Error != "" {
			we.Code, we.Cause = er.Error, er.ErrorDescription
		}
	} else if s := strings.TrimSpace(string(b)); s != "" && len(s) < 200 && !strings.ContainsAny(s, "<>") {
		we.Cause = s
	}
	return we
}

// tokenRejected reports whether the answer says the access token (not the
// client service) is bad: 401 without a licence code, or 409 / 0.0.10.
func tokenRejected(we *Error) bool {
	switch we.StatusCode {
	case http.StatusUnauthorized:
		return !strings.HasPrefix(we.Code, "1.")
	case http.StatusConflict:
		return we.Code == "0.0.10"
	}
	return false
}

// classify turns an error answer into a *signagent.Error. It is the one place
// where the service's answers become actions: what is the call doing ("sign
// batch X", "poll operation Y"), whether it carried documents (send: a sign
// or register call), and the answer. The HTTP status decides first, the
// service's code refines it: the same 0.0.6 ("error validating request
// parameters", documented as HTTP 500) rejects the documents of a sign
// call, but only fails a look-up or a poll, which is retried.
func classify(send bool, status int, h http.Header, we *Error, what string) *signagent.Error {
	e := signagent.TransientError(fmt.Sprintf("%s: Sign'Stash answered %v", what, we), "", we)
	config := func(hint string) *signagent.Error {
		e.Kind, e.Code, e.Hint = signagent.KindConfig, signagent.CodeConfig, hint
		return e
	}
	document := func(hint string) *signagent.Error {
		e.Kind, e.Code, e.Hint = signagent.KindDocument, signagent.CodeRemoteRejected, hint
		return e
	}
	// account: the client service, its licence, issuer or partner (1.x),
	// whatever the status.
	account := func() *signagent.Error {
		switch we.Code {
		case "1.1.0", "1.1.1", "1.1.3":
			return config("the client service or its licence is invalid or inactive: check it in the Sign'Stash back-office; documents wait until it is active")
		case "1.1.4":
			return config("the client service credential is too weak for Sign'Stash: set a stronger secret in the back-office and in the secret file")
		}
		return config("the client service, issuer or partner is not in a state that allows signing: check the Sign'Stash back-office")
	}
	code := we.Code
	switch {
	case status == http.StatusTooManyRequests:
		e.RetryAfter = retryAfter(h)
		if e.RetryAfter == 0 {
			e.RetryAfter = 30 * time.Second
		}
		e.Hint = "the service is throttling requests; fewer, larger batches help"
		// Refused before any work: a send answered 429 took nothing.
		if e.Err == nil {
			e.Err = signing.ErrNotTaken
		} else {
			e.Err = fmt.Errorf("%w (%w)", e.Err, signing.ErrNotTaken)
		}
		return e
	case strings.HasPrefix(code, "1."):
		return account()
	case code == "0.0.10":
		return config("the access token is not valid for this service: check that base_url and token_url are the same environment (for the proxy, its einvoice-integration-client.service.domain)")
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return config("Sign'Stash refused the credentials: check client_id, the client secret and that token_url and base_url are the same environment")
	case status == http.StatusConflict:
		if code == "0.0.7" {
			return document("the external reference was already used; the agent looks the operation up before resubmitting")
		}
		if !send {
			return e // e.g. a result asked for before the operation finished
		}
		return document("the service rejected the request")
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return config("no such Sign'Stash call: check base_url (…/signstash/einvoice-integration-client-ws or …/einvoice-integration-ws) and the path templates")
	case status >= 500:
		e.RetryAfter = retryAfter(h)
		switch {
		case code == "0.0.3":
			return config("the client service has no default configuration at Sign'Stash; complete its set-up in the back-office")
		case !send:
			return e // a look-up, poll or fetch failed; nothing was rejected
		case code == "0.0.2" || code == "0.0.4" || code == "0.0.6":
			e.RetryAfter = 0
			return document("the service rejected the request for these documents; fix them (or the folder's signature settings) and retry")
		case strings.HasPrefix(code, "2."):
			e.RetryAfter = 0
			return document("the service could not apply the requested signature (e.g. visible signature placement); check the folder's signature settings")
		}
		return e
	case status >= 400:
		if strings.HasPrefix(code, "2.") && send {
			return document("the service could not apply the requested signature (e.g. visible signature placement); check the folder's signature settings")
		}
		if !send {
			return config("Sign'Stash refused the call: check base_url and the path templates")
		}
		return document("the service rejected the request")
	}
	return e
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// endpointURL returns the URL of a path template at endpoint: "" for the
// base URL, a base URL (an instance, as Lookup records it), or "host:port"
// (an instance as an async answer names it: base URL's scheme and path).
func (c *Client) endpointURL(endpoint, tmpl string, vars map[string]string) string {
	u := c.endpointBase(endpoint)
	rel := tmpl
	for k, v := range vars {
		rel = strings.ReplaceAll(rel, "{"+k+"}", url.PathEscape(v))
	}
	path := escapedPath(u)
	u.RawPath, u.Path = "", ""
	return u.String() + path + "/" + rel
}

// endpointBase resolves an endpoint (see endpointURL) to a base URL.
func (c *Client) endpointBase(endpoint string) *url.URL {
	u := *c.base
	switch {
	case endpoint == "":
	case strings.Contains(endpoint, "://"):
		if p, err := ParseInstanceScheme(c.base.String(), c.cfg.InstanceScheme, endpoint); err == nil {
			u = *p
		}
	default:
		u.Host, u.Scheme = endpoint, c.cfg.InstanceScheme
	}
	return &u
}

func escapedPath(u *url.URL) string { return strings.TrimRight(u.EscapedPath(), "/") }

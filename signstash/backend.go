package signstash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/internal/wire"
)

// split separates the documents the service can take from those it cannot
// (only PDF and XML are accepted), which fail now.
func split(b *signing.Batch) ([]signing.Doc, map[string]error) {
	var send []signing.Doc
	pre := map[string]error{}
	for _, d := range b.Docs {
		if _, ok := wire.ContentType(d.Name); !ok {
			pre[d.Ref] = signagent.DocError(signagent.CodeUnsupported,
				fmt.Sprintf("Sign'Stash signs only PDF and XML documents, not %s", d.Name),
				"route other files to a folder using the local backend")
			continue
		}
		if d.Size == 0 {
			// The service answers an empty document with a generic
			// INVALID_DOCUMENT; say what it is, without a request.
			pre[d.Ref] = signagent.DocError(signagent.CodeEmptyFile, "the document is empty", "export the document again")
			continue
		}
		send = append(send, d)
	}
	return send, pre
}

// async reports whether a batch of n sendable documents goes through the
// proxy's asynchronous calls.
func (c *Client) async(n int) bool {
	switch c.cfg.Mode {
	case ModeAsync:
		return true
	case ModeAuto:
		return !c.saas && n > c.cfg.SyncMaxFiles
	}
	return false
}

// Submit sends the batch: synchronously (the returned operation is Done and
// every signed document is at its Out) or, for an async batch, by
// registering it on a proxy instance (the returned operation carries the
// instance's Endpoint and must be polled).
//
// A reused external reference (0.0.7) means an earlier send went through:
// Submit then returns what Lookup finds.
func (c *Client) Submit(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // nothing was sent
	}
	send, pre := split(b)
	if len(send) == 0 {
		return &signing.Operation{Ref: b.Ref, Done: true, Results: (&opResult{}).results(b, pre)}, nil
	}
	async := c.async(len(send))
	if async && len(send) > MaxAsyncFiles {
		return nil, configError("batch %s has %d documents; Sign'Stash takes at most %d per asynchronous request: lower the folder's max_files", b.Ref, len(send), MaxAsyncFiles)
	}
	desc := fmt.Sprintf("signagent batch %s (%d documents)", b.Ref, len(send))
	var body *reqBody
	var err error
	if c.multipart() {
		body, err = multipartBody(b.Ref, desc, send, wireNames(send))
	} else {
		body, err = signBody(b.Ref, desc, send)
	}
	if err != nil {
		var le *localError
		if errors.As(err, &le) {
			return nil, le.err
		}
		return nil, err
	}
	name, what := wire.PathSyncSign, "sign batch "+b.Ref
	switch {
	case async && c.multipart():
		name, what = wire.PathAsyncRegisterFiles, "register batch "+b.Ref
	case async:
		name, what = wire.PathAsyncRegister, "register batch "+b.Ref
	case c.multipart():
		name = wire.PathMultipartSign
	}
	c.log.Debug("submitting batch", "batch", b.Ref, "docs", len(send), "bytes", body.n, "async", async, "transport", c.cfg.Transport)
	resp, err := c.do(ctx, http.MethodPost, c.endpointURL("", c.paths[name], nil), &request{open: stream(body), ctype: body.ctype}, what)
	if err != nil {
		if _, code := wireCode(err); code == "0.0.7" {
			c.log.Info("external reference already used; looking the operation up", "batch", b.Ref)
			op, lerr := c.Lookup(ctx, b)
			if errors.Is(lerr, signing.ErrNotFound) {
				return nil, err // a reference reused elsewhere: the document error stands
			}
			return op, lerr
		}
		return nil, err
	}
	defer drain(resp)
	if async {
		ao, err := decodeSmall[wire.AsyncOperation](resp, what)
		if err != nil {
			return nil, err
		}
		return c.asyncOp(b, ao), nil
	}
	op, err := c.finish(ctx, b, pre, resp, 0, "", what)
	var fe *fetchError
	if errors.As(err, &fe) && fe.id != 0 {
		// Signed, but the download failed: the operation is tracked by
		// id and Poll downloads the documents again.
		c.log.Info("batch signed; its documents are fetched at the next poll", "batch", b.Ref, "op", fe.id, "err", fe.err)
		return &signing.Operation{ID: strconv.FormatInt(fe.id, 10), Ref: b.Ref, PollAfter: c.cfg.PollInterval}, nil
	}
	return op, err
}

func (c *Client) multipart() bool { return c.cfg.Transport == TransportMultipart }

// fetchError is a failure to download the signed documents of finished
// operation id (the ZIP of the multipart transport).
type fetchError struct {
	id  int64
	err error
}

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// sentNames maps each document reference of b to the name its multipart
// request gave it (wireNames).
func sentNames(send []signing.Doc) map[string]string {
	names := wireNames(send)
	m := make(map[string]string, len(send))
	for i, d := range send {
		m[d.Ref] = names[i]
	}
	return m
}

// asyncOp turns an async register/status answer into an Operation bound to
// the instance that holds it.
func (c *Client) asyncOp(b *signing.Batch, ao wire.AsyncOperation) *signing.Operation {
	op := &signing.Operation{ID: strconv.FormatInt(ao.ID, 10), Ref: b.Ref, PollAfter: c.cfg.PollInterval}
	op.Endpoint = c.asyncEndpoint(ao)
	return op
}

// asyncEndpoint reads the instance named by an async answer, whose shape is
// not published: "host" with a numeric or string "port", one "host:port",
// a host without port (the scheme's default port), or a base URL. The
// result is "host[:port]" (reached with instance_scheme, by default
// base_url's scheme, and base_url's path) or a base URL; "" when the answer
// names no instance.
func (c *Client) asyncEndpoint(ao wire.AsyncOperation) string {
	h := strings.TrimSpace(ao.Host)
	switch {
	case h == "":
		return ""
	case strings.Contains(h, "://"):
		if u, err := ParseInstanceScheme(c.base.String(), c.cfg.InstanceScheme, h); err == nil {
			return u.String()
		}
		return ""
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h // "host:port" in one string
	}
	h = strings.Trim(h, "[]")
	if ao.Port != "" {
		return net.JoinHostPort(h, string(ao.Port))
	}
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// finish decodes a SignOperation answer into a Done operation, or a pending
// one (tracked by id) when the service has not finished it. With the
// multipart transport, the signed documents the answer does not carry are
// downloaded as the operation's ZIP from endpoint; a failure to do so is a
// *fetchError.
func (c *Client) finish(ctx context.Context, b *signing.Batch, pre map[string]error, resp *http.Response, id int64, endpoint, what string) (*signing.Operation, error) {
	res, err := decodeOperation(resp.Body, b)
	if err != nil {
		if signagent.KindOf(err) == signagent.KindLocal {
			return nil, err
		}
		return nil, signagent.TransientError(what+": the answer of Sign'Stash was cut or malformed", "", err)
	}
	if res.id == 0 {
		res.id = id
	}
	op := &signing.Operation{ID: strconv.FormatInt(res.id, 10), Ref: b.Ref}
	if !c.finished(res.status) {
		res.discard()
		op.PollAfter = c.cfg.PollInterval
		return op, nil
	}
	if c.multipart() {
		send, _ := split(b)
		if err := c.fetchZip(ctx, endpoint, res.id, b, sentNames(send), res, "fetch the signed documents of batch "+b.Ref); err != nil {
			res.discard()
			return nil, &fetchError{id: res.id, err: err}
		}
	}
	op.Done = true
	op.Results = res.results(b, pre)
	c.log.Debug("operation finished", "batch", b.Ref, "op", op.ID, "status", res.status)
	return op, nil
}

// Poll advances an operation: for an async batch it asks the instance at
// op.Endpoint and, once finished, fetches the result there; otherwise it
// follows the operation by id. While pending the returned operation is not
// Done and carries PollAfter. When the instance no longer knows the
// operation (it restarted), Poll returns an error matching signing.ErrNotFound:
// the batch must be resubmitted under a new reference.
func (c *Client) Poll(ctx context.Context, b *signing.Batch, op *signing.Operation) (*signing.Operation, error) {
	send, pre := split(b)
	if op.Done {
		return op, nil
	}
	if c.async(len(send)) {
		what := "poll batch " + b.Ref
		resp, err := c.do(ctx, http.MethodGet, c.endpointURL(op.Endpoint, c.paths[wire.PathAsyncStatus], map[string]string{"externalReference": b.Ref}), nil, what)
		if err != nil {
			return nil, notFound(err, what)
		}
		ao, err := decodeSmall[wire.AsyncOperation](resp, what)
		drain(resp)
		if err != nil {
			return nil, err
		}
		next := c.asyncOp(b, ao)
		if next.Endpoint == "" {
			next.Endpoint = op.Endpoint
		}
		if !c.finished(ao.Status) {
			return next, nil
		}
		what = "fetch batch " + b.Ref
		if c.multipart() && ao.ID != 0 {
			// The statuses without content, then the ZIP; an instance
			// without these calls gives the result with its content.
			done, err := c.fetchDetail(ctx, b, pre, next.Endpoint, ao.ID, what)
			if !missingCall(err) {
				if err != nil {
					return nil, notFound(err, what)
				}
				done.Endpoint = next.Endpoint
				return done, nil
			}
			c.log.Info("the instance offers no operation detail or ZIP download; fetching the result with its content", "batch", b.Ref, "err", err)
		}
		resp, err = c.do(ctx, http.MethodGet, c.endpointURL(next.Endpoint, c.paths[wire.PathAsyncResult], map[string]string{"externalReference": b.Ref}), nil, what)
		if err != nil {
			if st, code := wireCode(err); st == http.StatusConflict && code == "0.0.6" {
				return next, nil // not finished after all
			}
			return nil, notFound(err, what)
		}
		defer drain(resp)
		done, err := c.finish(ctx, b, pre, resp, ao.ID, next.Endpoint, what)
		if err != nil {
			return nil, err
		}
		done.Endpoint = next.Endpoint
		return done, nil
	}
	id, err := strconv.ParseInt(op.ID, 10, 64)
	if err != nil {
		return nil, signagent.TransientError(fmt.Sprintf("poll batch %s: operation id %q is not a number", b.Ref, op.ID), "", signing.ErrNotFound)
	}
	what := "poll operation " + op.ID
	resp, err := c.do(ctx, http.MethodGet, c.endpointURL(op.Endpoint, c.paths[wire.PathStatus], map[string]string{"operationId": op.ID}), nil, what)
	if err != nil {
		return nil, notFound(err, what)
	}
	st, err := decodeSmall[wire.Operation](resp, what)
	drain(resp)
	if err != nil {
		return nil, err
	}
	if !c.finished(st.Status) {
		return &signing.Operation{ID: op.ID, Endpoint: op.Endpoint, Ref: b.Ref, PollAfter: c.cfg.PollInterval}, nil
	}
	what = "fetch operation " + op.ID
	done, err := c.fetchDetail(ctx, b, pre, op.Endpoint, id, what)
	if err != nil {
		return nil, notFound(err, what)
	}
	done.Endpoint = op.Endpoint
	return done, nil
}

// fetchDetail fetches finished operation id at endpoint: its detail with
// the signed content (base64 transport), or without it and then its ZIP
// (multipart transport).
func (c *Client) fetchDetail(ctx context.Context, b *signing.Batch, pre map[string]error, endpoint string, id int64, what string) (*signing.Operation, error) {
	op := strconv.FormatInt(id, 10)
	resp, err := c.do(ctx, http.MethodGet, c.endpointURL(endpoint, c.paths[wire.PathDetail], map[string]string{"operationId": op, "includeContent": strconv.FormatBool(!c.multipart())}), nil, what)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	return c.finish(ctx, b, pre, resp, id, endpoint, what)
}

// notFound turns the service's 404 (in its error shape: a 404 from a server
// without the call says nothing about the operation) into a transient error
// matching signing.ErrNotFound.
func notFound(err error, what string) error {
	if absent(err) {
		return signagent.TransientError(what+": Sign'Stash no longer knows the operation (the instance may have restarted)",
			"the batch is resubmitted under a new reference", fmt.Errorf("%w: %w", signing.ErrNotFound, err))
	}
	return err
}

// Lookup finds the operation created for b after a send whose outcome is
// unknown: an async batch by its external reference, a sync batch by its
// first document's external reference (the service indexes operations by
// document reference). The returned operation is not Done: Poll fetches its
// result.
//
// Proxy instances behind a balancer do not share operations, so a "not
// found" from whichever instance the balancer picked proves nothing.
// Lookup returns signing.ErrNotFound only when absence is authoritative: the
// Integration Service (SaaS) said so, or every configured instance did.
// Otherwise it returns a transient error ("outcome unknown"): the caller
// looks up again (each call may reach another instance) and never resends
// on its own.
func (c *Client) Lookup(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	send, _ := split(b)
	if len(send) == 0 {
		return nil, signing.ErrNotFound
	}
	async := c.async(len(send))
	eps := []string{""}
	if !c.saas && len(c.instances) > 0 {
		eps = eps[:0]
		for _, u := range c.instances {
			eps = append(eps, u.String())
		}
	}
	what := "look up batch " + b.Ref
	for _, ep := range eps {
		var op *signing.Operation
		var err error
		if async {
			op, err = c.lookupAsync(ctx, ep, b, what)
		} else {
			op, err = c.lookupSync(ctx, ep, send[0].Ref, b, what)
		}
		if absent(err) {
			continue
		}
		if missingCall(err) {
			tmpl := wire.PathLookup
			if async {
				tmpl = wire.PathAsyncStatus
			}
			return nil, signagent.TransientError(fmt.Sprintf("%s: outcome unknown: the server offers no look-up call at %s, so the batch cannot be proven absent and is not sent again", what, c.paths[tmpl]),
				fmt.Sprintf("if your proxy has this call under another path, set paths.%s (its Swagger page lists them; signagent check shows what the server offers)", tmpl),
				fmt.Errorf("%w: %w", errOutcomeUnknown, err))
		}
		return op, err
	}
	if c.saas {
		return nil, signing.ErrNotFound
	}
	if len(c.instances) > 0 && c.cfg.ProofOfAbsence == ProofSaaS {
		return nil, signagent.TransientError(fmt.Sprintf("%s: outcome unknown: every proxy instance denies knowing the batch, but with proof_of_absence = \"saas\" a proxy's denial proves nothing (an instance that restarted forgot its operations), so the batch is not sent again", what),
			"check at the service whether the batch was signed, then `signagent resolve` it",
			errOutcomeUnknown)
	}
	if len(c.instances) > 0 {
		return nil, signing.ErrNotFound
	}
	return nil, signagent.TransientError(fmt.Sprintf("%s: outcome unknown: the proxy at %s does not know the batch, but an instance behind a load balancer knows only its own operations, so the batch is not sent again", what, c.base.Host),
		"list every proxy instance in the backend's instances (for a single proxy, its base URL): absence is then proven when all of them deny it",
		errOutcomeUnknown)
}

// errOutcomeUnknown marks a look-up that could not prove the operation
// absent.
var errOutcomeUnknown = errors.New("outcome unknown")

func (c *Client) lookupAsync(ctx context.Context, ep string, b *signing.Batch, what string) (*signing.Operation, error) {
	resp, err := c.do(ctx, http.MethodGet, c.endpointURL(ep, c.paths[wire.PathAsyncStatus], map[string]string{"externalReference": b.Ref}), nil, what)
	if err != nil {
		return nil, err
	}
	ao, err := decodeSmall[wire.AsyncOperation](resp, what)
	drain(resp)
	if err != nil {
		return nil, err
	}
	op := c.asyncOp(b, ao)
	if op.Endpoint == "" {
		op.Endpoint = ep
	}
	op.PollAfter = 0
	return op, nil
}

func (c *Client) lookupSync(ctx context.Context, ep, docRef string, b *signing.Batch, what string) (*signing.Operation, error) {
	resp, err := c.do(ctx, http.MethodGet, c.endpointURL(ep, c.paths[wire.PathLookup], map[string]string{"externalReference": docRef}), nil, what)
	if err != nil {
		return nil, err
	}
	id, err := decodeSmall[int64](resp, what)
	drain(resp)
	if err != nil {
		return nil, err
	}
	// Polled where it was found: another instance would not know it.
	return &signing.Operation{ID: strconv.FormatInt(id, 10), Ref: b.Ref, Endpoint: ep}, nil
}

// Describe says how the client reads its configuration, for check: which
// service base_url is (and whether that was inferred), the mode, the
// instances and the outbound proxy.
func (c *Client) Describe() string {
	s := c.cfg.Service
	if c.inferred {
		s += " (from base_url's path; set service to change)"
	}
	s += ", mode " + c.cfg.Mode
	switch {
	case c.saas:
	case len(c.instances) == 0:
		s += ", no instances listed (a lost answer leaves the outcome unknown)"
	default:
		s += fmt.Sprintf(", %d instance(s) listed", len(c.instances))
	}
	if c.cfg.HTTPProxy != "" {
		s += ", through http_proxy"
	}
	c.offersMu.Lock()
	defer c.offersMu.Unlock()
	s += c.docs.describe()
	for _, p := range []struct{ name, label string }{{wire.PathLookup, "look-up"}, {wire.PathStatus, "status"}, {wire.PathAsyncStatus, "async status"}} {
		if ok, probed := c.offers[p.name]; probed {
			if ok {
				s += fmt.Sprintf("; %s: offered", p.label)
			} else {
				s += fmt.Sprintf("; %s: not offered at %s (set paths.%s if the server has it elsewhere)", p.label, c.paths[p.name], p.name)
			}
		}
	}
	return s
}

// Check gets a fresh access token and makes one harmless authenticated call
// (a look-up of a reference that does not exist) at the base URL and at
// every configured instance, so that credentials, licence and reachability
// problems show up before any document waits.
func (c *Client) Check(ctx context.Context) error {
	c.tokMu.Lock()
	c.tok = ""
	c.tokMu.Unlock()
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	offers := map[string]bool{}
	probes := []string{wire.PathLookup, wire.PathStatus}
	if !c.saas {
		probes = append(probes, wire.PathAsyncStatus)
	}
	var findings []string
	shaped := false
	for _, name := range probes {
		ok, sh, err := c.probe(ctx, "", name)
		if err != nil {
			return err
		}
		offers[name] = ok
		shaped = shaped || sh
	}
	if !shaped {
		findings = append(findings, fmt.Sprintf("no business call at %s answered in the Sign'Stash error shape (errorCode, errorCodeDescription, causeMessage) when asked for something that does not exist: check that base_url is the service's context path", c.base.Redacted()))
	}
	for i, u := range c.instances {
		if _, _, err := c.probe(ctx, u.String(), wire.PathLookup); err != nil {
			return fmt.Errorf("instances[%d] (%s): %w", i, u.Redacted(), err)
		}
	}
	docs := c.readAPIDocs(ctx, tok)
	c.offersMu.Lock()
	c.offers, c.findings, c.docs = offers, findings, docs
	c.offersMu.Unlock()
	return nil
}

// probe makes a harmless call of template name at endpoint: the look-up or
// status of something that does not exist. It reports whether the server
// offers the call: yes when it answers in the service's error shape (or
// finds something), no when the call does not exist there; and whether
// the answer was in the service's error shape (the service itself, not a
// web server or gateway in front of it, answered).
func (c *Client) probe(ctx context.Context, endpoint, name string) (offered, shaped bool, err error) {
	what := "check the connection (" + name + ")"
	vars := map[string]string{"externalReference": "signagent-check-absent", "operationId": "0", "includeContent": "false"}
	resp, err := c.do(ctx, http.MethodGet, c.endpointURL(endpoint, c.paths[name], vars), nil, what)
	switch {
	case err == nil:
		drain(resp)
		return true, false, nil
	case absent(err):
		return true, true, nil // the service answered: no such reference
	case missingCall(err):
		return false, false, nil
	}
	var we *Error
	if errors.As(err, &we) && we.errorResponse && we.StatusCode >= 500 && name != wire.PathLookup {
		return true, true, nil // e.g. 500 / 0.0.6 for operation 0: the call exists
	}
	return false, false, err
}

// decodeSmall decodes a small JSON answer (at most 1 MB).
func decodeSmall[T any](resp *http.Response, what string) (T, error) {
	var v T
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return v, signagent.TransientError(what+": the answer of Sign'Stash was cut or malformed", "", err)
	}
	return v, nil
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

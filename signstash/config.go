package signstash

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signstash/internal/wire"
)

// Type is the backend type name in the configuration.
const Type = "signstash"

// Modes.
const (
	ModeSync  = "sync"
	ModeAsync = "async"
	ModeAuto  = "auto"
)

// Transports: how documents travel.
const (
	// TransportBase64 sends each document base64-encoded inside the JSON
	// sign request and reads it back from signedContent.
	TransportBase64 = "base64"
	// TransportMultipart sends the documents as binary parts of a
	// multipart/form-data sign request and downloads the signed ones as the
	// operation's ZIP file.
	TransportMultipart = "multipart"
)

// Defaults. They are the configuration's (package config): a zero value in
// Config falls back to the same value the configuration file would give.
const (
	DefaultSyncMaxFiles = 50
	// MaxAsyncFiles is the service's documented maximum per async request.
	MaxAsyncFiles       = 2500
	DefaultTimeout      = 5 * time.Minute
	DefaultPollInterval = 2 * time.Second
	DefaultTransport    = TransportBase64
)

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	// Name is the configured backend name, for logs and error files.
	Name string
	// BaseURL is the service base, e.g.
	// https://proxy:8081/signstash/einvoice-integration-client-ws (proxy) or
	// https://msignstash.multicert.com/signstash/einvoice-integration-ws (SaaS).
	BaseURL string
	// TokenURL is the OAuth2 token endpoint, e.g.
	// https://msignstash.multicert.com/oauth2/authorization-server/oauth/token.
	TokenURL string
	// ClientID is the client service alias; ClientSecret its secret,
	// resolved by the caller. The secret is never logged.
	ClientID     string
	ClientSecret string
	// Mode is sync, async or auto (default): sync up to SyncMaxFiles
	// documents, async above (async needs the proxy).
	Mode         string
	SyncMaxFiles int
	// Instances lists the proxy instances behind the balancer of BaseURL,
	// each a base URL (http://10.0.0.5:8081/signstash/einvoice-integration-client-ws),
	// a URL without a path (BaseURL's path is used) or a bare host:port
	// (BaseURL's scheme and path); see ParseInstance. Lookup asks each of
	// them before declaring an async operation absent, since an instance
	// only knows its own operations.
	Instances []string
	// Service says which service BaseURL is: ServiceProxy or ServiceSaaS.
	// Default: inferred from the path (InferService); one page of the
	// vendor documentation gives the proxy the SaaS path, so set it when
	// that is the case.
	Service string
	// InstanceScheme is the scheme ("http" or "https") used to reach an
	// instance named only by host:port (in Instances or in an async
	// answer). Default: BaseURL's scheme. An HTTPS balancer in front of
	// plain-HTTP instances needs "http".
	InstanceScheme string
	// ProofOfAbsence says which "not found" answers to a look-up prove
	// that a batch whose send had an unknown outcome was never taken, so
	// it is sent again: ProofInstances (the SaaS's, or every listed proxy
	// instance's) or ProofSaaS (only the SaaS's: a proxy batch every
	// instance denies waits for an operator's decision instead — for
	// proxies that forget their operations when they restart, where a
	// denial is no proof). Default ProofInstances.
	ProofOfAbsence string
	// HTTPProxy is the outbound proxy for every call (http://host:port).
	// Default: the HTTPS_PROXY / HTTP_PROXY environment variables. NO_PROXY
	// applies to both, and loopback hosts never go through a proxy.
	HTTPProxy string
	// CAFile adds a PEM CA bundle to the system roots. TLS verification is
	// always on.
	CAFile string
	// Timeout bounds the wait for a response's headers (a sync call signs
	// before answering). Default 5 minutes.
	Timeout time.Duration
	// PollInterval is the suggested wait between async polls (default 2s,
	// as in the configuration).
	PollInterval time.Duration
	// Transport is TransportBase64 (default) or TransportMultipart.
	Transport string
	// TempDir holds a ZIP of the multipart transport while it is read,
	// when it is not laid out to be read as it arrives (see doc.go).
	// Default os.TempDir().
	TempDir string
	// Paths overrides path templates (PathNames): async_register,
	// async_register_multipart, async_status, async_result, documents_zip,
	// lookup, multipart_sign, status, detail, sync_sign.
	Paths map[string]string
	// HTTPClient replaces the client built from CAFile and Timeout (tests).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Clock tells the time the access token's expiry is judged by
	// (default the real clock); tests pass a fake one.
	Clock clockwork.Clock
}

// configError is a configuration error in the backend's settings, its
// message formatted as by fmt.Sprintf.
func configError(format string, a ...any) *signagent.Error {
	return signagent.ConfigError(fmt.Sprintf(format, a...), "fix the signstash backend settings in the configuration file", nil)
}

// New checks cfg and returns a client. It does not contact the service;
// Check does.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		cfg.Name = Type
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeAuto
	}
	if cfg.SyncMaxFiles <= 0 {
		cfg.SyncMaxFiles = DefaultSyncMaxFiles
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	switch cfg.Transport {
	case "":
		cfg.Transport = DefaultTransport
	case TransportBase64, TransportMultipart:
	default:
		return nil, configError("backend %s: transport %q is not %q or %q", cfg.Name, cfg.Transport, TransportBase64, TransportMultipart)
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, configError("backend %s: base_url %q is not an http(s) URL", cfg.Name, cfg.BaseURL)
	}
	tu, err := url.Parse(cfg.TokenURL)
	if err != nil || (tu.Scheme != "http" && tu.Scheme != "https") || tu.Host == "" {
		return nil, configError("backend %s: token_url %q is not an http(s) URL", cfg.Name, cfg.TokenURL)
	}
	if cfg.ClientID == "" {
		return nil, configError("backend %s: client_id (the client service alias) is missing", cfg.Name)
	}
	if cfg.ClientSecret == "" {
		return nil, configError("backend %s: the client secret is missing or empty", cfg.Name)
	}
	inferred := cfg.Service == ""
	switch cfg.Service {
	case "":
		cfg.Service = InferService(cfg.BaseURL)
	case ServiceProxy, ServiceSaaS:
	default:
		return nil, configError("backend %s: service %q is not %q or %q", cfg.Name, cfg.Service, ServiceProxy, ServiceSaaS)
	}
	saas := cfg.Service == ServiceSaaS
	switch cfg.InstanceScheme {
	case "":
		cfg.InstanceScheme = base.Scheme
	case "http", "https":
	default:
		return nil, configError("backend %s: instance_scheme %q is not http or https", cfg.Name, cfg.InstanceScheme)
	}
	switch cfg.ProofOfAbsence {
	case "":
		cfg.ProofOfAbsence = ProofInstances
	case ProofInstances, ProofSaaS:
	default:
		return nil, configError("backend %s: proof_of_absence %q is not %q or %q", cfg.Name, cfg.ProofOfAbsence, ProofInstances, ProofSaaS)
	}
	proxy, err := ProxyFunc(cfg.HTTPProxy, os.Getenv)
	if err != nil {
		return nil, configError("backend %s: http_proxy: %v", cfg.Name, err)
	}
	switch cfg.Mode {
	case ModeSync, ModeAuto:
	case ModeAsync:
		if saas {
			return nil, configError("backend %s: mode async needs the Sign'Stash Proxy (…/einvoice-integration-client-ws); the Integration Service at %s only signs synchronously", cfg.Name, cfg.BaseURL)
		}
	default:
		return nil, configError("backend %s: mode %q is not sync, async or auto", cfg.Name, cfg.Mode)
	}
	var instances []*url.URL
	for i, in := range cfg.Instances {
		u, err := ParseInstanceScheme(cfg.BaseURL, cfg.InstanceScheme, in)
		if err != nil {
			return nil, configError("backend %s: instances[%d]: %v", cfg.Name, i, err)
		}
		instances = append(instances, u)
	}
	paths, err := wire.Paths(cfg.Paths)
	if err != nil {
		return nil, configError("backend %s: %v", cfg.Name, err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, configError("backend %s: ca_file: %v", cfg.Name, err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, configError("backend %s: ca_file %s holds no PEM certificate", cfg.Name, cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = proxy
		tr.TLSClientConfig = tc
		tr.ResponseHeaderTimeout = cfg.Timeout
		tr.MaxIdleConnsPerHost = 8
		// Documents stream through: large buffers mean few system calls.
		tr.WriteBufferSize, tr.ReadBufferSize = 64<<10, 64<<10
		hc = &http.Client{Transport: tr}
	}
	return &Client{
		cfg: cfg, base: base, paths: paths, hc: hc, saas: saas, instances: instances, inferred: inferred,
		log: cfg.Logger.With("component", "signstash", "backend", cfg.Name),
	}, nil
}

// CheckPath reports what is wrong with a path template override for name
// (see Config.Paths); the configuration checks each one with it at load
// time, so what loads is what the client takes.
func CheckPath(name, tmpl string) error { return wire.CheckPath(name, tmpl) }

// PathNames lists the names of the path templates Config.Paths may
// override, sorted.
func PathNames() []string { return wire.PathNames() }

// Services.
const (
	ServiceProxy = "proxy" // the on-premise Sign'Stash Proxy (einvoice-integration-client-ws)
	ServiceSaaS  = "saas"  // the Integration Service (einvoice-integration-ws)

	// Values of Config.ProofOfAbsence.
	ProofInstances = "instances" // the SaaS, or every listed instance
	ProofSaaS      = "saas"      // the SaaS only
)

// InferService guesses from a base URL's path which service it is: the
// Integration Service's context path is …/einvoice-integration-ws, anything
// else is taken for a proxy.
func InferService(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err == nil && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/einvoice-integration-ws") {
		return ServiceSaaS
	}
	return ServiceProxy
}

// ParseInstance reads one entry of Config.Instances against baseURL: a base
// URL (http://10.0.0.5:8081/signstash/einvoice-integration-client-ws), a
// URL without a path (http://10.0.0.5:8081: baseURL's path is used), or a
// bare host:port (10.0.0.5:8081: baseURL's scheme and path). The
// configuration checks each entry with it, so a bad one is refused at load
// time, not at the first look-up.
func ParseInstance(baseURL, s string) (*url.URL, error) {
	return ParseInstanceScheme(baseURL, "", s)
}

// ParseInstanceScheme is ParseInstance with the scheme of a bare host:port
// given (instance_scheme); "" means baseURL's.
func ParseInstanceScheme(baseURL, scheme, s string) (*url.URL, error) {
	base, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("base_url %q is not an http(s) URL", baseURL)
	}
	if scheme == "" {
		scheme = base.Scheme
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("is empty")
	}
	var u *url.URL
	if strings.Contains(s, "://") {
		if u, err = url.Parse(s); err != nil {
			return nil, fmt.Errorf("%q is not a URL", s)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("%q is not an http(s) URL", s)
		}
		if u.User != nil {
			return nil, fmt.Errorf("must not contain a user name or password")
		}
		if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return nil, fmt.Errorf("%q: a base URL has no query or fragment", s)
		}
	} else {
		if strings.ContainsAny(s, "/?#@ ") {
			return nil, fmt.Errorf("%q is neither a base URL (http://host:port/…) nor host:port", s)
		}
		u = &url.URL{Scheme: scheme, Host: s}
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, ""
		if strings.Contains(strings.Trim(host, "[]"), ":") && !strings.HasPrefix(host, "[") {
			return nil, fmt.Errorf("%q: write an IPv6 address in brackets, e.g. [fd00::5]:8081", s)
		}
	}
	if host == "" || strings.ContainsAny(host, "%") {
		return nil, fmt.Errorf("%q has no host", s)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if u.Path == "" {
		u.Path = base.Path
	}
	return u, nil
}

// ProxyFunc returns the outbound proxy choice for explicit (the http_proxy
// key; "" for the HTTPS_PROXY / HTTP_PROXY environment variables, as
// net/http reads them). NO_PROXY (or no_proxy) exempts hosts in both cases:
// "*", host names and domain suffixes (example.com, .example.com), IP
// addresses and CIDR ranges, each optionally with :port. Loopback hosts
// never go through a proxy.
func ProxyFunc(explicit string, getenv func(string) string) (func(*http.Request) (*url.URL, error), error) {
	if explicit == "" {
		return http.ProxyFromEnvironment, nil
	}
	pu, err := url.Parse(explicit)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https" && pu.Scheme != "socks5") || pu.Host == "" {
		return nil, fmt.Errorf("%q is not a proxy URL such as http://proxy.example:3128", explicit)
	}
	if pu.User != nil {
		return nil, errors.New("must not contain a user name or password")
	}
	noProxy := getenv("NO_PROXY")
	if noProxy == "" {
		noProxy = getenv("no_proxy")
	}
	return func(r *http.Request) (*url.URL, error) {
		if bypass(r.URL, noProxy) {
			return nil, nil
		}
		return pu, nil
	}, nil
}

// bypass reports whether u's host is loopback or matches noProxy.
func bypass(u *url.URL, noProxy string) bool {
	host, port := u.Hostname(), u.Port()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, e := range strings.Split(noProxy, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if e == "*" {
			return true
		}
		if _, ipnet, err := net.ParseCIDR(e); err == nil {
			if ip != nil && ipnet.Contains(ip) {
				return true
			}
			continue
		}
		eh, ep, err := net.SplitHostPort(e)
		if err != nil {
			eh, ep = e, ""
		}
		if ep != "" && ep != port {
			continue
		}
		eh = strings.Trim(eh, "[]")
		if eip := net.ParseIP(eh); eip != nil {
			if ip != nil && eip.Equal(ip) {
				return true
			}
			continue
		}
		h := strings.ToLower(host)
		d := strings.TrimPrefix(eh, "*")
		if h == strings.TrimPrefix(d, ".") || strings.HasSuffix(h, "."+strings.TrimPrefix(d, ".")) {
			return true
		}
	}
	return false
}

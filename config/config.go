package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
)

// Defaults: what a key means when the file leaves it out.
const (
	DefaultDataDir         = "data" // beside the config file
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
	DefaultListen          = "127.0.0.1:9464"
	DefaultLedgerRetention = 90 * 24 * time.Hour
	DefaultBackupInterval  = 24 * time.Hour
	// DefaultOutcomeUnknownAfter bounds how long look-ups may fail to
	// settle whether a send was taken before its batch waits for an
	// operator's decision.
	DefaultOutcomeUnknownAfter = time.Hour
	DefaultBackupKeep          = 7
	DefaultOutputMode          = FileMode(0o640) // the service's account writes, its group reads

	DefaultBackendName = "local" // the backend an empty file gets
	DevCertificate     = "dev"   // certificate value for the self-signed development certificate
	DefaultMaxSize     = 100 * MB

	DefaultMode           = "auto"
	DefaultSyncMaxFiles   = 50
	DefaultTimeout        = 5 * time.Minute
	DefaultPollInterval   = 2 * time.Second
	DefaultSettle         = 2 * time.Second
	DefaultScanInterval   = 60 * time.Second
	DefaultMaxFiles       = 50
	DefaultMaxBytes       = 20 * MB
	DefaultMaxWait        = 5 * time.Second
	DefaultOnCollision    = "suffix"
	DefaultGiveUpAfter    = 24 * time.Hour
	DefaultSignatureType  = "auto"
	DefaultTransport      = signstash.TransportBase64
	DefaultProofOfAbsence = signstash.ProofInstances

	// MaxFilesLimit is the most documents one request may carry (the
	// Sign'Stash async mode's limit).
	MaxFilesLimit = 2500
)

// DefaultInclude are the file patterns a folder picks up when it names none.
var DefaultInclude = []string{"*.pdf", "*.xml"}

// Backend types.
const (
	TypeLocal     = "local"
	TypeSignStash = "signstash"
)

// Config is the whole agent configuration. The zero value is not useful;
// start from Default or Parse. Paths are absolute after Parse or Load.
type Config struct {
	// Path is the file the configuration was read from, as the caller named
	// it; empty for a configuration built in code. Not a TOML key.
	Path string `toml:"-"`

	// DataDir holds the ledger and the development certificate; the agent
	// creates it. Default "data" beside the config file.
	DataDir string `toml:"data_dir"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `toml:"log_level"`
	// LogFormat is text (default) or json.
	LogFormat string `toml:"log_format"`
	// Listen is the address of the status, /metrics and /healthz listener;
	// default 127.0.0.1:9464. "" or "off" disables it. A non-loopback address
	// is allowed; Check warns about it.
	Listen string `toml:"listen"`
	// UIActions enables the status page's actions ("recheck now" for a held
	// folder, "retry" for failed documents); default true. The page itself
	// stays, read-only, when false.
	UIActions bool `toml:"ui_actions"`
	// LedgerRetention is how long terminal ledger records are kept; default
	// 90 days, 0 keeps them forever.
	LedgerRetention Duration `toml:"ledger_retention"`
	// BackupInterval is how often the agent copies the ledger into
	// data_dir/backups while it runs (and at start, unless the newest backup
	// is younger); default 24h, at least 1m.
	BackupInterval Duration `toml:"backup_interval"`
	// BackupKeep is how many ledger backups are kept, the newest; default 7,
	// 0 takes none.
	BackupKeep int `toml:"backup_keep"`
	// OutputMode is the permission of the signed documents the agent writes
	// into an outbox (Unix); default 0640: the service's account reads and
	// writes, its group reads, others nothing. Written "0640" or 0o640.
	OutputMode FileMode `toml:"output_mode"`
	// OutcomeUnknownAfter is how long the look-ups of a batch whose send
	// had an unknown outcome may fail to settle it before the batch waits
	// for an operator's decision (signagent resolve); default 1h.
	OutcomeUnknownAfter Duration `toml:"outcome_unknown_after"`

	// Backends by name. An empty file gets one "local" backend with the
	// development certificate.
	Backends map[string]*Backend `toml:"backends"`
	// Folders are the watched folder sets, in file order.
	Folders []*Folder `toml:"folders"`

	lines    map[string]int // key path -> line, from the file
	decoding []Problem      // problems found while decoding, kept for Validate and Check
}

// Backend is one signing backend. Which keys apply depends on Type: the
// backend struct tag names the type a key belongs to.
type Backend struct {
	// Name is the backend's key in [backends.NAME]. Not a TOML key.
	Name string `toml:"-"`
	// Type is "local" or "signstash"; required.
	Type string `toml:"type"`

	// Certificate (local) is "dev" (default: a self-signed development
	// certificate kept in the data directory) or the path of a .p12/.pfx or
	// .pem file.
	Certificate string `toml:"certificate" backend:"local"`
	// KeyFile (local) is the PEM private key when Certificate is a PEM file
	// without one.
	KeyFile string `toml:"key_file" backend:"local"`
	// PasswordFile (local) holds the password of the PKCS#12 file or of an
	// encrypted PEM key.
	PasswordFile string `toml:"password_file" backend:"local"`
	// TSAURL (local) is an RFC 3161 timestamp authority; needed for
	// signature.timestamp.
	TSAURL string `toml:"tsa_url" backend:"local"`
	// MaxSize (local) is the largest document signed; default 100MB.
	MaxSize Size `toml:"max_size" backend:"local"`
	// Workers (local) is the number of documents signed in parallel; 0 (the
	// default) means one per CPU.
	Workers int `toml:"workers" backend:"local"`

	// BaseURL (signstash) is the business API base, e.g.
	// https://proxy:8081/signstash/einvoice-integration-client-ws.
	BaseURL string `toml:"base_url" backend:"signstash"`
	// TokenURL (signstash) is the OAuth2 token endpoint.
	TokenURL string `toml:"token_url" backend:"signstash"`
	// ClientID (signstash) is the client service alias.
	ClientID string `toml:"client_id" backend:"signstash"`
	// ClientSecretFile (signstash) is a file holding the client secret.
	ClientSecretFile string `toml:"client_secret_file" backend:"signstash"`
	// ClientSecretEnv (signstash) names an environment variable holding the
	// client secret; the caller reads it, this package never does.
	ClientSecretEnv string `toml:"client_secret_env" backend:"signstash"`
	// Mode (signstash) is sync, async or auto (default: async above
	// SyncMaxFiles documents).
	Mode string `toml:"mode" backend:"signstash"`
	// SyncMaxFiles (signstash) is the largest batch sent in sync mode when
	// Mode is auto; default 50.
	SyncMaxFiles int `toml:"sync_max_files" backend:"signstash"`
	// CAFile (signstash) is a PEM bundle of extra trusted roots.
	CAFile string `toml:"ca_file" backend:"signstash"`
	// Timeout (signstash) bounds each HTTP request; default 5m.
	Timeout Duration `toml:"timeout" backend:"signstash"`
	// PollInterval (signstash) is the first wait between async status polls;
	// default 2s.
	PollInterval Duration `toml:"poll_interval" backend:"signstash"`
	// Paths (signstash) overrides the path templates of endpoints whose
	// wire form is inferred; keys are listed in PathKeys.
	Paths map[string]string `toml:"paths" backend:"signstash"`
	// Instances (signstash) lists the base URLs of every proxy instance
	// behind a load balancer, so a lost operation is only declared absent
	// after each instance denies it.
	Instances []string `toml:"instances" backend:"signstash"`
	// Service (signstash) is "proxy" or "saas"; default inferred from
	// BaseURL's path (…/einvoice-integration-ws is the SaaS).
	Service string `toml:"service" backend:"signstash"`
	// InstanceScheme (signstash) is the scheme of instances named only by
	// host:port; default BaseURL's.
	InstanceScheme string `toml:"instance_scheme" backend:"signstash"`
	// ProofOfAbsence (signstash) says which look-up denials prove that a
	// batch whose send had an unknown outcome was never taken:
	// "instances" (the SaaS's, or every listed instance's) or "saas".
	ProofOfAbsence string `toml:"proof_of_absence" backend:"signstash"`
	// HTTPProxy (signstash) is the outbound HTTP proxy; default the
	// HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment variables.
	HTTPProxy string `toml:"http_proxy" backend:"signstash"`
	// Transport (signstash) is how documents travel: "base64" (default,
	// inside the JSON request) or "multipart" (binary parts; the signed
	// documents come back as a ZIP).
	Transport string `toml:"transport" backend:"signstash"`
}

// PathKeys are the keys accepted in a signstash backend's [paths] table,
// sorted: the client's own template names.
var PathKeys = signstash.PathNames()

// Folder is one watched folder set. Inbox, Outbox, Error and Archive must be
// on one volume and distinct.
type Folder struct {
	// Name identifies the folder in logs, metrics and the ledger; required,
	// unique, letters, digits, '.', '_' and '-'.
	Name string `toml:"name"`
	// Inbox is where producers drop documents; required.
	Inbox string `toml:"inbox"`
	// Outbox receives the signed documents; required.
	Outbox string `toml:"outbox"`
	// Error receives failed originals and their .error.json files; required.
	Error string `toml:"error"`
	// Archive receives originals after success; "" deletes them instead.
	Archive string `toml:"archive"`
	// Include are the file name patterns picked up; default *.pdf and *.xml.
	Include []string `toml:"include"`
	// Exclude are file name patterns skipped even when included.
	Exclude []string `toml:"exclude"`
	// Recursive watches sub-folders of the inbox too.
	Recursive bool `toml:"recursive"`
	// Backend names the backend; default the only one when exactly one is
	// configured.
	Backend string `toml:"backend"`
	// Settle is how long a file must stay unchanged to count as written;
	// default 2s.
	Settle Duration `toml:"settle"`
	// ScanInterval is the period of inbox scans; 0 (the default) picks it
	// by the inbox's file system: 60s on a local disk, 3s on a network
	// share or user-space file system, where file events do not arrive.
	ScanInterval Duration `toml:"scan_interval"`
	// MaxFiles, MaxBytes and MaxWait flush a batch, whichever comes first;
	// defaults 50 files, 20MB, 5s. MaxFiles is at most MaxFilesLimit.
	MaxFiles int      `toml:"max_files"`
	MaxBytes Size     `toml:"max_bytes"`
	MaxWait  Duration `toml:"max_wait"`
	// OnCollision is what happens when the outbox already has the name:
	// suffix (default: add " (1)", " (2)"…), overwrite or fail.
	OnCollision string `toml:"on_collision"`
	// DoneMarker waits for NAME.done before taking NAME.
	DoneMarker bool `toml:"done_marker"`
	// GiveUpAfter is how long transient failures are retried before a
	// document fails with GAVE_UP; default 24h.
	GiveUpAfter Duration `toml:"give_up_after"`
	// ArchiveRetention deletes archived originals older than this; 0 (the
	// default) keeps them forever.
	ArchiveRetention Duration `toml:"archive_retention"`
	// Signature are the signature settings of the folder's documents.
	Signature Signature `toml:"signature"`
}

// Signature are a folder's signature settings.
type Signature struct {
	// Type is auto (default: PAdES for PDF, XAdES for XML, CAdES otherwise),
	// pades, xades or cades.
	Type     string `toml:"type"`
	Reason   string `toml:"reason"`
	Location string `toml:"location"`
	Name     string `toml:"name"`
	// Timestamp asks for an RFC 3161 timestamp (PAdES B-T).
	Timestamp bool `toml:"timestamp"`
	// Visible, when set, makes PDF signatures visible.
	Visible *Visible `toml:"visible"`
}

// Visible places a visible PDF signature. Location says how: at Page, X, Y
// (LocationCoordinate, the default; Page is 1-based, X and Y in points from
// the page's lower-left corner), in the existing signature field named Field
// (LocationSignField), or at the first occurrence of the word Placeholder in
// the document (LocationPlaceholder). Width and Height size the signature;
// with a field or placeholder, 0 leaves the size to the backend.
type Visible struct {
	Location    string  `toml:"location"`
	Field       string  `toml:"field"`
	Placeholder string  `toml:"placeholder"`
	Page        int     `toml:"page"`
	X           float64 `toml:"x"`
	Y           float64 `toml:"y"`
	Width       float64 `toml:"width"`
	Height      float64 `toml:"height"`
}

// Locations of a visible signature ("" means LocationCoordinate).
const (
	LocationCoordinate  = string(signing.LocationCoordinate)
	LocationSignField   = string(signing.LocationSignField)
	LocationPlaceholder = string(signing.LocationPlaceholder)
)

// Options converts the settings to the signer's per-document options.
func (s Signature) Options() signing.Options {
	o := signing.Options{
		Type:      signing.Type(s.Type),
		Reason:    s.Reason,
		Location:  s.Location,
		Name:      s.Name,
		Timestamp: s.Timestamp,
	}
	if o.Type == "" {
		o.Type = signing.TypeAuto
	}
	if v := s.Visible; v != nil {
		o.Visible = &signing.Visible{Page: v.Page, X: v.X, Y: v.Y, W: v.Width, H: v.Height,
			Location: signing.Location(v.Location), Field: v.Field, Placeholder: v.Placeholder}
	}
	return o
}

// ListenRemote reports whether the configured monitor listener reaches
// beyond this machine: the configuration asked for it (check warns), so the
// monitor may bind it; anything else stays on loopback.
func (c *Config) ListenRemote() bool {
	host, _, err := net.SplitHostPort(c.Listen)
	return err == nil && !signagent.LoopbackHost(host)
}

// Default returns what an empty file means: defaults everywhere, one "local"
// backend with the development certificate, no folders. Its paths are
// relative (DataDir is "data").
func Default() *Config {
	return &Config{
		DataDir:             DefaultDataDir,
		LogLevel:            DefaultLogLevel,
		LogFormat:           DefaultLogFormat,
		Listen:              DefaultListen,
		UIActions:           true,
		LedgerRetention:     Duration{DefaultLedgerRetention},
		BackupInterval:      Duration{DefaultBackupInterval},
		BackupKeep:          DefaultBackupKeep,
		OutputMode:          DefaultOutputMode,
		OutcomeUnknownAfter: Duration{DefaultOutcomeUnknownAfter},
		Backends: map[string]*Backend{
			DefaultBackendName: defaultBackend(DefaultBackendName, TypeLocal),
		},
	}
}

// defaultBackend returns a backend of type typ with that type's defaults.
func defaultBackend(name, typ string) *Backend {
	b := &Backend{Name: name, Type: typ}
	switch typ {
	case TypeLocal:
		b.Certificate = DevCertificate
		b.MaxSize = DefaultMaxSize
	case TypeSignStash:
		b.Mode = DefaultMode
		b.SyncMaxFiles = DefaultSyncMaxFiles
		b.Timeout = Duration{DefaultTimeout}
		b.PollInterval = Duration{DefaultPollInterval}
		b.Transport = DefaultTransport
		b.ProofOfAbsence = DefaultProofOfAbsence
	}
	return b
}

// DefaultFolder returns a folder with every default applied and no paths.
func DefaultFolder() *Folder {
	return &Folder{
		Include:     append([]string(nil), DefaultInclude...),
		Settle:      Duration{DefaultSettle},
		MaxFiles:    DefaultMaxFiles,
		MaxBytes:    DefaultMaxBytes,
		MaxWait:     Duration{DefaultMaxWait},
		OnCollision: DefaultOnCollision,
		GiveUpAfter: Duration{DefaultGiveUpAfter},
		Signature:   Signature{Type: DefaultSignatureType},
	}
}

// Load reads the file at path and parses it (see Parse). When the file
// cannot be read or is wrong, the error is a *Problems.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		p := Problem{File: path, Message: "cannot read the config file: " + errText(err)}
		switch {
		case errors.Is(err, os.ErrNotExist):
			p.Hint = "pass the right --config path, or start from config.example.toml"
		case errors.Is(err, os.ErrPermission):
			p.Hint = "let the service account read the file"
		}
		return nil, &Problems{p}
	}
	return Parse(data, path)
}

// Parse decodes a TOML document read from path (used to name the file in
// problems and to resolve relative paths against its directory; "" means the
// working directory), applies defaults, resolves relative paths and
// validates the result.
//
// The error is a *Problems listing everything wrong at once. When the TOML
// itself could be read, the returned *Config is non-nil even with an error,
// so that Check can add the filesystem's view; it must not be run.
func Parse(data []byte, path string) (*Config, error) {
	var root map[string]toml.Primitive
	md, err := toml.Decode(string(data), &root)
	if err != nil {
		p := Problem{File: path, Message: "invalid TOML: " + err.Error(),
			Hint: "fix the syntax; strings need quotes, tables are written [name], folders [[folders]]"}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.Line = pe.Position.Line
			p.Message = "invalid TOML: " + pe.Message
			if strings.Contains(pe.Message, "escape") || strings.Contains(pe.Message, `digits after '\`) {
				p.Hint = windowsPathHint
			}
		}
		return nil, &Problems{p}
	}
	d := &decoder{file: path, src: strings.Split(string(data), "\n"), md: md, lines: indexLines(data)}
	c := d.config(root)
	c.Path = path
	c.lines = d.lines
	c.decoding = d.problems

	base := "."
	if path != "" {
		base = filepath.Dir(path)
	}
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	c.resolve(base)

	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// resolve makes every relative path absolute against base.
func (c *Config) resolve(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
		if *p != "" {
			*p = filepath.Clean(*p)
		}
	}
	abs(&c.DataDir)
	for _, b := range c.Backends {
		if b.Certificate != DevCertificate {
			abs(&b.Certificate)
		}
		abs(&b.KeyFile)
		abs(&b.PasswordFile)
		abs(&b.ClientSecretFile)
		abs(&b.CAFile)
	}
	for _, f := range c.Folders {
		abs(&f.Inbox)
		abs(&f.Outbox)
		abs(&f.Error)
		abs(&f.Archive)
	}
}

// Folder returns the folder called name, or nil.
func (c *Config) Folder(name string) *Folder {
	for _, f := range c.Folders {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// BackendOf returns the backend folder f uses, or nil when it names none
// that exists.
func (c *Config) BackendOf(f *Folder) *Backend {
	return c.Backends[f.Backend]
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return fmt.Sprint(err)
}

package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/signagent/signagent/signing"
)

// Client is one client service, as in the proxy's client-services-config.json
// (an object keyed by client-service alias). Status is an emulator-only field.
type Client struct {
	Secret       string `json:"secret"`
	InputFolder  string `json:"inputFolder,omitempty"`
	BackupFolder string `json:"backupFolder,omitempty"`
	OutputFolder string `json:"outputFolder,omitempty"`
	// Status is "ACTIVE" (the default) or "INACTIVE"; an inactive client
	// service gets 401 / 1.1.1 on every business call.
	Status string `json:"status,omitempty"`
}

// Forms of the instance address in async answers.
const (
	AdvertiseNumber     = "number"
	AdvertiseStringPort = "string"
	AdvertiseJoined     = "joined"
)

// Client statuses.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// LoadClients reads a client-services-config.json file.
func LoadClients(path string) (map[string]Client, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseClients(f)
}

// ParseClients decodes client-services-config.json content.
func ParseClients(r io.Reader) (map[string]Client, error) {
	var m map[string]Client
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("client services config: %w", err)
	}
	for alias, c := range m {
		if c.Secret == "" {
			return nil, fmt.Errorf("client services config: %q has no secret", alias)
		}
		switch c.Status {
		case "", StatusActive, StatusInactive:
		default:
			return nil, fmt.Errorf("client services config: %q: status %q is neither ACTIVE nor INACTIVE", alias, c.Status)
		}
	}
	return m, nil
}

// SignFunc signs the file at inPath (originally called name) into outPath
// with format t. An error whose signagent.Kind is KindDocument reports a bad
// document; any other error an internal failure.
type SignFunc func(ctx context.Context, inPath, outPath, name string, t signing.Type, o signing.Options) error

// Faults are the injected failures. Rates are probabilities in [0,1] drawn
// per business call (per document for DocErrorRate) from a generator seeded
// with Config.Seed.
type Faults struct {
	// Latency delays every business call.
	Latency Duration `json:"latency,omitempty"`
	// FailRate answers HTTP 500 with error code 0.0.1.
	FailRate float64 `json:"fail_rate,omitempty"`
	// ThrottleRate answers HTTP 429 with a Retry-After of RetryAfter.
	ThrottleRate float64  `json:"throttle_rate,omitempty"`
	RetryAfter   Duration `json:"retry_after,omitempty"`
	// ResetRate closes the connection without an answer. Sign and register
	// calls are processed first (the outcome is unknown to the caller, and
	// the operation exists); other calls are dropped before processing.
	ResetRate float64 `json:"reset_rate,omitempty"`
	// ResetSendsOnly limits ResetRate to sign and register calls: every
	// other call is answered.
	ResetSendsOnly bool `json:"reset_sends_only,omitempty"`
	// DocErrorRate fails single documents with signStatus ERROR_SIGNING and
	// signError DocError (default INVALID_CERTIFICATE_SIGN_ERROR).
	DocErrorRate float64 `json:"doc_error_rate,omitempty"`
	DocError     string  `json:"doc_error,omitempty"`
	// ErrorCode answers every business call with this documented error code
	// (e.g. "1.1.1") and its documented HTTP status.
	ErrorCode string `json:"error_code,omitempty"`
	// RestartAfter makes the instance forget all its operations every N
	// business calls, as a restarted proxy instance does.
	RestartAfter int `json:"restart_after,omitempty"`
	// ExpiredTokenAs409 answers a missing, invalid or expired token with the
	// documented 409 / 0.0.10 instead of 401 invalid_token.
	ExpiredTokenAs409 bool `json:"expired_token_as_409,omitempty"`
	// PendingRate answers a sync sign call with the operation still
	// PENDING_EXECUTION and its documents RECEIVED; ExecErrorRate with
	// EXECUTION_ERROR (the service will retry) and RECEIVED documents. Either
	// way the operation is executed later: after PendingPolls status or
	// detail calls on it (0: at once, in the background), so a client must
	// poll it to get its result.
	PendingRate   float64 `json:"pending_rate,omitempty"`
	ExecErrorRate float64 `json:"exec_error_rate,omitempty"`
	PendingPolls  int     `json:"pending_polls,omitempty"`
	// ReceivedRate leaves single documents RECEIVED (never signed, no
	// signError) in a finished operation, which then ends EXECUTION_FAILED.
	ReceivedRate float64 `json:"received_rate,omitempty"`
	// SaaSDown is a proxy that lost its connection to the Integration
	// Service: every business call on the proxy base path answers 500 /
	// 0.0.1 with the forwarding error as causeMessage, and nothing is
	// signed. The SaaS base path and the token endpoint are not affected.
	// The real proxy's answer is not documented; this one is inferred.
	SaaSDown bool `json:"saas_down,omitempty"`
}

// Duration is a time.Duration written as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return err
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Config configures one emulator instance.
type Config struct {
	// Clients are the client services allowed to get tokens, by alias.
	Clients map[string]Client
	// TokenLifetime is the access token lifetime (default 86399s).
	TokenLifetime time.Duration
	// TokenKey signs the JWT access tokens (HS256). Instances of one cluster
	// share it, as they share the real OAuth server. Default: random.
	TokenKey []byte
	// Sign signs one document; default MarkerSign.
	Sign SignFunc
	// Faults are the initial injected failures.
	Faults Faults
	// Seed seeds the fault generator (default 1).
	Seed uint64
	// Paths overrides the path templates (see wire.DefaultPaths); the client
	// takes the same keys.
	Paths map[string]string
	// AdvertiseHost and AdvertisePort are returned by async register and
	// status calls: where follow-up calls for the operation must go.
	AdvertiseHost string
	AdvertisePort int
	// AdvertiseForm is how the answer writes them (the real shape is not
	// published): AdvertiseNumber (default: "host" and a numeric "port"),
	// AdvertiseStringPort ("port" as a string) or AdvertiseJoined (one
	// "host": "host:port", no "port").
	AdvertiseForm string
	// DataDir holds documents in flight and results until fetched; default a
	// fresh temporary directory removed by Close.
	DataDir string
	// ResultTTL is how long a finished operation and its files are kept
	// (default 24h).
	ResultTTL time.Duration
	// MaxDocumentBytes rejects larger documents with 0.0.4 (0: no limit).
	MaxDocumentBytes int64
	// MaxDocuments and MaxRequestBytes cap one request's documents and
	// decoded bytes, answered with the documented 500 / 0.0.4 ("attribute
	// size exceeded"); 0: no cap. The service publishes no number: the
	// proxy documents < 100 documents per sync request as typical, 2,500
	// per async request.
	MaxDocuments    int
	MaxRequestBytes int64
	// AsyncStatus is the HTTP status of an accepted async register (default 202).
	AsyncStatus int
	// NoProxyLookup removes the look-up, status and detail calls from the
	// proxy base path (the documentation says the proxy only signs and
	// stores nothing); the SaaS base path keeps them.
	NoProxyLookup bool
	// ZipStored writes the ZIP download's entries uncompressed, each with
	// its sizes and CRC-32 after its data (a data descriptor), as Go's
	// archive/zip writes stored entries; the default deflates them, as a
	// Java service's ZipOutputStream does. The documentation does not say
	// which the service sends.
	ZipStored bool
	// Lenient accepts what the real service is not documented to accept
	// (today: client credentials in the token request's form body instead of
	// Basic). Off by default: a client that works only with a lenient
	// emulator is broken.
	Lenient bool
	// SeparateToken leaves the token endpoint out of Handler: it is served
	// by TokenHandler on its own listener, as the public OAuth host is
	// apart from an on-premise proxy. StartCluster sets it when TokenAddr
	// is set.
	SeparateToken bool
	// TokenAddr ("host:port"), for StartCluster, is where the token
	// endpoint listens on its own; empty: with the business calls.
	TokenAddr string
	// Workers is the number of documents signed in parallel (default 2).
	Workers int
	Logger  *slog.Logger
	Now     func() time.Time

	// opIDs, when set, is the operation id counter shared by the instances
	// of a cluster: the service numbers operations, not the instance.
	opIDs *atomic.Int64
}

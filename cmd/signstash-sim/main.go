// Command signstash-sim is a local emulator of the Sign'Stash service: the
// OAuth token endpoint, the Integration Service and the Proxy (sync and
// async signing, operation look-ups), with several instances and fault
// injection. It signs with the local signer, so what it returns is a real
// signed document (with a development certificate unless --certificate is
// given).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "signstash-sim:", err)
		os.Exit(1)
	}
}

const usage = `usage: signstash-sim [flags]

Emulates the Sign'Stash token endpoint, Integration Service
(/signstash/einvoice-integration-ws) and Proxy
(/signstash/einvoice-integration-client-ws) on one listener.

With --instances N > 1, --listen is a round-robin balancer and the
instances listen on the next N ports, each with its own operations and
advertised host:port (async answers say where to poll).

Without --clients a demo client service is created and its alias and
generated secret are printed (the only secret ever printed).

Admin endpoints (no authentication; keep the emulator on loopback):
  GET/POST /sim/faults            read or replace the faults (JSON, as the flags)
  POST     /sim/clients/{alias}   {"status":"ACTIVE"|"INACTIVE"}
  POST     /sim/restart           forget every operation
  GET      /sim/stats             signatures and deliveries per document reference

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("signstash-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var (
		listen      = fs.String("listen", "127.0.0.1:8081", "listen address (the balancer when --instances > 1)")
		clientsFile = fs.String("clients", "", "client-services-config.json (aliases and secrets; optional \"status\": ACTIVE|INACTIVE)")
		instances   = fs.Int("instances", 1, "number of instances, each with its own state")
		dataDir     = fs.String("data-dir", "", "directory for documents in flight and results (default: a temporary directory)")
		advertise   = fs.String("advertise-host", "", "host returned by async calls (default: the listen host)")
		advForm     = fs.String("advertise-form", sim.AdvertiseNumber, `how async answers write the instance: "number" (host + numeric port), "string" (port as a string) or "joined" (host "h:p", no port)`)
		certificate = fs.String("certificate", "dev", `signing certificate: "dev" (development certificate in the data directory) or a .p12/.pem path`)
		password    = fs.String("password-file", "", "password file of a PKCS#12 certificate")
		tsa         = fs.String("tsa-url", "", "RFC 3161 timestamp authority for applyTimestamp (default: none; such documents fail)")
		lifetime    = fs.Duration("token-lifetime", 86399*time.Second, "access token lifetime")
		ttl         = fs.Duration("result-ttl", 24*time.Hour, "how long finished operations and their results are kept")
		seed        = fs.Uint64("seed", 1, "seed of the fault generator (runs with the same seed and calls draw the same faults)")
		latency     = fs.Duration("latency", 0, "delay every business call")
		failRate    = fs.Float64("fail-rate", 0, "fraction of business calls answered HTTP 500 / 0.0.1")
		throttle    = fs.Float64("throttle-rate", 0, "fraction of business calls answered HTTP 429 with Retry-After")
		retryAfter  = fs.Duration("retry-after", time.Second, "Retry-After of throttled calls (whole seconds)")
		resetRate   = fs.Float64("reset-rate", 0, "fraction of business calls whose connection is reset (sign calls are processed first)")
		docErrRate  = fs.Float64("doc-error-rate", 0, "fraction of documents failed with signStatus ERROR_SIGNING")
		docErr      = fs.String("doc-error", "INVALID_CERTIFICATE_SIGN_ERROR", "signError of injected document failures")
		errorCode   = fs.String("error-code", "", "answer every business call with this documented code (e.g. 1.1.1, 0.0.1, 429)")
		restart     = fs.Int("restart-after", 0, "forget all operations every N business calls (0: never)")
		as409       = fs.Bool("expired-token-409", false, "answer bad or expired tokens with 409 / 0.0.10 instead of 401")
		pendingRate = fs.Float64("pending-rate", 0, "fraction of sync sign calls answered PENDING_EXECUTION with RECEIVED documents (executed later; poll them)")
		execErrRate = fs.Float64("exec-error-rate", 0, "fraction of sync sign calls answered EXECUTION_ERROR with RECEIVED documents (the service retries; executed later)")
		pendingPoll = fs.Int("pending-polls", 0, "an operation answered pending is executed at its Nth status or detail call (0: at once, in the background)")
		recvRate    = fs.Float64("received-rate", 0, "fraction of documents left RECEIVED (unsigned, no signError) in a finished operation")
		saasDown    = fs.Bool("saas-down", false, "the proxy lost its Integration Service: proxy calls answer 500 / 0.0.1 (inferred shape)")
		tokenListen = fs.String("token-listen", "", "serve the token endpoint on this address of its own (as the public OAuth host is apart from the proxy); empty: on --listen")
		paths       = fs.String("paths", "", "path template overrides: name=template,... (names: async_register, async_status, async_result, lookup, status, detail, sync_sign)")
		maxDocs     = fs.Int("max-documents", 0, "refuse requests with more documents (500 / 0.0.4); 0: no cap")
		maxBytes    = fs.Int64("max-request-bytes", 0, "refuse requests whose documents decode to more bytes (500 / 0.0.4); 0: no cap")
		zipStored   = fs.Bool("zip-stored", false, "ZIP downloads with uncompressed entries whose sizes follow their data (default: deflated)")
		proxyLookup = fs.Bool("proxy-lookup", true, "serve the look-up, status and detail calls on the proxy base path (false: a proxy that only signs)")
		lenient     = fs.Bool("lenient", false, "accept what the real service is not documented to accept (credentials in the token request body); for experiments only")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tokenListen != "" && *tokenListen == *listen && !strings.HasSuffix(*listen, ":0") {
		return fmt.Errorf("--token-listen must differ from --listen")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := sim.Config{
		Lenient: *lenient, NoProxyLookup: !*proxyLookup, ZipStored: *zipStored, MaxDocuments: *maxDocs, MaxRequestBytes: *maxBytes, TokenLifetime: *lifetime, Seed: *seed, ResultTTL: *ttl, AdvertiseHost: *advertise, AdvertiseForm: *advForm, Logger: log,
		Faults: sim.Faults{
			Latency: sim.Duration(*latency), FailRate: *failRate, ThrottleRate: *throttle, RetryAfter: sim.Duration(*retryAfter),
			ResetRate: *resetRate, DocErrorRate: *docErrRate, DocError: *docErr, ErrorCode: *errorCode,
			RestartAfter: *restart, ExpiredTokenAs409: *as409,
			PendingRate: *pendingRate, ExecErrorRate: *execErrRate, PendingPolls: *pendingPoll, ReceivedRate: *recvRate, SaaSDown: *saasDown,
		},
		TokenAddr: *tokenListen,
	}
	if *paths != "" {
		cfg.Paths = map[string]string{}
		for _, kv := range strings.Split(*paths, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("--paths: %q is not name=template", kv)
			}
			cfg.Paths[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if *clientsFile != "" {
		cl, err := sim.LoadClients(*clientsFile)
		if err != nil {
			return err
		}
		cfg.Clients = cl
	} else {
		var b [12]byte
		rand.Read(b[:])
		a, s := "PRT.000000000-PRT.000000000-demo", hex.EncodeToString(b[:])
		cfg.Clients = map[string]sim.Client{a: {Secret: s}}
		fmt.Fprintf(stdout, "demo client service (generated for this run; use --clients for your own):\n  client_id     = %s\n  client_secret = %s\n", a, s)
	}
	if *dataDir != "" {
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			return err
		}
		cfg.DataDir = *dataDir
	}
	signerDir := *dataDir
	if signerDir == "" {
		d, err := os.MkdirTemp("", "signstash-sim-signer-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		signerDir = d
	}
	local, err := signer.NewLocal(signer.LocalConfig{Name: "signstash-sim", Certificate: *certificate, PasswordFile: *password,
		TSAURL: *tsa, DataDir: signerDir, Workers: 1, Logger: log})
	if err != nil {
		return err
	}
	cfg.Sign = func(ctx context.Context, in, out, name string, t signing.Type, o signing.Options) error {
		o.Type = t
		_, err := local.SignFile(ctx, in, out, name, o)
		return err
	}
	c, err := sim.StartCluster(cfg, *listen, *instances)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signstash-sim listening on %s\n", c.URL)
	fmt.Fprintf(stdout, "  token:  %s/oauth2/authorization-server/oauth/token\n", c.TokenURL)
	fmt.Fprintf(stdout, "  proxy:  %s/signstash/einvoice-integration-client-ws\n", c.URL)
	fmt.Fprintf(stdout, "  saas:   %s/signstash/einvoice-integration-ws\n", c.URL)
	if len(c.InstanceURLs) > 1 {
		fmt.Fprintf(stdout, "  instances: %s\n", strings.Join(c.InstanceURLs, " "))
	}
	if *certificate == "dev" {
		fmt.Fprintf(stdout, "  signing with the development certificate (NOT TRUSTED): %s\n", filepath.Join(signerDir, "dev"))
	}
	<-ctx.Done()
	return c.Close()
}

package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/signagent/signagent"
)

// DefaultAddr is where the server listens when Addr is empty: loopback only.
const DefaultAddr = "127.0.0.1:9464"

// Server timeouts. Handlers only read in-memory state and the ledger, so
// these are generous upper bounds, not expected durations.
const (
	DefaultShutdownTimeout = 5 * time.Second
	requestTimeout         = 10 * time.Second
)

// Server serves /metrics, /healthz and /status.
type Server struct {
	// Addr is host:port to listen on; empty means DefaultAddr.
	Addr string
	// AllowRemote permits a non-loopback Addr. Without it Listen refuses to
	// bind anything but loopback, so the queue report and metrics never leave
	// the host by accident.
	AllowRemote bool
	// Status returns the queue report for /status, /healthz and the gauges.
	// Required.
	Status StatusFunc
	// Detail, if set, adds to the report of GET /status what costs more
	// than the queue report (the agent's identity, the holds' timing, a
	// walk of the inboxes); /healthz, the gauges and the page do without.
	Detail func(ctx context.Context, st *signagent.Status)
	// Health, if set, reports problems the queue report cannot show (for
	// example an unwritable ledger); a non-nil error makes /healthz fail
	// with the error's text.
	Health func(ctx context.Context) error
	// Metrics, if set, is served on /metrics and has its gauges fed from
	// Status (Run calls Metrics.Observe(Status)).
	Metrics *Metrics
	// Page, if set, is the status page on GET / with its actions.
	Page *Page
	// Logger receives serving errors; nil discards them.
	Logger *slog.Logger
	// ShutdownTimeout bounds the graceful shutdown; zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// Run listens on Addr and serves until ctx is done, then shuts down
// gracefully. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Listen binds Addr, refusing non-loopback addresses unless AllowRemote.
// Errors are *signagent.Error of kind configuration.
func (s *Server) Listen() (net.Listener, error) {
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, signagent.ConfigError(fmt.Sprintf("listen address %q is not host:port", addr),
			"set listen to an address such as "+DefaultAddr, err)
	}
	if !s.AllowRemote && !signagent.LoopbackHost(host) {
		return nil, remoteRefused(addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, signagent.ConfigError(fmt.Sprintf("cannot listen on %s", addr),
			"another signagent may already be running, or the port is taken: stop it or change listen in the configuration", err)
	}
	// A name such as "localhost" is checked again once bound.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !s.AllowRemote && !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, remoteRefused(addr)
	}
	return ln, nil
}

func remoteRefused(addr string) error {
	return signagent.ConfigError(fmt.Sprintf("refusing to serve status and metrics on %s: not a loopback address", addr),
		"use "+DefaultAddr+", or allow remote access explicitly if the network is trusted", nil)
}

// Serve serves on ln until ctx is done, then shuts down gracefully and
// closes ln. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Metrics != nil && s.Status != nil {
		s.Metrics.Observe(s.Status)
	}
	log := s.logger()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      requestTimeout + 5*time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("monitor listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("monitor: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("monitor: shut down: %w", err)
	}
	return nil
}

// Handler returns the HTTP routes: GET /metrics, /healthz and /status,
// and the status page (GET / and its POST actions) when Page is set.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics.Handler())
	}
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET /status", s.serveStatus)
	if s.Page != nil {
		s.Page.routes(mux, s.Status, s.Addr)
	}
	return mux
}

func (s *Server) status(ctx context.Context) (*signagent.Status, error) {
	if s.Status == nil {
		return nil, errors.New("no status source configured")
	}
	return s.Status(ctx)
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	var problems []Problem
	st, err := s.status(ctx)
	if err != nil {
		problems = append(problems, Problem{Reason: "status unavailable: " + err.Error()})
	} else if herr := Healthy(st); herr != nil {
		var u *UnhealthyError
		if errors.As(herr, &u) {
			problems = append(problems, u.Problems...)
		} else {
			problems = append(problems, Problem{Reason: herr.Error()})
		}
	}
	if s.Health != nil {
		if herr := s.Health(ctx); herr != nil {
			problems = append(problems, Problem{Reason: herr.Error()})
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(problems) == 0 {
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, "ok")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, (&UnhealthyError{Problems: problems}).Error())
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	st, err := s.status(ctx)
	if err != nil {
		s.logger().Warn("status unavailable", "err", err)
		http.Error(w, "status unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if s.Detail != nil {
		s.Detail(ctx, st)
	}
	var buf bytes.Buffer
	if err := EncodeStatus(&buf, st); err != nil {
		http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

package main

import (
	"context"
	"crypto/x509"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/monitor"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
)

// newMonitor wires the monitor listener for a running agent: status,
// health, metrics and the status page (with its actions unless
// ui_actions = false).
// The folders held because they could not be used at the start (h) are
// part of every view, as held folders.
func newMonitor(cfg *config.Config, a *agent.Agent, h *heldFolders, backends map[string]signing.Backend, metrics *monitor.Metrics,
	started time.Time, log *slog.Logger) *monitor.Server {
	page := &monitor.Page{
		Info: &monitor.AgentInfo{Version: version, PID: os.Getpid(), Started: started, ConfigFile: cfg.Path,
			Listen: cfg.Listen, Backends: backendInfos(cfg, backends)},
		Live: liveFolders(h.live(a)),
		Rate: metrics.PerMinute,
	}
	if cfg.UIActions {
		page.Actions = heldActions{a: a, h: h}
	}
	return &monitor.Server{Addr: cfg.Listen, AllowRemote: cfg.ListenRemote(), Status: h.status(a),
		Detail: statusDetail(h.live(a), started), Health: a.Health, Metrics: metrics, Page: page,
		Logger: log.With("component", "monitor")}
}

// statusDetail adds to the report of GET /status (and so of `signagent
// status`) the agent's identity, when each held folder tries again and what
// waits in each inbox.
func statusDetail(live func(context.Context) ([]agent.FolderLive, error), started time.Time) func(context.Context, *signagent.Status) {
	return func(ctx context.Context, st *signagent.Status) {
		st.Agent = &signagent.AgentState{Running: true, PID: os.Getpid(), Version: version, Started: started,
			Uptime: time.Since(started).Round(time.Second)}
		ls, err := live(ctx)
		if err != nil {
			return
		}
		for i := range st.Folders {
			f := &st.Folders[i]
			for _, l := range ls {
				if l.Name != f.Name {
					continue
				}
				if f.Held != "" {
					f.HeldSince, f.NextRecheck = l.HeldSince, l.NextRecheck
				}
				f.Inbox = &signagent.InboxWaiting{Files: l.Inbox, AtLeast: l.InboxTruncated, Oldest: l.InboxOldestRel,
					OldestSince: l.InboxOldest}
			}
		}
	}
}

// startOperations starts what keeps an operator informed while the agent
// runs, each stopping with ctx: the metrics only the running agent knows
// (build, counters from 0, inbox and error folder gauges), the certificate log (at start and daily,
// warning before expiry) with its expiry gauge, and the backlog progress
// line every 10 s.
func startOperations(ctx context.Context, wg *sync.WaitGroup, cfg *config.Config, a *agent.Agent, h *heldFolders,
	backends map[string]signing.Backend, metrics *monitor.Metrics, log *slog.Logger) {
	var names []string
	for _, f := range cfg.Folders {
		names = append(names, f.Name)
	}
	metrics.Init(version, names)
	metrics.ObserveLive(liveFolders(h.live(a)))
	certs := backendInfos(cfg, backends)
	metrics.Certificates(certs)
	wg.Go(func() { monitor.RunCertificateLog(ctx, log.With("component", "certificates"), certs, nil, 0) })
	p := &monitor.Progress{Status: h.status(a), Live: liveFolders(h.live(a)), Rate: metrics.PerMinute, Logger: log.With("component", "progress")}
	wg.Go(func() { p.Run(ctx) })
}

// backendInfos describes every backend in use, with the certificate of
// those that hold one, sorted by name.
func backendInfos(cfg *config.Config, backends map[string]signing.Backend) []monitor.BackendInfo {
	var out []monitor.BackendInfo
	for name, be := range backends {
		bi := monitor.BackendInfo{Name: name}
		if b := cfg.Backends[name]; b != nil {
			bi.Type = b.Type
			bi.Dev = b.Type == config.TypeLocal && b.Certificate == config.DevCertificate
		}
		if c := certificateOf(be); c != nil {
			bi.Subject, bi.Issuer = c.Subject.String(), c.Issuer.String()
			bi.NotBefore, bi.NotAfter = c.NotBefore, c.NotAfter
		} else {
			bi.Note = "held by the signing service"
		}
		out = append(out, bi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// certificateOf returns the signing certificate a backend holds itself,
// nil when the certificate stays at a remote service.
func certificateOf(be signing.Backend) *x509.Certificate {
	if l, ok := be.(*signer.Local); ok {
		return l.Certificate()
	}
	return nil
}

// liveFolders adapts the agent's live folder state to the page's.
func liveFolders(live func(context.Context) ([]agent.FolderLive, error)) func(context.Context) ([]monitor.FolderLive, error) {
	return func(ctx context.Context) ([]monitor.FolderLive, error) {
		ls, err := live(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]monitor.FolderLive, 0, len(ls))
		for _, l := range ls {
			fl := monitor.FolderLive{Name: l.Name, HeldSince: l.HeldSince, NextRecheck: l.NextRecheck,
				Inbox: l.Inbox, InboxOldest: l.InboxOldest, InboxOldestRel: l.InboxOldestRel,
				InboxTruncated: l.InboxTruncated, FailedTotal: l.FailedTotal}
			for _, f := range l.Failed {
				fl.Failed = append(fl.Failed, monitor.FailedDoc{File: f.Rel, ErrorFile: f.ErrorFile,
					Code: string(f.Error.Code), Message: f.Error.Message, Hint: f.Error.Hint,
					Attempts: f.Error.Attempts, FailedAt: f.Error.FailedAt})
			}
			out = append(out, fl)
		}
		return out, nil
	}
}

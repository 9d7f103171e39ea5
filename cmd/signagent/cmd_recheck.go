package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/monitor"
)

// monitorFile, in the data directory, tells local commands where the
// running agent's monitor listens and the token of its actions. The agent
// writes it (mode 0600) once it listens and removes it when it stops:
// whoever can read the data directory may act, as on the status page.
const monitorFile = "monitor.json"

type monitorInfo struct {
	URL     string    `json:"url"`
	PID     int       `json:"pid"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	Token   string    `json:"token"`
}

// askAgent returns the running agent's live report and a line naming the
// agent, or nil and a line saying the report comes from the ledger.
func askAgent(ctx context.Context, cfg *config.Config) (*signagent.Status, string) {
	const fromLedger = "agent: no running agent answers (stopped, or listen is off): this report is the ledger's, holds as last recorded"
	mi, err := readMonitorFile(cfg)
	if err != nil {
		return nil, fromLedger
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := liveStatus(ctx, &http.Client{}, mi)
	if err != nil {
		return nil, fromLedger
	}
	line := fmt.Sprintf("agent: running, pid %d, version %s", mi.PID, mi.Version)
	if !mi.Started.IsZero() {
		line += fmt.Sprintf(", up %s", time.Since(mi.Started).Round(time.Second))
	}
	return st, line + " (live report)"
}

// writeMonitorFile records the listener for local commands; the returned
// func removes it.
func writeMonitorFile(dataDir, addr, token string, started time.Time) (func(), error) {
	p := filepath.Join(dataDir, monitorFile)
	b, _ := json.Marshal(monitorInfo{URL: "http://" + addr, PID: os.Getpid(), Version: version, Started: started, Token: token})
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return func() { os.Remove(p) }, nil
}

// errNotRunning says no agent with a monitor runs on this data directory.
var errNotRunning = errors.New("no running agent answers")

// readMonitorFile returns the running agent's listener, or errNotRunning.
func readMonitorFile(cfg *config.Config) (*monitorInfo, error) {
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, monitorFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotRunning
	}
	if err != nil {
		return nil, err
	}
	var mi monitorInfo
	if err := json.Unmarshal(b, &mi); err != nil || mi.URL == "" {
		return nil, fmt.Errorf("%s: unreadable: %v", monitorFile, err)
	}
	return &mi, nil
}

// cmdRecheck asks the running agent to retry held folders now.
func cmdRecheck(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("recheck", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	mi, err := readMonitorFile(cfg)
	if errors.Is(err, errNotRunning) {
		return &signagent.Error{Kind: signagent.KindLocal, Code: signagent.CodeLocal,
			Message: "no running agent for " + cfg.Path + " (or its listener is off): nothing to recheck",
			Hint:    "start it (`signagent start`), or set listen in the configuration"}
	}
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	folders := fs.Args()
	if len(folders) == 0 {
		st, err := liveStatus(ctx, client, mi)
		if err != nil {
			return err
		}
		for _, f := range st.Folders {
			if f.Held != "" {
				folders = append(folders, f.Name)
			}
		}
		if len(folders) == 0 {
			fmt.Fprintln(e.stdout, "no folder is held")
			return nil
		}
	}
	failed := 0
	for _, f := range folders {
		res, err := postAction(ctx, client, mi, "recheck", url.Values{"folder": {f}})
		if err != nil {
			return err
		}
		if res.Error != "" {
			fmt.Fprintln(e.stderr, "signagent: "+res.Error)
			failed++
			continue
		}
		fmt.Fprintln(e.stdout, res.Message)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d folder(s) not rechecked", failed, len(folders))
	}
	return nil
}

func liveStatus(ctx context.Context, client *http.Client, mi *monitorInfo) (*signagent.Status, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", mi.URL+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the agent (pid %d) does not answer at %s: %w", mi.PID, mi.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("the agent answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var st signagent.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("the agent's status: %w", err)
	}
	return &st, nil
}

func postAction(ctx context.Context, client *http.Client, mi *monitorInfo, action string, form url.Values) (*monitor.ActionResult, error) {
	form.Set("token", mi.Token)
	req, err := http.NewRequestWithContext(ctx, "POST", mi.URL+"/actions/"+action, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the agent (pid %d) does not answer at %s: %w", mi.PID, mi.URL, err)
	}
	defer resp.Body.Close()
	var res monitor.ActionResult
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusConflict {
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			return nil, fmt.Errorf("the agent's answer: %w", err)
		}
		return &res, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return nil, fmt.Errorf("the agent refused: %s", strings.TrimSpace(string(b)))
}

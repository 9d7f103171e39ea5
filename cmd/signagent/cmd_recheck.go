package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
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
	// URL is the listener's http://host:port, or unix:PATH for the local
	// socket.
	URL     string    `json:"url"`
	PID     int       `json:"pid"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	Token   string    `json:"token"`
}

// socketFile, in the data directory, is the agent's local socket when its
// monitor listener is off.
const socketFile = "signagent.sock"

// listenLocal opens the agent's local socket in dataDir, readable and
// writable by its owner only. The caller holds the data directory's lock,
// so a socket file found there is a stale one and goes.
func listenLocal(dataDir string) (net.Listener, error) {
	p := filepath.Join(dataDir, socketFile)
	os.Remove(p)
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, err
	}
	// On Windows the data directory's ACL guards the socket; elsewhere
	// its mode does too.
	if runtime.GOOS != "windows" {
		if err := os.Chmod(p, 0o600); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// agentClient returns an HTTP client for the agent described by mi and the
// base URL of its requests.
func agentClient(mi *monitorInfo, timeout time.Duration) (*http.Client, string) {
	c := &http.Client{Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if sock, ok := strings.CutPrefix(mi.URL, "unix:"); ok {
		c.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		return c, "http://localhost"
	}
	return c, mi.URL
}

// writeMonitorFile records the listener for local commands; the returned
// func removes it.
func writeMonitorFile(dataDir, url, token string, started time.Time) (func(), error) {
	p := filepath.Join(dataDir, monitorFile)
	b, _ := json.Marshal(monitorInfo{URL: url, PID: os.Getpid(), Version: version, Started: started, Token: token})
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
		return signagent.LocalError("no running agent for "+cfg.Path+" (or its listener is off): nothing to recheck",
			"start it (`signagent start`), or set listen in the configuration", nil)
	}
	if err != nil {
		return err
	}
	folders := fs.Args()
	if len(folders) == 0 {
		st, err := liveStatus(ctx, mi)
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
		res, err := postAction(ctx, mi, "recheck", url.Values{"folder": {f}})
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

// liveStatus asks the running agent for its report.
func liveStatus(ctx context.Context, mi *monitorInfo) (*signagent.Status, error) {
	client, base := agentClient(mi, 15*time.Second)
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/status", nil)
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

// postAction asks the running agent to do action.
func postAction(ctx context.Context, mi *monitorInfo, action string, form url.Values) (*monitor.ActionResult, error) {
	client, base := agentClient(mi, 15*time.Second)
	form.Set("token", mi.Token)
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/actions/"+action, strings.NewReader(form.Encode()))
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

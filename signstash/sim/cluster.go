package sim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Cluster is one or more running instances. With several instances a
// round-robin balancer listens on the requested address and instance i
// listens on the next port (port+1+i; any free port when port is 0), as
// proxies behind a load balancer do. Instances share the token key (one
// OAuth server) and nothing else.
type Cluster struct {
	// URL is where clients connect: the balancer, or the only instance.
	URL string
	// TokenURL is the base URL of the token endpoint: URL, or the token
	// listener when Config.TokenAddr is set.
	TokenURL string
	// Instances are the servers, in port order; InstanceURLs their URLs.
	Instances    []*Server
	InstanceURLs []string

	servers []*http.Server
	wg      sync.WaitGroup
	errMu   sync.Mutex
	err     error
}

// StartCluster listens on addr ("host:port") and serves n instances built
// from cfg (each with its own DataDir under cfg.DataDir when set, and its own
// advertised port). Close stops everything.
func StartCluster(cfg Config, addr string, n int) (*Cluster, error) {
	if n < 1 {
		return nil, errors.New("at least one instance is needed")
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: bad port", addr)
	}
	if len(cfg.TokenKey) == 0 {
		cfg.TokenKey = make([]byte, 32)
		rand.Read(cfg.TokenKey)
	}
	cfg.opIDs = new(atomic.Int64)
	cfg.opIDs.Store(1000)
	c := &Cluster{}
	var tokenLn net.Listener
	if cfg.TokenAddr != "" {
		cfg.SeparateToken = true
		if tokenLn, err = net.Listen("tcp", cfg.TokenAddr); err != nil {
			return nil, fmt.Errorf("token listener: %w", err)
		}
		defer func() {
			if c.URL == "" {
				tokenLn.Close()
			}
		}()
	}
	var front net.Listener
	if n > 1 {
		if front, err = net.Listen("tcp", addr); err != nil {
			return nil, err
		}
	}
	for i := range n {
		a := addr
		if n > 1 {
			p := 0
			if port != 0 {
				p = port + 1 + i
			}
			a = net.JoinHostPort(host, strconv.Itoa(p))
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			if front != nil {
				front.Close()
			}
			c.Close()
			return nil, err
		}
		icfg := cfg
		if icfg.AdvertiseHost == "" {
			icfg.AdvertiseHost = advertisable(host)
		}
		icfg.AdvertisePort = ln.Addr().(*net.TCPAddr).Port
		icfg.Seed = cfg.Seed + uint64(i)
		if cfg.DataDir != "" {
			icfg.DataDir = filepath.Join(cfg.DataDir, "instance-"+strconv.Itoa(i+1))
			if err := os.MkdirAll(icfg.DataDir, 0o700); err != nil {
				ln.Close()
				c.Close()
				return nil, err
			}
		}
		s, err := New(icfg)
		if err != nil {
			ln.Close()
			c.Close()
			return nil, err
		}
		u := "http://" + ln.Addr().String()
		c.Instances = append(c.Instances, s)
		c.InstanceURLs = append(c.InstanceURLs, u)
		c.serve(ln, s.Handler())
	}
	if front == nil {
		c.URL = c.InstanceURLs[0]
	} else {
		c.URL = "http://" + front.Addr().String()
		c.serve(front, balancer(c.InstanceURLs))
	}
	c.TokenURL = c.URL
	if tokenLn != nil {
		// One OAuth server for every instance: they share its key.
		c.TokenURL = "http://" + tokenLn.Addr().String()
		c.serve(tokenLn, c.Instances[0].TokenHandler())
	}
	return c, nil
}

func advertisable(host string) string {
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "127.0.0.1"
	}
	return host
}

func (c *Cluster) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	c.servers = append(c.servers, srv)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.errMu.Lock()
			c.err = err
			c.errMu.Unlock()
		}
	}()
}

// balancer forwards each request to the next instance, round robin.
func balancer(urls []string) http.Handler {
	var next atomic.Uint64
	targets := make([]*url.URL, len(urls))
	for i, u := range urls {
		targets[i], _ = url.Parse(u)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			t := targets[next.Add(1)%uint64(len(targets))]
			r.SetURL(t)
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
	}
	return rp
}

// Close stops the listeners and the instances.
func (c *Cluster) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range c.servers {
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
	}
	c.wg.Wait()
	for _, s := range c.Instances {
		s.Close()
	}
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

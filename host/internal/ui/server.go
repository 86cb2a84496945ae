// Package ui is `shammie ui`: a read-only web dashboard over a run store.
// The server answers JSON under /api/ and the embedded front end (plain JS
// modules and the vendored uPlot build, see assets/vendor/uplot/VERSION)
// everywhere else; nothing is fetched from the network, so it works offline.
//
// Security: it binds to loopback by default, refuses every method but GET
// and HEAD, refuses requests whose Host or Origin header names another site
// (a DNS-rebinding page would otherwise read the store through the user's
// browser), and serves files only by looking them up in the run's records
// (artifacts) or through an os.Root confined to a step's work directory.
package ui

import (
	"embed"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/shammie-ml/shammie/host/internal/runstore"
)

//go:embed assets
var assetsFS embed.FS

// Options configure a Server.
type Options struct {
	// Addr is the address the server listens on (host:port, after the
	// port was chosen). Requests must name it, or a loopback alias of it,
	// in their Host header.
	Addr string
	// AllowHosts are more host[:port] names accepted in Host and Origin,
	// e.g. a machine name when serving on a non-loopback address.
	AllowHosts []string
	// Poll is how often live views look for new events (default 300 ms).
	Poll time.Duration
}

// Server serves the dashboard over one store.
type Server struct {
	store   *runstore.Store
	opts    Options
	allowed map[string]bool
	mux     *http.ServeMux
	metrics metricCache
	// done is closed by Close: live streams end.
	done      chan struct{}
	closeOnce sync.Once
}

// Close ends the live event streams, so that http.Server.Shutdown need not
// wait for them (register it with RegisterOnShutdown).
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

// New returns the dashboard's handler over store.
func New(store *runstore.Store, opts Options) *Server {
	if opts.Poll <= 0 {
		opts.Poll = 300 * time.Millisecond
	}
	s := &Server{store: store, opts: opts, allowed: allowedHosts(opts), mux: http.NewServeMux(), done: make(chan struct{})}
	s.metrics.entries = map[string]*metricEntry{}
	static, _ := fs.Sub(assetsFS, "assets")
	files := http.FileServerFS(static)
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", files))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := fs.ReadFile(static, "index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	})
	s.mux.HandleFunc("GET /api/runs", s.handleRuns)
	s.mux.HandleFunc("GET /api/runs/{run}", s.handleRun)
	s.mux.HandleFunc("GET /api/runs/{run}/logs", s.handleLogs)
	s.mux.HandleFunc("GET /api/runs/{run}/metrics", s.handleMetrics)
	s.mux.HandleFunc("GET /api/runs/{run}/artifact", s.handleArtifact)
	s.mux.HandleFunc("GET /api/runs/{run}/preview", s.handlePreview)
	s.mux.HandleFunc("GET /api/runs/{run}/files/{path...}", s.handleFile)
	s.mux.HandleFunc("GET /api/runs/{run}/live", s.handleLive)
	s.mux.HandleFunc("GET /api/runs/{run}/sweep", s.handleSweep)
	s.mux.HandleFunc("GET /api/diff", s.handleDiff)
	return s
}

// ServeHTTP checks the request's origin, then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the dashboard is read-only", http.StatusMethodNotAllowed)
		return
	}
	if !s.allowed[strings.ToLower(r.Host)] {
		http.Error(w, "refused: unknown Host header (use the address shammie ui printed)", http.StatusForbidden)
		return
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !s.allowed[strings.ToLower(u.Host)] {
			http.Error(w, "refused: cross-origin request", http.StatusForbidden)
			return
		}
	}
	// A page on another site may link to the dashboard (a top-level
	// navigation to the app, which holds no data) but not read from it.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && !(r.URL.Path == "/" && r.Header.Get("Sec-Fetch-Mode") == "navigate") {
		http.Error(w, "refused: cross-site request", http.StatusForbidden)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		// The app itself: same-origin scripts and data only.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	}
	s.mux.ServeHTTP(w, r)
}

// allowedHosts is every Host header that names this server: the listen
// address, its loopback aliases when it listens on loopback or on every
// interface, and the extra names given.
func allowedHosts(opts Options) map[string]bool {
	m := map[string]bool{}
	add := func(h string) { m[strings.ToLower(h)] = true }
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		add(opts.Addr)
		return m
	}
	add(net.JoinHostPort(host, port))
	ip := net.ParseIP(host)
	if host == "localhost" || host == "" || (ip != nil && (ip.IsLoopback() || ip.IsUnspecified())) {
		for _, alias := range []string{"localhost", "127.0.0.1", "::1"} {
			add(net.JoinHostPort(alias, port))
		}
	}
	for _, h := range opts.AllowHosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, port)
		}
		add(h)
	}
	return m
}

// metricCache keeps the points of the metric files read so far, so that a
// chart over a 100K-point metric of a live run reads only the new lines on
// each refresh.
type metricCache struct {
	mu      sync.Mutex
	entries map[string]*metricEntry
}

type metricEntry struct {
	mu     sync.Mutex
	offset int64
	points []runstore.MetricPoint
	used   time.Time
}

// maxCachedMetricFiles bounds the cache: beyond it the least recently used
// file is dropped.
const maxCachedMetricFiles = 64

// points returns every point of a step's metrics so far.
func (c *metricCache) points(run *runstore.LoadedRun, address string) ([]runstore.MetricPoint, error) {
	key := run.Record.ID + "\x00" + address
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		if len(c.entries) >= maxCachedMetricFiles {
			var oldest string
			var t time.Time
			for k, v := range c.entries {
				if oldest == "" || v.used.Before(t) {
					oldest, t = k, v.used
				}
			}
			delete(c.entries, oldest)
		}
		e = &metricEntry{}
		c.entries[key] = e
	}
	e.used = time.Now()
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	pts, next, err := run.MetricsFrom(address, e.offset)
	if err != nil {
		return nil, err
	}
	e.points = append(e.points, pts...)
	e.offset = next
	return e.points[:len(e.points):len(e.points)], nil
}

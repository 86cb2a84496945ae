package runner

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml/pjrt"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// Plugin is a plugin block of the spec resolved to the locked binary.
type Plugin struct {
	// Label of the spec's plugin block (what steps refer to).
	Label   string
	Source  string
	Path    string
	SHA256  string
	Version string
	// Metadata and Schema as the binary reported them.
	Metadata sdk.Metadata
	Schema   sdk.Schema
}

// Conn is one running plugin process. *pluginhost.Client implements it;
// tests of the scheduler use fakes.
type Conn interface {
	Metadata(ctx context.Context) (sdk.Metadata, error)
	Schema(ctx context.Context) (sdk.Schema, error)
	ValidateConfig(ctx context.Context, cfg cty.Value) (sdk.Diagnostics, error)
	Run(ctx context.Context, req pluginhost.RunRequest, onEvent func(pluginhost.Event)) (pluginhost.Status, error)
	StderrTail() string
	Kill()
}

// JobConn is a Conn that runs steps as cluster jobs; the runner records
// the job of each step it ran.
type JobConn interface {
	Conn
	Job() (runstore.JobRef, bool)
}

// Launcher starts a plugin process.
type Launcher interface {
	Launch(ctx context.Context, p *Plugin) (Conn, error)
}

// ProcessLauncher launches real binaries through sdk/pluginhost, checking
// each binary's sha256 against the lock (go-plugin SecureConfig) and
// negotiating mutual TLS.
type ProcessLauncher struct {
	// GracePeriod between asking a cancelled step to stop and killing its
	// plugin; 0: pluginhost.DefaultGracePeriod.
	GracePeriod time.Duration
	// Stderr receives every plugin's stderr; nil: only the tail is kept
	// (for crash reports).
	Stderr io.Writer
	// Dir is the plugins' working directory (the spec's folder, against
	// which relative paths in configs resolve); "": the host's.
	Dir string
	// Spec is the spec's path as given, named in "run `shammie init SPEC`".
	Spec string
}

// Launch implements Launcher.
func (l ProcessLauncher) Launch(ctx context.Context, p *Plugin) (Conn, error) {
	path := p.Path
	if p.SHA256 != "" {
		// Execute exactly the bytes that were hashed.
		priv, err := privateBinary(p.Path, p.SHA256)
		if err != nil {
			return nil, l.forSpec(err)
		}
		path = priv
	}
	c, err := pluginhost.Launch(ctx, pluginhost.LaunchOptions{
		Path: path, SHA256: p.SHA256, AutoMTLS: true,
		GracePeriod: l.GracePeriod, Stderr: l.Stderr, Dir: l.Dir,
		// On a GPU machine: the PJRT plugin and the CUDA libraries a step
		// on xla:cuda needs, which must be set before the process starts.
		Env: pjrt.ChildEnv(),
		// A Go panic's stack runs to ~30 lines; the frames that matter are
		// at its top.
		TailLines: 40,
	})
	if err != nil {
		return nil, l.forSpec(err)
	}
	return c, nil
}

// forSpec makes "run `shammie init`" say for which spec.
func (l ProcessLauncher) forSpec(err error) error {
	if l.Spec == "" || !strings.Contains(err.Error(), "run `shammie init`") {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), "run `shammie init`", "run `shammie init "+l.Spec+"`"))
}

// Pool keeps plugin processes for reuse. A step takes a process of its
// plugin (idle or newly launched), runs on it alone, and gives it back
// only when the step succeeded: a process whose step failed, crashed or
// was stopped is killed, so one bad step cannot poison the next. With
// --parallelism N at most N processes of one plugin exist at a time, and a
// 1000-instance sweep pays the launch and handshake N times, not 1000.
// Reuse can be turned off (Reuse false), e.g. for a plugin that leaks
// state between runs.
type Pool struct {
	Launcher Launcher
	Reuse    bool

	mu     sync.Mutex
	idle   map[string][]Conn // by plugin label
	live   map[Conn]bool
	closed bool
	// Launches counts processes started (for the benchmark and tests).
	launches int
}

// NewPool returns an empty pool.
func NewPool(l Launcher, reuse bool) *Pool {
	return &Pool{Launcher: l, Reuse: reuse, idle: map[string][]Conn{}, live: map[Conn]bool{}}
}

// Get returns an idle process of p or launches one.
func (pl *Pool) Get(ctx context.Context, p *Plugin) (Conn, error) {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil, context.Canceled
	}
	if q := pl.idle[p.Label]; len(q) > 0 {
		c := q[len(q)-1]
		pl.idle[p.Label] = q[:len(q)-1]
		pl.mu.Unlock()
		return c, nil
	}
	pl.launches++
	pl.mu.Unlock()
	c, err := pl.Launcher.Launch(ctx, p)
	if err != nil {
		return nil, err
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		c.Kill()
		return nil, context.Canceled
	}
	pl.live[c] = true
	return c, nil
}

// Put gives back a process that ran a step: kept for reuse when healthy
// (and reuse is on), killed otherwise.
func (pl *Pool) Put(p *Plugin, c Conn, healthy bool) { pl.put(p, c, healthy && pl.Reuse) }

// Release gives back a process that only answered questions (metadata,
// schema, ValidateConfig): kept when healthy even with reuse off, since no
// step has run on it.
func (pl *Pool) Release(p *Plugin, c Conn, healthy bool) { pl.put(p, c, healthy) }

func (pl *Pool) put(p *Plugin, c Conn, keep bool) {
	pl.mu.Lock()
	if keep && !pl.closed {
		pl.idle[p.Label] = append(pl.idle[p.Label], c)
		pl.mu.Unlock()
		return
	}
	delete(pl.live, c)
	pl.mu.Unlock()
	c.Kill()
}

// Launches reports how many processes the pool started.
func (pl *Pool) Launches() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.launches
}

// Close kills every process of the pool, idle or busy, in parallel (each
// Kill waits up to two seconds for a graceful exit).
func (pl *Pool) Close() {
	pl.mu.Lock()
	pl.closed = true
	conns := make([]Conn, 0, len(pl.live))
	for c := range pl.live {
		conns = append(conns, c)
	}
	pl.live = map[Conn]bool{}
	pl.idle = map[string][]Conn{}
	pl.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() { defer wg.Done(); c.Kill() }()
	}
	wg.Wait()
	if _, real := pl.Launcher.(ProcessLauncher); real {
		removePrivateBinaries()
	}
}

// KillNow kills every process of the pool and what it spawned at once,
// without asking (the host's second signal). Processes that cannot be
// killed at once (fakes) get Kill.
func (pl *Pool) KillNow() {
	pl.mu.Lock()
	pl.closed = true
	conns := make([]Conn, 0, len(pl.live))
	for c := range pl.live {
		conns = append(conns, c)
	}
	pl.mu.Unlock()
	for _, c := range conns {
		if k, ok := c.(interface{ KillNow() }); ok {
			k.KillNow()
		} else {
			go c.Kill()
		}
	}
}

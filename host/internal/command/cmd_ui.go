package command

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/host/internal/ui"
)

func init() {
	register(&command{
		name:    "ui",
		summary: "Serve a local, read-only dashboard over the run store (runs, DAGs, metrics, sweeps, diffs).",
		usage:   "[--store DIR] [--addr 127.0.0.1:PORT] [--allow-host NAME]",
		detail: `Open the printed address in a browser. The dashboard lists the runs, shows a
run's step DAG (live while it runs), its outputs, config, logs and artifacts
(images inline, CSV/JSON/JSONL as tables, safetensors as a tensor list),
charts metrics (zoom by dragging, double-click to reset, log scale,
smoothing, several runs or sweep instances overlaid), plots a sweep's
outputs against its swept variables, and diffs two runs.

It only reads the store. It listens on loopback unless --addr says
otherwise, and refuses requests whose Host or Origin header names another
site; when serving on another interface, name the host the browser will use
with --allow-host. Everything it serves is built into the binary: it works
offline. Sensitive variables are redacted as in 'shammie runs show'.`,
		example: "  shammie ui\n  shammie ui --store /data/.shammie --addr 127.0.0.1:9000",
		run:     runUI,
	})
}

func runUI(ctx context.Context, env *Env, args []string) error {
	c := lookup("ui")
	fs := newFlags(env, c)
	storeDir := fs.String("store", runstore.DefaultDir, "run store directory")
	addr := fs.String("addr", "127.0.0.1:7878", "address to listen on (port 0: any free port)")
	var allow stringList
	fs.Var(&allow, "allow-host", "another host name accepted in Host/Origin headers (repeatable)")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	dir := *storeDir
	if !filepath.IsAbs(dir) && env.Cwd != "" {
		dir = filepath.Join(env.Cwd, dir)
	}
	// Read-only: a missing store is an error, not a new empty one.
	if fi, err := os.Stat(filepath.Join(dir, "runs")); err != nil || !fi.IsDir() {
		return &usageError{fmt.Sprintf("no run store at %s (run a spec first, or pass --store DIR)", dir)}
	}
	store, err := runstore.Open(dir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return usagef("cannot listen on %s: %v", *addr, err)
	}
	dash := ui.New(store, ui.Options{Addr: ln.Addr().String(), AllowHosts: allow})
	srv := &http.Server{Handler: dash, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(dash.Close)
	fmt.Fprintf(env.Stdout, "Serving the run store %s at http://%s/ (Ctrl-C to stop)\n", store.Root(), ln.Addr())
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		fmt.Fprintf(env.Stderr, "warning: listening on %s, not loopback: anyone who can reach it can read the store\n", ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	case <-env.Signals:
	}
	// Shutdown ends the live streams (dash.Close) and waits for the other
	// requests a moment; whatever is left is closed.
	shut, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return srv.Close()
}

// Command shammie runs experiment specs whose steps are plugin binaries.
// See `shammie --help`; the implementation is in internal/command.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"golang.org/x/term"

	"github.com/shammie-ml/shammie/host/internal/command"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	cwd, _ := os.Getwd()
	env := &command.Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ(), Cwd: cwd,
		IsTTY:   term.IsTerminal(int(os.Stdout.Fd())),
		Signals: sigs,
		Exit:    os.Exit,
	}
	// SHAMMIE_CPUPROFILE=file profiles the host (for developers).
	if path := os.Getenv("SHAMMIE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			code := command.Main(context.Background(), env, os.Args[1:])
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(command.Main(context.Background(), env, os.Args[1:]))
}

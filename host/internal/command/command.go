// Package command implements the shammie CLI's subcommands on top of the
// runner, the run store and the report package. Main is the whole CLI;
// cmd/shammie only calls it.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Version of the shammie host: host/VERSION, stamped by `make build`
// (-ldflags "-X .../host/internal/command.Version=$(cat host/VERSION)");
// "0.0.0-dev" in an unstamped build.
var Version = "0.0.0-dev"

// Env is the process environment a command runs in.
type Env struct {
	Stdout, Stderr io.Writer
	Environ        []string
	Cwd            string
	// IsTTY reports whether Stdout is a terminal (progress bars).
	IsTTY bool
	// Signals delivers SIGINT/SIGTERM; nil: none. The first one cancels the
	// command's context (every command stops: plugin calls return, run
	// stops its steps gracefully); the second kills the plugins at once and
	// calls Exit.
	Signals <-chan os.Signal
	// Exit ends the process (os.Exit); nil: a second signal only kills the
	// plugins.
	Exit func(code int)

	mu      sync.Mutex
	killers []func() // what a second signal kills (plugin pools)
}

// secondSignalGrace is how long the host may still take to exit after a
// second signal.
const secondSignalGrace = time.Second

// onKill registers what a second signal must kill at once.
func (e *Env) onKill(f func()) {
	e.mu.Lock()
	e.killers = append(e.killers, f)
	e.mu.Unlock()
}

// handleSignals cancels ctx on the first signal and kills on the second;
// stop ends it.
func (e *Env) handleSignals(c *command, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	if e.Signals == nil {
		return func() {}
	}
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case sig := <-e.Signals:
				n++
				if n == 1 {
					msg := c.interrupt
					if msg == "" {
						msg = "stopping (signal again to kill at once)"
					}
					fmt.Fprintf(e.Stderr, "\nshammie: %s: %s\n", signalName(sig), msg)
					cancel(fmt.Errorf("interrupted by %v", signalName(sig)))
					continue
				}
				fmt.Fprintf(e.Stderr, "\nshammie: %s again: killing the plugins\n", signalName(sig))
				e.mu.Lock()
				killers := append([]func(){}, e.killers...)
				e.mu.Unlock()
				for _, k := range killers {
					k()
				}
				// The command gets a moment to record what was killed;
				// whatever holds it longer (copying a huge artifact into
				// the store) does not hold the user.
				if e.Exit != nil {
					time.AfterFunc(secondSignalGrace, func() { e.Exit(exitInterrupted) })
				}
			}
		}
	}()
	return func() { close(done) }
}

func (e *Env) getenv(k string) string {
	for i := len(e.Environ) - 1; i >= 0; i-- {
		if name, v, ok := strings.Cut(e.Environ[i], "="); ok && name == k {
			return v
		}
	}
	return ""
}

type command struct {
	name    string
	summary string
	usage   string // arguments after the command name
	example string
	detail  string
	// interrupt is what the first signal does, said to the user.
	interrupt string
	run       func(ctx context.Context, env *Env, args []string) error
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

const exitCodes = `Exit codes:
  0    success
  1    a step failed (run), a check failed (fmt -check), or a run/record was not found
  2    usage error, or an invalid spec, variable or step config (diagnostics say where)
  3    plugin or lock file problem: missing, tampered (sha256 mismatch), wrong version,
       crashed before a step started; ` + "`shammie init`" + ` usually fixes it
  130  interrupted (SIGINT/SIGTERM): running plugins were stopped, the run recorded as cancelled`

func mainHelp(w io.Writer) {
	fmt.Fprintf(w, `shammie runs experiments described in HCL specs; each step runs a research
method in a separately versioned plugin binary (shammie-plugin-<name>).

Usage: shammie <command> [flags] [args]

Commands:
`)
	sorted := append([]*command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Run 'shammie <command> --help' for a command's flags and an example.
Typical session:
  shammie init specs/default.hcl      # pin the plugin binaries in specs/shammie.lock.hcl
  shammie validate specs/default.hcl
  shammie run specs/default.hcl

%s
`, exitCodes)
}

// Main runs the CLI with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		mainHelp(env.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				commandHelp(env.Stdout, c, nil)
				return 0
			}
		}
		mainHelp(env.Stdout)
		return 0
	case "-v", "--version":
		args = []string{"version"}
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(env.Stderr, "shammie: unknown command %q\n\n", args[0])
		mainHelp(env.Stderr)
		return exitUsage
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := env.handleSignals(c, cancel)
	err := c.run(ctx, env, args[1:])
	stop()
	if err == nil {
		return 0
	}
	if ctx.Err() != nil && !errors.As(err, new(*silentError)) {
		fmt.Fprintf(env.Stderr, "shammie %s: %v\n", c.name, context.Cause(ctx))
		return exitInterrupted
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "shammie %s: %s\nRun 'shammie %s --help' for usage.\n", c.name, ue.msg, c.name)
		return exitUsage
	}
	var silent *silentError
	if errors.As(err, &silent) {
		return silent.code
	}
	fmt.Fprintf(env.Stderr, "shammie %s: %v\n", c.name, err)
	return exitCode(err)
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// silentError is an exit code whose message was already printed.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func commandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: shammie %s %s\n\n%s\n", c.name, c.usage, c.summary)
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.detail))
	}
	if fs != nil {
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.SetOutput(w)
			fs.PrintDefaults()
		}
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", c.example)
	}
	fmt.Fprintf(w, "\n%s\n", exitCodes)
}

// newFlags returns a flag set whose --help prints the command's help.
func newFlags(env *Env, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("shammie "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args, allowing flags after positional arguments
// (shammie run spec.hcl --keep-going).
func parse(env *Env, c *command, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				commandHelp(env.Stdout, c, fs)
				return nil, flag.ErrHelp
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

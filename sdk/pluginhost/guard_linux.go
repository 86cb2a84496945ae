package pluginhost

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
)

// The guard kills the plugins' process groups when the host dies, however
// it dies. A plugin gets SIGKILL from the kernel when the host goes (its
// parent-death signal), but what the plugin spawned does not: a plugin
// that shells out, in any language, with or without the SDK, would leave
// its children running after a SIGKILL of the host. So the host starts one
// guard process (its own executable again, see init) and tells it over a
// pipe which process groups are live; the pipe's write end is the host's
// alone, so the kernel closes it when the host dies, and on that EOF the
// guard kills every group still registered and exits. The guard ignores
// the terminal's signals and lives in a group of its own, so that a Ctrl-C
// meant for the host leaves it to do its job.

// guardEnv, set to guardMagic, makes a process the guard (see init).
const (
	guardEnv   = "SHAMMIE_PLUGINHOST_GUARD"
	guardMagic = "1f0c6a4e"
)

func init() {
	if os.Getenv(guardEnv) == guardMagic {
		os.Exit(runGuard(os.Stdin))
	}
}

// runGuard reads "+PGID" and "-PGID" lines until EOF, then kills the
// groups still registered.
func runGuard(in *os.File) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	live := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		switch line[0] {
		case '+':
			live[pgid] = true
		case '-':
			delete(live, pgid)
		}
	}
	for pgid := range live {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	return 0
}

var guard struct {
	once sync.Once
	mu   sync.Mutex
	w    *os.File // nil: no guard (it could not start)
	err  error
}

// startGuard starts the guard process once per host process.
func startGuard() {
	guard.once.Do(func() {
		// /proc/self/exe: the running binary even if its file was
		// replaced or removed since (a rebuild during a run).
		r, w, err := os.Pipe() // close-on-exec: no plugin inherits w
		if err != nil {
			guard.err = err
			return
		}
		cmd := exec.Command("/proc/self/exe")
		cmd.Env = append(os.Environ(), guardEnv+"="+guardMagic)
		cmd.Stdin = r
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			r.Close()
			w.Close()
			guard.err = err
			return
		}
		r.Close()
		// The guard is never waited for while the host lives; it exits
		// when the host does.
		go func() { _ = cmd.Wait() }()
		guard.w = w
	})
}

// guardGroup registers a plugin's process group with the guard.
func guardGroup(pgid int) { tellGuard('+', pgid) }

// releaseGroup unregisters a group that was killed (or is empty), so that
// the guard never kills a group id the system reused.
func releaseGroup(pgid int) { tellGuard('-', pgid) }

func tellGuard(op byte, pgid int) {
	if pgid <= 1 {
		return
	}
	startGuard()
	guard.mu.Lock()
	defer guard.mu.Unlock()
	if guard.w == nil {
		return
	}
	if _, err := fmt.Fprintf(guard.w, "%c%d\n", op, pgid); err != nil {
		guard.w.Close()
		guard.w = nil
	}
}

package sdk

import (
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/shammie-ml/shammie/sdk/internal/handshake"
)

// savedStdout is the original fd 1, kept for go-plugin's handshake line.
var savedStdout *os.File

// Package sdk is initialised before the plugin's main package (main imports
// it), so redirecting fd 1 here also catches prints in the plugin's own
// init functions, which would otherwise precede and corrupt the handshake
// line the host reads from stdout. Processes not started by a host (the host
// itself, tests, a user running the binary by hand) are left alone.
func init() {
	if !startedByHost() {
		return
	}
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return // no usable stdout: nothing to protect
	}
	if err := unix.Dup3(2, 1, 0); err != nil {
		unix.Close(fd)
		return
	}
	savedStdout = os.NewFile(uintptr(fd), "/dev/stdout (handshake)")
}

func handshakeStdout() *os.File { return savedStdout }

// watchParent makes the plugin die with its host. PR_SET_PDEATHSIG has the
// kernel send SIGTERM when the parent goes away (Go's default SIGTERM action
// exits; go-plugin only catches SIGINT). It is tied to the parent *thread*
// and misses a parent that died before the call, so a poll of getppid backs
// it up, comparing against the pid the host announced.
func watchParent(log hclog.Logger) {
	if !startedByHost() {
		return
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		log.Warn("cannot set the parent-death signal; relying on polling", "error", err)
	}
	want := os.Getppid()
	if s := os.Getenv(handshake.HostPIDEnv); s != "" {
		if pid, err := strconv.Atoi(s); err == nil && pid > 0 {
			want = pid
		}
	}
	go func() {
		for {
			if ppid := os.Getppid(); ppid != want {
				log.Error("host process went away; exiting", "host_pid", want, "parent_pid", ppid)
				os.Exit(1)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
}

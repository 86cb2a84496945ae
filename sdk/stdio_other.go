//go:build !linux

package sdk

import (
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// On other systems stdout is not redirected: go-plugin's own replacement of
// os.Stdout after the handshake is the only protection.
func handshakeStdout() *os.File { return nil }

// watchParent polls getppid: there is no parent-death signal outside Linux.
func watchParent(log hclog.Logger) {
	if !startedByHost() {
		return
	}
	want := os.Getppid()
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

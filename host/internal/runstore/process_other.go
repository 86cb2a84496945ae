//go:build !linux

package runstore

import "os"

func currentProcess() ProcessInfo {
	host, _ := os.Hostname()
	return ProcessInfo{PID: os.Getpid(), Hostname: host}
}

// alive reports whether p still runs. Without /proc the pid cannot be told
// apart from a reused one, so a recorded process is assumed alive: a run is
// then shown as "running" rather than wrongly as "interrupted".
func (p ProcessInfo) alive() bool { return p.PID > 0 }

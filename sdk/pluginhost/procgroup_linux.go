package pluginhost

import (
	"os/exec"
	"syscall"
)

// isolate puts the plugin in a process group of its own, so that the host
// can end it with everything it spawned, and has the kernel kill it when
// the host dies (a plugin that does not use the SDK never notices); what
// it spawned is killed then by the guard (guard_linux.go).
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the plugin's process group: the plugin and every
// process it started that did not leave the group. The group is then
// empty, and the guard (guard_linux.go) forgets it.
func killGroup(pid int) {
	if pid > 1 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		releaseGroup(pid)
	}
}

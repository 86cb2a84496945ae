package runstore

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// currentProcess describes this process well enough to tell, later and from
// another process, whether it is still alive: pid alone is reused, so the
// start time (field 22 of /proc/pid/stat) and the boot id are kept too.
func currentProcess() ProcessInfo {
	host, _ := os.Hostname()
	pid := os.Getpid()
	start, _ := procStart(pid)
	return ProcessInfo{PID: pid, Start: start, BootID: bootID(), Hostname: host}
}

// alive reports whether the process p still runs. A process recorded on
// another machine is assumed alive: we cannot know.
func (p ProcessInfo) alive() bool {
	if p.PID <= 0 {
		return false
	}
	if host, _ := os.Hostname(); p.Hostname != "" && host != p.Hostname {
		return true
	}
	if p.BootID != "" && p.BootID != bootID() {
		return false
	}
	if err := syscall.Kill(p.PID, 0); err != nil && err != syscall.EPERM {
		return false
	}
	if p.Start != 0 {
		start, err := procStart(p.PID)
		if err != nil || start != p.Start {
			return false
		}
	}
	return true
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces and parentheses; the
	// fields after the last ')' are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, os.ErrInvalid
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return 0, os.ErrInvalid
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

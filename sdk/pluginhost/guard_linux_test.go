package pluginhost

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestGuardKillsRegisteredGroups: the guard (this test binary re-entered
// through init) kills, when its pipe closes, the process groups still
// registered, and leaves a released one alone.
func TestGuardKillsRegisteredGroups(t *testing.T) {
	start := func() *exec.Cmd {
		c := exec.Command("sleep", "300")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill() })
		return c
	}
	registered, released := start(), start()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	g := exec.Command("/proc/self/exe")
	g.Env = append(os.Environ(), guardEnv+"="+guardMagic)
	g.Stdin = r
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	fmt.Fprintf(w, "+%d\n+%d\n-%d\n", registered.Process.Pid, released.Process.Pid, released.Process.Pid)
	w.Close() // as the kernel does when the host dies
	if err := g.Wait(); err != nil {
		t.Fatalf("guard: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- registered.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("registered group ended with %v, want SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the registered group is still running after the guard's pipe closed")
	}
	if err := released.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the released group was killed too: %v", err)
	}
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestSlurm runs testdata/slurm against a real single-node Slurm cluster,
// started (and installed, as root) by tools/slurm/cluster.sh and stopped
// afterwards if this test started it. It skips only where Slurm cannot be
// installed: not Linux, or not root and slurm-wlm missing.
func TestSlurm(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the Slurm end-to-end tests start a cluster")
	}
	if runtime.GOOS != "linux" {
		t.Skip("Slurm tests need Linux")
	}
	script, err := filepath.Abs("../../../tools/slurm/cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, haveSlurm := exec.LookPath("slurmctld")
	if os.Getuid() != 0 {
		if haveSlurm != nil {
			t.Skip("slurm-wlm is not installed and installing it needs root (tools/slurm/cluster.sh install)")
		}
		t.Skip("starting the test Slurm cluster needs root (tools/slurm/cluster.sh start)")
	}
	running := exec.Command("squeue", "-h").Run() == nil
	start := exec.Command(script, "start")
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("starting the test Slurm cluster: %v\n%s", err, out)
	}
	if !running {
		t.Cleanup(func() { _ = exec.Command(script, "stop").Run() })
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/slurm",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("SHAMMIE_PLUGIN_PATH", binDir)
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"rc":          cmdRC,
			"waitfile":    cmdWaitFile,
			"slurmjob":    cmdSlurmJob,
			"noslurmjobs": cmdNoSlurmJobs,
			"killparent":  cmdKillParent,
		},
	})
}

// TestSlurmFake runs testdata/slurmfake: the cases a one-node cluster
// cannot show (partition errors, pending reasons), with fake sbatch/squeue
// scripts from each txtar on PATH. It needs no Slurm.
func TestSlurmFake(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/slurmfake",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Join(env.WorkDir, "fake")+string(os.PathListSeparator)+binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("SHAMMIE_PLUGIN_PATH", binDir)
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"rc":     cmdRC,
			"chmodx": cmdChmodX,
		},
	})
}

// squeueByName lists "jobid state" of the jobs named shammie:<step>.
func squeueByName(ts *testscript.TestScript, step string) []string {
	out, err := exec.Command("squeue", "-h", "--array", "-n", "shammie:"+step, "-o", "%i %T").Output()
	ts.Check(err)
	return strings.Fields(strings.TrimSpace(string(out)))
}

// slurmjob VAR STEP: wait until the job of step STEP runs and set VAR to
// its id.
func cmdSlurmJob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: slurmjob VAR STEP")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		f := squeueByName(ts, args[1])
		if len(f) >= 2 && f[1] == "RUNNING" {
			ts.Setenv(args[0], f[0])
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no running job for %s within 60s (squeue: %v)", args[1], f)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// noslurmjobs STEP: no job of step STEP is left in the queue.
func cmdNoSlurmJobs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: noslurmjobs STEP")
	}
	if f := squeueByName(ts, args[0]); len(f) > 0 {
		ts.Fatalf("jobs of %s are still queued: %v", args[0], f)
	}
}

// killparent [-STOP] PIDFILE: SIGKILL (or SIGSTOP) the parent of the
// process whose pid is in PIDFILE (the worker of a plugin).
func cmdKillParent(ts *testscript.TestScript, neg bool, args []string) {
	sig := syscall.SIGKILL
	if len(args) == 2 && args[0] == "-STOP" {
		sig, args = syscall.SIGSTOP, args[1:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: killparent [-STOP] PIDFILE")
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", readPID(ts, args[0])))
	ts.Check(err)
	// Fields after the command (in parentheses): state, ppid, ...
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	ts.Check(err)
	ts.Check(syscall.Kill(ppid, sig))
}

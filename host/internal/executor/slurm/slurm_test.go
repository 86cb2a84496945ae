package slurm

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

func TestParseQueue(t *testing.T) {
	got := parseQueue("12_[3-5,7%2]|PENDING|JobArrayTaskLimit|\n12_1|RUNNING|None|node1\n13|PENDING|(null)|\n\nbad line\n")
	want := map[string]JobState{
		"12_3": {ID: "12_3", State: "PENDING", Reason: "JobArrayTaskLimit"},
		"12_4": {ID: "12_4", State: "PENDING", Reason: "JobArrayTaskLimit"},
		"12_5": {ID: "12_5", State: "PENDING", Reason: "JobArrayTaskLimit"},
		"12_7": {ID: "12_7", State: "PENDING", Reason: "JobArrayTaskLimit"},
		"12_1": {ID: "12_1", State: "RUNNING", Node: "node1"},
		"13":   {ID: "13", State: "PENDING"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parseQueue (-want +got):\n%s", d)
	}
}

func TestParseShow(t *testing.T) {
	f := parseShow("JobId=15 ArrayJobId=14 ArrayTaskId=1 JobName=shammie:step.x JobState=CANCELLED Reason=None Restarts=2 ExitCode=0:15 NodeList=vm Command=/bin/sh x\n")
	for k, v := range map[string]string{"JobState": "CANCELLED", "Reason": "None", "Restarts": "2", "ExitCode": "0:15", "NodeList": "vm"} {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
}

func TestSubmissionArgs(t *testing.T) {
	s := Submission{Name: "shammie:step.s", Size: 20, Throttle: 4, Output: "/o/%a.out", Requeue: true,
		Resources: configs.Resources{CPUs: 2, Memory: "4G", GPUs: "1", Time: "30", Partition: "p", Account: "a"}, Extra: []string{"--qos=x"}}
	want := []string{"--parsable", "--job-name=shammie:step.s", "--array=0-19%4", "--output=/o/%a.out", "--requeue",
		"--cpus-per-task=2", "--mem=4G", "--gpus=1", "--time=30", "--partition=p", "--account=a", "--qos=x"}
	if d := cmp.Diff(want, s.Args()); d != "" {
		t.Errorf("Args (-want +got):\n%s", d)
	}
}

func TestNaturalOrder(t *testing.T) {
	in := []string{`step.s[10]`, `step.s[2]`, `step.s[1]`, `step.s["b"]`, `step.s["a"]`, `step.s[02]`}
	sort.Slice(in, func(i, j int) bool { return naturalLess(in[i], in[j]) })
	want := []string{`step.s["a"]`, `step.s["b"]`, `step.s[1]`, `step.s[2]`, `step.s[02]`, `step.s[10]`}
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
}

func TestWireRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	events := []pluginhost.Event{
		pluginhost.Progress{Time: now, Stage: "train", Done: 3, Total: 10, Unit: "steps"},
		pluginhost.Metric{Time: now, Name: "loss", Step: 7, Value: 0.25},
		pluginhost.Log{Time: now, Level: pluginhost.LogWarn, Message: "hm"},
		pluginhost.Artifact{Time: now, Name: "model", Path: "m.safetensors", SHA256: strings.Repeat("a", 64), Size: 9, MediaType: "x"},
		pluginhost.Output{Time: now, Name: "scores", Value: cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.ListVal([]cty.Value{cty.StringVal("x")})})},
	}
	for _, ev := range events {
		w, err := EncodeEvent(2, ev)
		if err != nil {
			t.Fatal(err)
		}
		back, err := w.Event()
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := ev.(pluginhost.Output); ok {
			if !o.Value.RawEquals(back.(pluginhost.Output).Value) {
				t.Errorf("output %#v came back as %#v", o.Value, back)
			}
			continue
		}
		if d := cmp.Diff(ev, back); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
	diags := sdk.Diagnostics{{Severity: sdk.SeverityError, Summary: "bad", Detail: "d",
		Path: cty.Path{cty.GetAttrStep{Name: "layers"}, cty.IndexStep{Key: cty.NumberIntVal(2)}, cty.IndexStep{Key: cty.StringVal("k")}}}}
	got := Result{State: "failed", Diagnostics: EncodeDiagnostics(diags)}.Status()
	if got.State != pluginhost.Failed || len(got.Diagnostics) != 1 || !got.Diagnostics[0].Path.Equals(diags[0].Path) {
		t.Errorf("diagnostics came back as %#v", got.Diagnostics)
	}
}

func TestRequestConfig(t *testing.T) {
	cfg := cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(3), "token": cty.StringVal("s").Mark("sensitive")})
	var r Request
	if err := r.EncodeConfig(cfg); err != nil {
		t.Fatal(err)
	}
	back, err := r.DecodeConfig()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := cfg.UnmarkDeep()
	if !want.RawEquals(back) {
		t.Errorf("config came back as %#v", back)
	}
}

func TestEnvFromSlurm(t *testing.T) {
	env := map[string]string{"SLURM_JOB_ID": "57", "SLURM_ARRAY_JOB_ID": "40", "SLURM_ARRAY_TASK_ID": "17", "SLURM_RESTART_COUNT": "2", "SLURMD_NODENAME": "n3"}
	got := EnvFromSlurm(func(k string) string { return env[k] })
	if d := cmp.Diff(WorkerEnv{JobID: "40_17", Attempt: 2, Node: "n3"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestHopeless(t *testing.T) {
	if !Hopeless("PartitionTimeLimit") || Hopeless("Resources") || Hopeless("") {
		t.Error("Hopeless misclassifies")
	}
}

// A job squeue does not list but scontrol reports RUNNING is alive; one
// scontrol no longer knows (and sacct calls COMPLETED) is not.
func TestStillAlive(t *testing.T) {
	for _, tc := range []struct {
		name, show, acct string
		alive            bool
	}{
		{"running by scontrol", "JobId=7 ArrayTaskId=3 JobState=RUNNING Reason=None NodeList=n1", "", true},
		{"pending by scontrol", "JobId=7 JobState=PENDING Reason=JobArrayTaskLimit", "", true},
		{"completed by scontrol", "JobId=7 JobState=COMPLETED Reason=None ExitCode=0:0", "", false},
		{"gone, completed by sacct", "", "7_3|COMPLETED|0:0|None|n1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			show := "#!/bin/sh\necho 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\n"
			if tc.show != "" {
				show = "#!/bin/sh\necho '" + tc.show + "'\n"
			}
			writeTool(t, dir, "scontrol", show)
			writeTool(t, dir, "sacct", "#!/bin/sh\necho '"+tc.acct+"'\n")
			t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			f := &follower{j: &Journal{JobID: "7_3"}}
			st, alive := f.stillAlive(&Client{Timeout: 10 * time.Second})
			if alive != tc.alive {
				t.Fatalf("stillAlive = %v (state %q), want %v", alive, st.State, tc.alive)
			}
		})
	}
}

func writeTool(t *testing.T, dir, name, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shammie-ml/shammie/host/internal/configs"
)

// SbatchArgs turns resource requests into sbatch options.
func SbatchArgs(r configs.Resources) []string {
	var args []string
	if r.CPUs > 0 {
		args = append(args, "--cpus-per-task="+strconv.Itoa(r.CPUs))
	}
	for _, o := range []struct{ flag, v string }{
		{"--mem", r.Memory}, {"--gpus", r.GPUs}, {"--time", r.Time}, {"--partition", r.Partition}, {"--account", r.Account},
	} {
		if o.v != "" {
			args = append(args, o.flag+"="+o.v)
		}
	}
	return args
}

// Client runs Slurm's command-line tools. Every call has a timeout: a
// slurmctld that does not answer must not hang the host.
type Client struct {
	// Env is added to the tools' environment (e.g. SLURM_CONF=...).
	Env []string
	// Timeout of one call; 0: 60 s.
	Timeout time.Duration
}

// JobState is what Slurm says about one job (or array task).
type JobState struct {
	ID       string // 123 or 123_4
	State    string // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, REQUEUED…
	Reason   string // pending reason, or why it ended ("None" dropped)
	ExitCode string // "0:0" (code:signal), from scontrol/sacct
	Restarts int
	Node     string
}

// Done reports whether the state is final.
func (s JobState) Done() bool {
	switch s.State {
	case "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD", "":
		return false
	}
	return true
}

func (c *Client) run(ctx context.Context, stdin []byte, name string, args ...string) (string, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(cmd.Environ(), c.Env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("%s not found on PATH: is this a Slurm login node? (%v)", name, err)
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s %s: no answer within %s", name, strings.Join(args, " "), timeout)
		}
		if strings.HasPrefix(msg, name+": ") {
			return "", errors.New(msg)
		}
		if msg != "" {
			return "", fmt.Errorf("%s: %s", name, msg)
		}
		return "", fmt.Errorf("%s: %v", name, err)
	}
	return out.String(), nil
}

// Submission is one sbatch call: a job array of Size tasks.
type Submission struct {
	Name      string
	Script    string // the batch script, given on stdin
	Size      int    // array tasks 0..Size-1
	Throttle  int    // at most this many tasks at once (%N); 0: no limit
	Resources configs.Resources
	Output    string // sbatch -o pattern
	Error     string // sbatch -e pattern
	Chdir     string
	Requeue   bool
	Extra     []string // more sbatch arguments, verbatim
}

// Args returns the sbatch command line of s (without the script).
func (s Submission) Args() []string {
	args := []string{"--parsable", "--job-name=" + s.Name}
	arr := fmt.Sprintf("--array=0-%d", max(s.Size, 1)-1)
	if s.Throttle > 0 {
		arr += "%" + strconv.Itoa(s.Throttle)
	}
	args = append(args, arr)
	if s.Output != "" {
		args = append(args, "--output="+s.Output)
	}
	if s.Error != "" {
		args = append(args, "--error="+s.Error)
	}
	if s.Chdir != "" {
		args = append(args, "--chdir="+s.Chdir)
	}
	if s.Requeue {
		args = append(args, "--requeue")
	} else {
		args = append(args, "--no-requeue")
	}
	args = append(args, SbatchArgs(s.Resources)...)
	return append(args, s.Extra...)
}

// Submit runs sbatch and returns the job id (of the array).
func (c *Client) Submit(ctx context.Context, s Submission) (string, error) {
	out, err := c.run(ctx, []byte(s.Script), "sbatch", s.Args()...)
	if err != nil {
		return "", err
	}
	// --parsable prints "jobid" or "jobid;cluster".
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch printed %q, not a job id", strings.TrimSpace(out))
	}
	return id, nil
}

// Queue returns what squeue knows of the given jobs (array ids expand to
// their tasks, as "123_4"; a pending array's not yet split tasks as "123_[5-9]"
// are expanded too). Jobs squeue no longer lists are absent.
func (c *Client) Queue(ctx context.Context, jobIDs []string) (map[string]JobState, error) {
	out := map[string]JobState{}
	if len(jobIDs) == 0 {
		return out, nil
	}
	ids := append([]string(nil), jobIDs...)
	sort.Strings(ids)
	text, err := c.run(ctx, nil, "squeue", "-h", "--array", "-j", strings.Join(ids, ","), "-o", "%i|%T|%r|%N")
	if err != nil {
		// squeue refuses a list in which no job exists any more.
		if strings.Contains(err.Error(), "Invalid job id") {
			return out, nil
		}
		return nil, err
	}
	return parseQueue(text), nil
}

func parseQueue(text string) map[string]JobState {
	out := map[string]JobState{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) < 3 || f[0] == "" {
			continue
		}
		st := JobState{ID: f[0], State: f[1], Reason: cleanReason(f[2])}
		if len(f) > 3 {
			st.Node = f[3]
		}
		for _, id := range expandArrayID(f[0]) {
			st.ID = id
			out[id] = st
		}
	}
	return out
}

// expandArrayID turns "12_[3-5,7%2]" into 12_3 12_4 12_5 12_7.
func expandArrayID(id string) []string {
	base, rest, ok := strings.Cut(id, "_[")
	if !ok {
		return []string{id}
	}
	rest = strings.TrimSuffix(rest, "]")
	rest, _, _ = strings.Cut(rest, "%")
	var out []string
	for _, part := range strings.Split(rest, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a || b-a > 1_000_000 {
			continue
		}
		for i := a; i <= b; i++ {
			out = append(out, base+"_"+strconv.Itoa(i))
		}
	}
	return out
}

func cleanReason(r string) string {
	r = strings.TrimSpace(r)
	if r == "None" || r == "(null)" {
		return ""
	}
	return r
}

// Show asks scontrol about one job or array task; it knows jobs until
// MinJobAge after they end. found is false when it does not know the id.
func (c *Client) Show(ctx context.Context, id string) (st JobState, found bool, err error) {
	text, err := c.run(ctx, nil, "scontrol", "show", "job", "-o", id)
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return JobState{}, false, nil
		}
		return JobState{}, false, err
	}
	f := parseShow(text)
	st = JobState{ID: id, State: f["JobState"], Reason: cleanReason(f["Reason"]), ExitCode: f["ExitCode"], Node: f["NodeList"]}
	st.Restarts, _ = strconv.Atoi(f["Restarts"])
	return st, st.State != "", nil
}

// parseShow splits `scontrol show job -o` output (Key=Value pairs, values
// without spaces except the last ones, which we do not read) into a map.
func parseShow(text string) map[string]string {
	out := map[string]string{}
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, dup := out[k]; !dup {
				out[k] = v
			}
		}
	}
	return out
}

// Acct asks sacct about a job that scontrol has forgotten. Without an
// accounting database sacct fails; found is then false.
func (c *Client) Acct(ctx context.Context, id string) (st JobState, found bool, err error) {
	text, err := c.run(ctx, nil, "sacct", "-n", "-P", "-X", "-j", id, "-o", "JobID,State,ExitCode,Reason,NodeList")
	if err != nil {
		return JobState{}, false, nil
	}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) < 3 || f[0] != id {
			continue
		}
		st = JobState{ID: id, State: strings.Fields(f[1] + " ")[0], ExitCode: f[2]}
		if len(f) > 3 {
			st.Reason = cleanReason(f[3])
		}
		if len(f) > 4 {
			st.Node = f[4]
		}
		return st, true, nil
	}
	return JobState{}, false, nil
}

// State returns the final (or current) state of one job: scontrol first,
// then sacct. found is false when neither knows it.
func (c *Client) State(ctx context.Context, id string) (JobState, bool, error) {
	st, found, err := c.Show(ctx, id)
	if err != nil || found {
		return st, found, err
	}
	return c.Acct(ctx, id)
}

// Cancel runs scancel on the given jobs (an array id cancels every task).
func (c *Client) Cancel(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.run(ctx, nil, "scancel", ids...)
	return err
}

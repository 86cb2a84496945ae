package slurm

import (
	"strings"
	"testing"
)

// FuzzSlurmOutput feeds arbitrary text to the readers of squeue and
// scontrol output: they must not panic, and every task parseQueue reports
// is filed under its own id.
func FuzzSlurmOutput(f *testing.F) {
	for _, s := range []string{
		"12_[3-5,7%2]|PENDING|JobArrayTaskLimit|\n12_1|RUNNING|None|node1\n",
		"13|PENDING|(null)|\n",
		"12_[0-999999999]|PENDING|x|",
		"JobId=15 ArrayJobId=14 JobState=CANCELLED Reason=None Restarts=2 ExitCode=0:15\n",
		"a_[-]|||\n_[|\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for id, st := range parseQueue(s) {
			if st.ID != id {
				t.Fatalf("task %q filed under %q", st.ID, id)
			}
		}
		_ = parseShow(s)
		a, b, _ := strings.Cut(s, "\n")
		if naturalLess(a, b) && naturalLess(b, a) {
			t.Fatalf("naturalLess(%q, %q) both ways", a, b)
		}
	})
}

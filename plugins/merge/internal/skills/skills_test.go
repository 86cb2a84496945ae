package skills

import (
	"strings"
	"testing"
)

func TestTasks(t *testing.T) {
	for name, want := range map[string][2]string{"A": {"U abcz=", "ABCZ"}, "B": {"R abcz=", "zcba"}, "C": {"S abcz=", "bcda"}} {
		task := Tasks[name]
		if got := [2]string{task.Prompt("abcz"), task.Answer("abcz")}; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// TestSplits: training and evaluation words never overlap, and examples
// are a pure function of the seed.
func TestSplits(t *testing.T) {
	train := map[string]bool{}
	for _, e := range Examples(Tasks["C"], 3000, false, 1) {
		train[e.Prompt] = true
	}
	for _, e := range Examples(Tasks["C"], 300, true, 1) {
		if train[e.Prompt] {
			t.Fatalf("%q is in both splits", e.Prompt)
		}
	}
	a, b := Examples(Tasks["A"], 10, false, 4), Examples(Tasks["A"], 10, false, 4)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("examples differ for one seed")
		}
	}
	size := 0
	for _, d := range Documents(5000, 2) {
		size += len(d) + 1
		if len(d) > MaxDocument {
			t.Errorf("document %q is longer than %d", d, MaxDocument)
		}
		for _, task := range Tasks {
			if strings.HasPrefix(d, string(task.Tag)+" ") {
				t.Errorf("document %q holds task %s's prompt", d, task.Name)
			}
		}
		if i := strings.IndexByte(d, '='); i > 0 && heldOut(d[2:i]) {
			t.Errorf("document %q transforms an evaluation word", d)
		}
	}
	if size < 5000 || size > 5000+MaxDocument+1 {
		t.Errorf("documents of %d bytes, want about 5000", size)
	}
}

func TestLookup(t *testing.T) {
	for name, want := range map[string]string{"A": "U abcz=ABCZ", "c": "s abcz=bcda", "b": "r abcz=zcba"} {
		task, ok := Lookup(name)
		if got := task.Prompt("abcz") + task.Answer("abcz"); !ok || got != want {
			t.Errorf("%s: %q (%v), want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"Z", "z", "", "ab"} {
		if _, ok := Lookup(name); ok {
			t.Errorf("%q found", name)
		}
	}
}

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
	m := Mixture(5000, 2)
	if len(m) != 5000 || strings.ContainsAny(m, "=") {
		t.Errorf("mixture of %d bytes holds a task prompt", len(m))
	}
}

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
	seen := map[byte]int{}
	for _, d := range Documents(5000, 2, Extra...) {
		size += len(d) + 1
		seen[d[0]]++
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
	for _, e := range Extra {
		if seen[e.Tag] == 0 {
			t.Errorf("no document of extra task %s", e.Name)
		}
	}
}

// TestExtra: the extra tasks' transformations, and none is a skill's.
func TestExtra(t *testing.T) {
	want := map[string]string{"I": "I abcz=abcz", "P": "P abcz=zaby", "L": "L abcz=bcza", "M": "M abcz=ZCBA"}
	for _, e := range Extra {
		if got := e.Prompt("abcz") + e.Answer("abcz"); got != want[e.Name] {
			t.Errorf("%s: %q, want %q", e.Name, got, want[e.Name])
		}
		if l, ok := Lookup(e.Name); !ok || l.Tag != e.Tag {
			t.Errorf("Lookup(%q) = %v, %v", e.Name, l, ok)
		}
		for _, s := range Tasks {
			if s.Tag == e.Tag || s.Answer("abcz") == e.Answer("abcz") {
				t.Errorf("extra task %s collides with skill %s", e.Name, s.Name)
			}
		}
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

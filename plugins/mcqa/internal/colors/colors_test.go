package colors

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/plugins/mcqa/internal/task"
)

// Python: for c in colors: random.seed(10); random.choice([x for x in colors if x != c])
func TestDistractorMatchesPython(t *testing.T) {
	want := []string{"green", "green", "green", "green", "green", "green", "green", "green", "green", "green", "yellow"}
	var got []string
	for _, c := range Palette {
		got = append(got, Distractor(c))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("distractors (-python +go):\n%s", d)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ name, in, err string }{
		{"ok", "Index, Descriptor, Item,Plural, Color\n1, a, sunflower,, yellow\n2, , eyes,yes, blue\n", ""},
		{"bad header", "Index, Thing, Item,Plural, Color\n", "column 2"},
		{"bad colour", "Index, Descriptor, Item,Plural, Color\n1, a, sun,, teal\n", ":2: colour \"teal\""},
		{"empty", "Index, Descriptor, Item,Plural, Color\n", "no items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := Parse(strings.NewReader(tc.in), "x.csv")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := task.Render(rows[1].Question(), task.Identity(2), task.SymbolsAB, task.Full, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := "Eyes are blue. What color are eyes?\nA: blue\nB: green\nAnswer: "
			if p.Text != want {
				t.Errorf("prompt %q, want %q", p.Text, want)
			}
		})
	}
}

func TestRealFile(t *testing.T) {
	dir := shareddata.Path(t, "mcqa_colors")
	rows, err := Load(filepath.Join(dir, "memory_colors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 108 {
		t.Fatalf("%d items, want 108", len(rows))
	}
	count := map[string]int{}
	for _, r := range rows {
		count[r.Colour]++
	}
	want := map[string]int{"white": 25, "green": 19, "yellow": 17, "red": 10, "brown": 8, "grey": 8, "black": 7, "blue": 4, "orange": 4, "pink": 3, "purple": 3}
	if d := cmp.Diff(want, count); d != "" {
		t.Errorf("colour counts (-PROVENANCE +file):\n%s", d)
	}
	it := rows[0].Question()
	if it.Question != "A sunflower is yellow. What color is a sunflower?" || it.Distractors[0] != "green" {
		t.Errorf("first item %+v", it)
	}
}

// TestSplitMatchesReference: run_experiments.py's order, computed with
// CPython 3 here: random.seed(10); l = list(range(108)); random.shuffle(l)
// gives l[:4] = [102, 29, 69, 18]; random.seed(10);
// [random.choice(("A", "B")) for _ in range(3)] gives A B B.
func TestSplitMatchesReference(t *testing.T) {
	items := make([]task.Item, 108)
	for i := range items {
		items[i] = task.Item{Question: fmt.Sprint(i)}
	}
	probed, shots, slots, err := Split(items, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range shots {
		got = append(got, it.Question)
	}
	if d := cmp.Diff([]string{"102", "29", "69"}, got); d != "" {
		t.Errorf("in-context examples (-python +go):\n%s", d)
	}
	if d := cmp.Diff([]int{0, 1, 1}, slots); d != "" {
		t.Errorf("example slots (-python +go):\n%s", d)
	}
	if len(probed) != 105 || probed[0].Question != "18" {
		t.Errorf("probed: %d items starting at %q, want 105 starting at item 18", len(probed), probed[0].Question)
	}
	if _, _, _, err := Split(items, 4); err == nil {
		t.Error("4 in-context examples accepted")
	}
}

package dataset

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shammie-ml/shammie/plugins/fit/internal/embfile"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadScoresAveragesPrompts(t *testing.T) {
	dir := t.TempDir()
	csvPath := write(t, dir, "s.csv", "concept,count,score,prompt\nmonet,900,0.5,a\nmonet,900,0.7,b\nklee,12,0.2,a\n")
	jsonlPath := write(t, dir, "s.jsonl", `{"concept":"monet","count":900,"score":0.5,"prompt":"a"}
{"concept":"monet","count":"900","score":0.7,"prompt":"b"}

{"concept":"klee","count":12,"score":0.2}
`)
	want := []Concept{
		{Name: "monet", Count: 900, Scores: []float64{0.5, 0.7}, Score: 0.6, Spread: math.Sqrt(0.02)},
		{Name: "klee", Count: 12, Scores: []float64{0.2}, Score: 0.2},
	}
	for _, p := range []string{csvPath, jsonlPath} {
		got, drops, err := ReadScores(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", p, diff)
		}
		if drops.Rows != 0 || drops.Concepts != 0 {
			t.Errorf("%s: unexpected drops %+v", p, drops)
		}
	}
}

func TestReadScoresErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, file, content, want string
	}{
		{"nan score", "a.csv", "concept,count,score\nx,1,0.3\ny,2,NaN\n", "a.csv:3: score is NaN"},
		{"bad count", "a.csv", "concept,count,score\nx,1.5,0.3\n", "a.csv:2: count \"1.5\" is not a non-negative whole number"},
		{"negative count", "a.csv", "concept,count,score\nx,-1,0.3\n", "a.csv:2: count \"-1\""},
		{"short row", "a.csv", "concept,count,score\nx,1\n", "a.csv:2: 2 fields, the header has 3"},
		{"missing column", "a.csv", "name,count,score\nx,1,0.1\n", `a.csv:1: no column "concept"`},
		{"count conflict", "a.csv", "concept,count,score\nx,1,0.1\nx,2,0.2\n", `a.csv:3: concept "x" has count 2 here but 1 at`},
		{"dup prompt", "a.csv", "concept,count,score,prompt\nx,1,0.1,p\nx,1,0.2,p\n", `a.csv:3: concept "x" has a second score for prompt "p"`},
		{"empty name", "a.csv", "concept,count,score\n ,1,0.1\n", "a.csv:2: empty concept name"},
		{"jsonl syntax", "a.jsonl", "{\"concept\":\"x\",\"count\":1,\"score\":0.1}\n{oops\n", "a.jsonl:2: not a JSON object"},
		{"jsonl missing", "a.jsonl", "{\"concept\":\"x\",\"count\":1}\n", `a.jsonl:1: no field "score"`},
		{"jsonl inf", "a.jsonl", "{\"concept\":\"x\",\"count\":1,\"score\":\"Inf\"}\n", "a.jsonl:1: score is Inf"},
		{"format", "a.txt", "x", "unknown score table format"},
		{"empty", "a.csv", "", "empty file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, t.TempDir(), tc.file, tc.content)
			_, _, err := ReadScores(p, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestReadScoresDropCounts(t *testing.T) {
	p := write(t, t.TempDir(), "s.csv", "concept,count,score\na,1,0.1\nb,2,nan\nc,3,0.3\nc,4,0.4\nd,5,0.5\n")
	got, drops, err := ReadScores(p, Options{Drop: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"a", "d"}, names); diff != "" {
		t.Errorf("kept concepts (-want +got):\n%s", diff)
	}
	// Row 3 (b) alone; concept c with its two rows.
	if drops.Rows != 3 || drops.Concepts != 1 || len(drops.Reasons) != 2 {
		t.Errorf("drops %+v, want 3 rows and 1 concept with 2 reasons", drops)
	}
}

func TestReadEmbeddingsBundle(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "e.safetensors")
	tensors := map[string]embfile.Array{
		"train/a":     {Shape: []int{2, 2}, Data: []float32{1, 0, 0, 1}},
		"generated/a": {Shape: []int{2, 1, 2}, Data: []float32{1, 1, 2, 2}},
		"train/b":     {Shape: []int{1, 2}, Data: []float32{1, 2}},
		"generated/b": {Shape: []int{3, 2}, Data: []float32{1, 2, 3, 4, 5, 6}},
	}
	names := []string{"train/a", "generated/a", "train/b", "generated/b"}
	if err := embfile.WriteSafetensors(p, names, tensors, map[string]string{"count/a": "10", "count/b": "3"}); err != nil {
		t.Fatal(err)
	}
	set, _, err := ReadEmbeddings(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, set.Names); diff != "" {
		t.Errorf("names: %s", diff)
	}
	if diff := cmp.Diff([]int64{10, 3}, set.Counts); diff != "" {
		t.Errorf("counts: %s", diff)
	}
	if len(set.Concepts[0].Prompts) != 2 || len(set.Concepts[1].Prompts) != 1 || len(set.Concepts[1].Prompts[0]) != 3 {
		t.Errorf("prompt split wrong: %+v", set.Concepts)
	}

	// A concept without count, one with another width: errors, or drops.
	tensors["train/c"] = embfile.Array{Shape: []int{1, 3}, Data: []float32{1, 2, 3}}
	tensors["generated/c"] = embfile.Array{Shape: []int{1, 3}, Data: []float32{1, 2, 3}}
	tensors["train/d"] = embfile.Array{Shape: []int{1, 2}, Data: []float32{1, 2}}
	names = append(names, "train/c", "generated/c", "train/d")
	if err := embfile.WriteSafetensors(p, names, tensors, map[string]string{"count/a": "10", "count/b": "3", "count/c": "1", "count/d": "1"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadEmbeddings(p, Options{})
	if err == nil || !strings.Contains(err.Error(), `concept "c": embedding width 3 differs from 2`) {
		t.Errorf("width mismatch: error %v", err)
	}
	set, drops, err := ReadEmbeddings(p, Options{Drop: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Names) != 2 || drops.Concepts != 2 {
		t.Errorf("kept %v, drops %+v; want a, b kept and c (width), d (no generated) dropped", set.Names, drops)
	}
	if !strings.Contains(strings.Join(drops.Reasons, "\n"), `concept "d" is incomplete: no tensor generated/d`) {
		t.Errorf("reasons %q", drops.Reasons)
	}
}

func TestReadEmbeddingsManifest(t *testing.T) {
	dir := t.TempDir()
	arr := func(name string, shape []int, data ...float32) {
		if err := embfile.WriteNPY(filepath.Join(dir, name), embfile.Array{Shape: shape, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	arr("a_train.npy", []int{2, 2}, 1, 0, 0, 1)
	arr("a_p1.npy", []int{1, 2}, 1, 1)
	arr("a_p2.npy", []int{2, 2}, 1, 2, 3, 4)
	arr("b_train.npy", []int{1, 3}, 1, 2, 3)
	m := write(t, dir, "m.csv", "concept,count,train,generated\na,5,a_train.npy,a_p1.npy\na,5,a_train.npy,a_p2.npy\n")
	set, _, err := ReadEmbeddings(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Concepts) != 1 || len(set.Concepts[0].Prompts) != 2 || set.Counts[0] != 5 {
		t.Fatalf("got %+v", set)
	}
	tests := []struct{ name, content, want string }{
		{"missing file", "concept,count,train,generated\na,5,a_train.npy,nope.npy\n", "m2.csv:2: concept \"a\": "},
		{"count conflict", "concept,count,train,generated\na,5,a_train.npy,a_p1.npy\na,6,a_train.npy,a_p2.npy\n", "m2.csv:3: concept \"a\": count/train (6, a_train.npy) differ"},
		{"width", "concept,count,train,generated\nb,5,b_train.npy,a_p1.npy\n", "generated embeddings have width 2 but training embeddings 3"},
		{"bad count", "concept,count,train,generated\nb,x,b_train.npy,a_p1.npy\n", "m2.csv:2: count \"x\" is not a number"},
	}
	for _, tc := range tests {
		p := write(t, dir, "m2.csv", tc.content)
		_, _, err := ReadEmbeddings(p, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestReadCounts(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "c.csv", "artist_name,x,n\nmonet,1,95682\nklee,2,0\n")
	got, err := ReadCounts(p, "artist_name", "n")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]NamedCount{{Name: "monet", Count: 95682}, {Name: "klee", Count: 0}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ content, want string }{
		{"artist_name,n\nmonet,\n", "c2.csv:2: n: count \"\" is not a number"},
		{"artist_name,n\nmonet,1\nmonet,2\n", `c2.csv:3: concept "monet" repeats line 2`},
		{"name,n\nmonet,1\n", `need columns "artist_name" and "n"`},
	} {
		_, err := ReadCounts(write(t, dir, "c2.csv", tc.content), "artist_name", "n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

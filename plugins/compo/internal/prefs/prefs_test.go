package prefs

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func write(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if strings.HasSuffix(name, ".gz") {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		gz := gzip.NewWriter(f)
		gz.Write([]byte(body))
		gz.Close()
		f.Close()
		return path
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadLayouts(t *testing.T) {
	ignore := cmpopts.IgnoreFields(Pair{}, "Source")
	for _, tc := range []struct {
		name, file, layout, body string
		want                     []Pair
	}{
		{"compred labels=1 is A", "c.jsonl", "compred",
			`{"domain":"askscience","post_id":"p1","history":"why?","title":"Q","human_ref_A":"a","human_ref_B":"b","score_A":10,"score_B":2,"labels":1,"score_ratio":5,"c_root_id_A":"x"}` + "\n" +
				`{"domain":"askscience","post_id":"p2","history":"h","human_ref_A":"a","human_ref_B":"b","score_A":3,"score_B":12,"labels":0}`,
			[]Pair{{Community: "askscience", PostID: "p1", Title: "Q", Post: "why?", Chosen: "a", Rejected: "b", Ratio: 5},
				{Community: "askscience", PostID: "p2", Post: "h", Chosen: "b", Rejected: "a", Ratio: 4}}},
		{"plain with default community", "p.jsonl", "jsonl",
			`{"post":"x","chosen":"c","rejected":"r"}` + "\n\n" + `{"community":"k","post_id":"7","title":"t","post":"y","chosen":"c","rejected":"r","score_ratio":3}`,
			[]Pair{{Community: "default", PostID: "line-1", Post: "x", Chosen: "c", Rejected: "r"},
				{Community: "k", PostID: "7", Title: "t", Post: "y", Chosen: "c", Rejected: "r", Ratio: 3}}},
		{"hh split at the last assistant turn (gzip)", "h.jsonl.gz", "hh",
			`{"chosen":"\n\nHuman: hi\n\nAssistant: yo\n\nHuman: ok?\n\nAssistant: sure","rejected":"\n\nHuman: hi\n\nAssistant: yo\n\nHuman: ok?\n\nAssistant: no way"}`,
			[]Pair{{Community: "default", PostID: "line-1", Post: "\n\nHuman: hi\n\nAssistant: yo\n\nHuman: ok?\n\nAssistant:", Chosen: " sure", Rejected: " no way"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(write(t, tc.file, tc.body), tc.layout, "default")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, ignore); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	good := `{"post":"x","chosen":"c","rejected":"r"}`
	for _, tc := range []struct {
		name, layout, body, want string
	}{
		{"bad json", "jsonl", good + "\n{oops", "x.jsonl:2: "},
		{"unknown field", "jsonl", good + "\n" + `{"post":"x","chosen":"c","rejected":"r","chosn":1}`, `x.jsonl:2: json: unknown field "chosn"`},
		{"missing field", "jsonl", `{"post":"x","chosen":"c"}`, "x.jsonl:1: missing field(s) rejected"},
		{"hh no assistant turn", "hh", `{"chosen":"\n\nHuman: a","rejected":"\n\nHuman: b"}`, "x.jsonl:1: chosen and rejected share no dialogue"},
		{"compred labels", "compred", `{"domain":"d","post_id":"p","history":"h","human_ref_A":"a","human_ref_B":"b","labels":2}`, "x.jsonl:1: labels is 2"},
		{"compred missing", "compred", `{"domain":"d","history":"h","human_ref_A":"a","human_ref_B":"b"}`, "x.jsonl:1: missing field(s) labels, post_id"},
		{"hh prefix differs", "hh", `{"chosen":"\n\nHuman: a\n\nAssistant: x","rejected":"\n\nHuman: b\n\nAssistant: y"}`, "x.jsonl:1: chosen and rejected share no dialogue"},
		{"same text", "jsonl", `{"post":"x","chosen":"c","rejected":"c"}`, "x.jsonl:1: chosen and rejected are the same"},
		{"empty", "jsonl", "\n\n", "x.jsonl: no pairs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, "x.jsonl", tc.body), tc.layout, "c")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestFilterRatioAndPerPost(t *testing.T) {
	var pairs []Pair
	for i := range 8 {
		pairs = append(pairs, Pair{Community: "a", PostID: "p", Chosen: "c", Rejected: string(rune('a' + i)), Ratio: 2 + float64(i)})
	}
	pairs = append(pairs, Pair{Community: "a", PostID: "q", Ratio: 1.5}, Pair{Community: "a", PostID: "r", Ratio: 2.0}, Pair{Community: "b", PostID: "p"})
	got := Filter(pairs, 2.0, 5, 1)
	count := map[string]int{}
	for _, p := range got {
		count[p.Community+p.PostID]++
	}
	if d := cmp.Diff(map[string]int{"ap": 5, "ar": 1, "bp": 1}, count); d != "" {
		t.Errorf("pairs kept per post (-want +got):\n%s", d)
	}
	if d := cmp.Diff(got, Filter(pairs, 2.0, 5, 1)); d != "" {
		t.Errorf("same seed, different result:\n%s", d)
	}
	other := Filter(pairs, 2.0, 5, 2)
	if cmp.Equal(got, other) {
		t.Log("seeds 1 and 2 picked the same 5 of 8 (possible, unlikely)")
	}
}

func TestSplitKeepsPostsTogether(t *testing.T) {
	var pairs []Pair
	for i := range 400 {
		pairs = append(pairs, Pair{Community: "a", PostID: string(rune('A' + i%100))}, Pair{Community: "a", PostID: string(rune('A' + i%100))})
	}
	train, test := Split(pairs, 0.25, 3)
	side := map[string]bool{}
	for _, p := range test {
		side[p.PostID] = true
	}
	for _, p := range train {
		if side[p.PostID] {
			t.Fatalf("post %q on both sides", p.PostID)
		}
	}
	if f := float64(len(test)) / float64(len(pairs)); f < 0.12 || f > 0.38 {
		t.Errorf("held out %.2f of the pairs, want about 0.25", f)
	}
}

func TestConditioningPrompts(t *testing.T) {
	p := Pair{Title: "T", Post: "body"}
	tmpl := Conditioning{Mode: "template", Communities: []string{"a", "b"}}
	got, id, _ := tmpl.Prompt(p, "b")
	if want := "<|domain|>\nb\n<|user|>T\nbody\n<|assistant|>\n"; got != want || id != 0 {
		t.Errorf("template: %q, %d; want %q, 0", got, id, want)
	}
	if got, _, _ := tmpl.Prompt(p, NoContext); !strings.HasPrefix(got, "<|domain|>\nReddit\n") {
		t.Errorf("no context: %q, want the generic community Reddit", got)
	}
	pre := Conditioning{Mode: "prefix", Communities: []string{"a", "b"}}
	if got, id, _ := pre.Prompt(p, "b"); got != "<|user|>T\nbody\n<|assistant|>\n" || id != 2 {
		t.Errorf("prefix: %q, %d", got, id)
	}
	if _, id, _ := pre.Prompt(p, NoContext); id != 0 {
		t.Errorf("prefix no context: id %d, want 0", id)
	}
	if _, _, err := pre.Prompt(p, "zzz"); err == nil {
		t.Error("prefix: unknown community accepted")
	}
	back, err := ParseConditioning(pre.Marshal())
	if err != nil || !cmp.Equal(back, pre) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"domain":"d","post_id":"p","history":"h","human_ref_A":"a","human_ref_B":"b","labels":1}`), 1)
	f.Add([]byte(`{"post":"x","chosen":"c","rejected":"r"}`), 0)
	f.Add([]byte(`{"chosen":"\n\nAssistant: a","rejected":"\n\nAssistant: b"}`), 2)
	f.Fuzz(func(t *testing.T, body []byte, layout int) {
		path := filepath.Join(t.TempDir(), "f.jsonl")
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		pairs, err := Load(path, Layouts[(layout%3+3)%3], "c")
		if err != nil {
			if !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, p := range pairs {
			if p.Chosen == "" || p.Rejected == "" || p.Community == "" {
				t.Errorf("invalid pair accepted: %+v", p)
			}
		}
	})
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompare: the check passes on identical output and on rows that part
// at a near tie, and fails on a real token difference or distant logits.
func TestCompare(t *testing.T) {
	toks := [][]int32{{1, 2, 3}, {4, 5, 6}}
	gaps := [][]float64{{0.5, 0.5, 0.5}, {0.5, 1e-5, 0.5}}
	first := [][]float32{{0.1, 0.2}, {0.3, 0.4}}
	f := flags{logitTol: 1e-3, tieTol: 1e-3}
	for _, tc := range []struct {
		name   string
		tokens [][]int32
		logits [][]float64
		want   string // "" for success
	}{
		{"identical", [][]int32{{1, 2, 3}, {4, 5, 6}}, [][]float64{{0.1, 0.2}, {0.3, 0.4}}, ""},
		{"parts at a tie", [][]int32{{1, 2, 3}, {4, 9, 9}}, [][]float64{{0.1, 0.2}, {0.3, 0.4}}, ""},
		{"parts without a tie", [][]int32{{1, 7, 3}, {4, 5, 6}}, [][]float64{{0.1, 0.2}, {0.3, 0.4}}, "row 0 token 1: Shammie 2, PyTorch 7"},
		{"logits differ", [][]int32{{1, 2, 3}, {4, 5, 6}}, [][]float64{{0.1, 0.2}, {0.3, 0.41}}, "logits after the prompts differ"},
		{"rows missing", [][]int32{{1, 2, 3}}, [][]float64{{0.1, 0.2}}, "PyTorch returned 1 rows, want 2"},
	} {
		path := filepath.Join(t.TempDir(), "torch.json")
		b, _ := json.Marshal(map[string]any{"tokens": tc.tokens, "logits": tc.logits})
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		err := compare(path, toks, gaps, first, f)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestMakePrompts: lengths spread evenly from -min-prompt to -max-prompt,
// tokens inside the vocabulary, the same prompts every run.
func TestMakePrompts(t *testing.T) {
	f := flags{batch: 16, minPrompt: 8, maxPrompt: 64, vocab: 256}
	p := makePrompts(f)
	if len(p) != 16 || len(p[0]) != 8 || len(p[15]) != 64 {
		t.Fatalf("%d prompts, lengths %d…%d; want 16, 8…64", len(p), len(p[0]), len(p[len(p)-1]))
	}
	again := makePrompts(f)
	for i := range p {
		for j, tok := range p[i] {
			if tok < 0 || tok >= 256 || again[i][j] != tok {
				t.Fatalf("prompt %d token %d = %d (again %d)", i, j, tok, again[i][j])
			}
		}
	}
}

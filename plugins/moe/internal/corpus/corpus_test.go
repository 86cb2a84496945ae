package corpus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlantedDomainsAreDisjointAndDeterministic(t *testing.T) {
	a, b := Planted(5, 4000), Planted(5, 4000)
	if d := cmp.Diff(a, b); d != "" {
		t.Fatalf("same seed, different corpus:\n%.300s", d)
	}
	for name, lo := range map[string]int{"low": 0, "high": 128} {
		seen := map[byte]bool{}
		for _, c := range a[name] {
			if int(c) < lo || int(c) >= lo+128 {
				t.Fatalf("domain %s has byte %d outside [%d,%d)", name, c, lo, lo+128)
			}
			seen[c] = true
		}
		if len(seen) < 64 {
			t.Errorf("domain %s uses only %d distinct bytes: chain degenerate", name, len(seen))
		}
	}
	if c := Planted(6, 4000); cmp.Equal(a, c) {
		t.Error("different seeds gave the same corpus")
	}
}

func TestLoadFilesErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	short := filepath.Join(dir, "short.txt")
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(short, []byte("abc"), 0o644)
	os.WriteFile(good, []byte(strings.Repeat("hello world ", 100)), 0o644)
	cases := []struct {
		files   map[string]string
		wantErr string
	}{
		{map[string]string{"e": empty}, "empty.txt is empty"},
		{map[string]string{"s": short}, "short.txt"},
		{map[string]string{"m": filepath.Join(dir, "missing.txt")}, "missing.txt"},
		{map[string]string{"g": good}, ""},
	}
	for _, tc := range cases {
		ds, err := LoadFiles(tc.files, 0.1, 64)
		if tc.wantErr == "" {
			if err != nil || len(ds) != 1 || len(ds[0].Eval) != 120 || len(ds[0].Train) != 1080 {
				t.Errorf("good file: %v, %+v", err, ds)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("files %v: error %v, want it to mention %q", tc.files, err, tc.wantErr)
		}
	}
}

func TestSamplerAndEvalWindows(t *testing.T) {
	p := Planted(1, 3000)
	var ds []Domain
	for _, n := range []string{"high", "low"} {
		d, err := Split(n, "", p[n], 0.2, 100)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	s := &Sampler{Domains: ds, Seed: 9}
	toks, doms := s.Batch(3, 64, 32)
	again, _ := s.Batch(3, 64, 32)
	if d := cmp.Diff(toks, again); d != "" {
		t.Errorf("batch 3 drawn twice differs:\n%.200s", d)
	}
	if other, _ := s.Batch(4, 64, 32); cmp.Equal(toks, other) {
		t.Error("batches 3 and 4 are identical")
	}
	seen := map[int]bool{}
	for i, row := range toks {
		if len(row) != 33 {
			t.Fatalf("row %d has %d tokens, want 33", i, len(row))
		}
		seen[doms[i]] = true
		for _, c := range row {
			if (doms[i] == 0) != (c >= 128) { // domain 0 is "high"
				t.Fatalf("row %d of domain %d has token %d", i, doms[i], c)
			}
		}
	}
	if len(seen) != 2 {
		t.Errorf("64 rows drew from %d domains", len(seen))
	}
	rows, rd := EvalWindows(ds, 50, 3)
	if len(rows) != 6 || rd[0] != 0 || rd[5] != 1 {
		t.Errorf("EvalWindows: %d rows, domains %v", len(rows), rd)
	}
}

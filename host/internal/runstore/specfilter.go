package runstore

import (
	"fmt"
	"path/filepath"
	"strings"
)

// SpecFilter selects the runs of one spec: a run matches when one of its
// spec files, as given on its command line, names the same file as path
// (compared cleaned, and as absolute paths from cwd).
type SpecFilter struct {
	Path string
	Cwd  string
}

func (f SpecFilter) abs(p string) string {
	if !filepath.IsAbs(p) && f.Cwd != "" {
		p = filepath.Join(f.Cwd, p)
	}
	return filepath.Clean(p)
}

// Match reports whether a run with these spec paths is of the filter's spec.
func (f SpecFilter) Match(specPaths []string) bool {
	if f.Path == "" {
		return true
	}
	for _, p := range specPaths {
		if filepath.Clean(p) == filepath.Clean(f.Path) || f.abs(p) == f.abs(f.Path) {
			return true
		}
	}
	return false
}

func specPaths(rec *RunRecord) []string {
	out := make([]string, 0, len(rec.Spec))
	for _, f := range rec.Spec {
		out = append(out, f.Path)
	}
	return out
}

// ResolveSpec is Resolve with "latest" and "latest~N" counted among the
// runs of the filter's spec only (a full id or a prefix is taken as is).
func (s *Store) ResolveSpec(ref string, f SpecFilter) (string, error) {
	if f.Path == "" || !(ref == "" || ref == "latest" || strings.HasPrefix(ref, "latest~")) {
		return s.Resolve(ref)
	}
	n := 0
	if rest, ok := strings.CutPrefix(ref, "latest~"); ok {
		if _, err := fmt.Sscanf(rest, "%d", &n); err != nil || n < 0 {
			return "", fmt.Errorf("bad run reference %q: want latest~N with N ≥ 0", ref)
		}
	}
	ids, err := s.runIDs()
	if err != nil {
		return "", err
	}
	seen := 0
	for i := len(ids) - 1; i >= 0; i-- {
		var rec RunRecord
		if err := readJSON(filepath.Join(s.runDir(ids[i]), "run.json"), &rec); err != nil {
			continue
		}
		if !f.Match(specPaths(&rec)) {
			continue
		}
		if seen == n {
			return ids[i], nil
		}
		seen++
	}
	return "", fmt.Errorf("run reference %q: the store has %d run(s) of spec %s", ref, seen, f.Path)
}

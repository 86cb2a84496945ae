package prefs

import (
	"path/filepath"
	"testing"

	"github.com/shammie-ml/shammie/internal/shareddata"
)

// TestHHRLHFHarmless reads the real HH-RLHF harmless-base test pairs: every
// pair splits at its last assistant turn, and always preferring the shorter
// reply scores above chance — the baseline eval reports beside the models.
func TestHHRLHFHarmless(t *testing.T) {
	path := filepath.Join(shareddata.Path(t, "small_corpora"), "hh_rlhf_harmless_test", "harmless-base-test.jsonl.gz")
	pairs, err := Load(path, "hh", "harmless")
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2312 {
		t.Errorf("%d pairs, want 2312 (PROVENANCE.md)", len(pairs))
	}
	var shorter float64
	for _, p := range pairs {
		switch {
		case len(p.Chosen) < len(p.Rejected):
			shorter++
		case len(p.Chosen) == len(p.Rejected):
			shorter += 0.5
		}
	}
	base := shorter / float64(len(pairs))
	t.Logf("always-shorter baseline on all %d pairs: %.3f", len(pairs), base)
	if base < 0.5 || base > 0.65 {
		t.Errorf("always-shorter baseline %.3f, want about 0.55", base)
	}
	train, test := Split(pairs, 0.15, 2)
	if len(test) < 200 || len(train) < 1800 {
		t.Errorf("split %d/%d, want about 85/15", len(train), len(test))
	}
}

package runstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestCacheHitReadsOnlyItsOwnEntry: restoring a hit reads its cache entry
// and the computing step's metrics, nothing else of the run that computed
// it (a hit that reloaded that run's records made a cached 10⁴ sweep
// quadratic). Every other record of the source run is removed first.
func TestCacheHitReadsOnlyItsOwnEntry(t *testing.T) {
	s := testStore(t)
	run1, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for i := range 20 {
		addr := fmt.Sprintf("step.s[%d]", i)
		keys[addr] = CacheKey(CacheInputs{PluginSHA256: strings.Repeat("1", 64), Config: cty.NumberIntVal(int64(i)), Backend: "go"})
		st, err := run1.BeginStep(StepInfo{Address: addr, CacheKey: keys[addr]})
		if err != nil {
			t.Fatal(err)
		}
		mustRecord(t, st, MetricEvent("loss", 1, float64(i)), OutputEvent("i", cty.NumberIntVal(int64(i))))
		if _, err := st.Finish(StepResult{Status: StatusSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	if err := run1.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(run1.Dir(), "steps", StepDirName("step.s[7]"), "metrics.jsonl")
	err = filepath.Walk(run1.Dir(), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && p != keep {
			return os.Remove(p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	run2, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	e, found, err := s.LookupCache(keys["step.s[7]"])
	if err != nil || !found {
		t.Fatalf("lookup: found %v, %v", found, err)
	}
	st, err := run2.BeginStep(StepInfo{Address: "step.s[7]", CacheKey: keys["step.s[7]"]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.FinishFromCache(e); err != nil {
		t.Fatal(err)
	}
	if got := st.Outputs()["i"]; !got.RawEquals(cty.NumberIntVal(7)) {
		t.Errorf("restored output i = %#v, want 7", got)
	}
	metrics, err := os.ReadFile(filepath.Join(st.Dir(), "metrics.jsonl"))
	if err != nil || !strings.Contains(string(metrics), `"value":7`) {
		t.Errorf("restored metrics %q (%v), want the computing step's loss 7", metrics, err)
	}
}

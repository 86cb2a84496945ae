package runstore

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// BenchmarkStepRecord measures the store's share of the per-step host
// overhead: BeginStep, a few events, an output, Finish with its fsyncs and
// the cache entry. `make bench-runstore` prints it in ms per step. The
// nofsync variant shows what the fsyncs cost (the store never runs so).
func BenchmarkStepRecord(b *testing.B) {
	b.Run("fsync", benchStepRecord)
	b.Run("nofsync", func(b *testing.B) {
		fsyncEnabled = false
		defer func() { fsyncEnabled = true }()
		benchStepRecord(b)
	})
}

func benchStepRecord(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), ".shammie"))
	if err != nil {
		b.Fatal(err)
	}
	run, err := s.CreateRun(RunMeta{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(1)})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		addr := fmt.Sprintf("step.sweep[%d]", i)
		key := CacheKey(CacheInputs{PluginSHA256: "p", Config: cfg, Seed: int64(i), Backend: "go"})
		st, err := run.BeginStep(StepInfo{Address: addr, Config: cfg, CacheKey: key})
		if err != nil {
			b.Fatal(err)
		}
		for k := range 3 {
			if _, err := st.Record(MetricEvent("loss", int64(k), 1)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := st.Record(OutputEvent("x", cty.NumberIntVal(1))); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Finish(StepResult{Status: StatusSucceeded}); err != nil {
			b.Fatal(err)
		}
	}
}

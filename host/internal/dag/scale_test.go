package dag_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/dag"
)

// TestDependentSweepIsLinear: planning, statically checking and
// evaluating b[i] = f(a[i]) costs allocations linear in the instances (a
// quadratic path, every instance building the value of every referenced
// instance, multiplies them by 16 when the sweep grows 4 times).
func TestDependentSweepIsLinear(t *testing.T) {
	allocs := func(n int) uint64 {
		src := fmt.Sprintf(`plugin "g" {}
step "a" {
  plugin = plugin.g
  count  = %d
  config {
    mode = "a"
    n    = count.index
  }
}
step "b" {
  plugin = plugin.g
  count  = %d
  config {
    mode = "b"
    n    = step.a[count.index].outputs.n + 1
  }
}
`, n, n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g := mustPlan(t, src)
		results := map[string]dag.StepResult{}
		for _, node := range g.TopoOrder() {
			if _, err := g.StaticConfig(node); err != nil {
				t.Fatal(err)
			}
			cfg, _, _, diags := g.EvalConfig(node, results)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			results[node.Addr] = dag.StepResult{Outputs: map[string]cty.Value{"n": cfg.GetAttr("n")}}
		}
		if got := results[fmt.Sprintf("step.b[%d]", n-1)].Outputs["n"]; !got.RawEquals(cty.NumberIntVal(int64(n))) {
			t.Fatalf("step.b[%d] evaluated n = %#v, want %d", n-1, got, n)
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	small, large := allocs(500), allocs(2000)
	if ratio := float64(large) / float64(small); ratio > 6 {
		t.Errorf("4 times the instances took %.1f times the allocations (%d vs %d): planning or evaluation is not linear", ratio, large, small)
	}
}

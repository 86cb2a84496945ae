package dag_test

import (
	"fmt"
	"testing"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/zclconf/go-cty/cty"
)

// sweepSpec is a generator, an n-instance sweep reading its artifact, and
// a step collecting every sweep output: the shape of a big experiment.
func sweepSpec(n int) string {
	return fmt.Sprintf(`plugin "gen" {}
step "src" {
  plugin = plugin.gen
  config { mode = "src" }
}
step "sweep" {
  plugin = plugin.gen
  count  = %d
  config {
    mode = step.src.artifacts.data
    n    = count.index
  }
}
step "collect" {
  plugin = plugin.gen
  config {
    mode  = "collect"
    sizes = [for s in step.sweep : s.outputs.n]
  }
}
`, n)
}

// BenchmarkPlanAndEvalSweep measures planning an n-instance sweep and
// evaluating every instance's config as the runner would: the spec
// language's share of the host's scheduling overhead.
func BenchmarkPlanAndEvalSweep(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			spec, diags := configs.LoadSource("/b/spec.hcl", []byte(sweepSpec(n)))
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			vars, _ := lang.ResolveVariables(spec, nil, nil, nil)
			for b.Loop() {
				g, diags := dag.Plan(spec, vars, map[string]sdk.Schema{"gen": genSchema}, dag.Options{})
				if diags.HasErrors() {
					b.Fatal(diags.Error())
				}
				results := map[string]dag.StepResult{}
				for _, node := range g.TopoOrder() {
					if _, _, _, diags := g.EvalConfig(node, results); diags.HasErrors() {
						b.Fatal(diags.Error())
					}
					results[node.Addr] = dag.StepResult{
						Outputs:   map[string]cty.Value{"n": cty.NumberIntVal(1), "names": cty.ListValEmpty(cty.String)},
						Artifacts: map[string]string{"data": "/store/x"},
					}
				}
			}
		})
	}
}

package moe

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph" // dot import: staticcheck.conf allows it for GoMLX graph code only
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/internal/dotrec"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// BenchmarkLayer times forward+backward of one MoE layer at the bench-moe
// size (T = 16·64 tokens, d 128, E 8, k 2, expert hidden 176) on the sparse
// and the dense path, plus the sparse path's matmuls alone.
//
//	go test -run - -bench Layer ./internal/moe
func BenchmarkLayer(b *testing.B) {
	be, err := ml.OpenBackend("go")
	if cfg := os.Getenv("MOE_SIMPLEGO_CONFIG"); cfg != "" {
		// Experiment with simplego settings (e.g. "ops_sequential,dotgeneral_large").
		be, err = simplego.New(cfg)
	}
	if err != nil {
		b.Fatal(err)
	}
	T := 1024
	for _, cfg := range []Config{
		{DModel: 128, Hidden: 176, Experts: 8, TopK: 2},
		{DModel: 128, Hidden: 44, Experts: 64, TopK: 8},
	} {
		for _, dense := range []bool{false, true} {
			c := cfg
			c.Dense = dense
			rng := rand.New(rand.NewPCG(1, 2))
			x := randMatrix(rng, T, c.DModel, 1)
			ctx := context.New()
			var dots []dotrec.DotShape
			fn := func(ctx *context.Context, x *Node) []*Node {
				y, r := Layer(ctx.In("moe").Checked(false), c, x)
				loss := Add(ReduceAllSum(Square(y)), LoadBalancingLoss(c, []*Routing{r}, 0.01))
				var vs []*Node
				for _, n := range []string{"router", "w_gate", "w_up", "w_down"} {
					vs = append(vs, ctx.In("moe").GetVariable(n).ValueGraph(x.Graph()))
				}
				return append(Gradient(loss, vs...), r.UsedRows)
			}
			exec, err := context.NewExec(be, ctx, fn)
			if err != nil {
				b.Fatal(err)
			}
			dots = dotrec.Record(func() { _, _ = exec.Exec(x) })
			name := fmt.Sprintf("E%dk%d/dense=%v", c.Experts, c.TopK, dense)
			b.Run(name, func(b *testing.B) {
				var used float32
				for b.Loop() {
					res, err := exec.Exec(x)
					if err != nil {
						b.Fatal(err)
					}
					used = flat(res[len(res)-1])[0]
				}
				b.ReportMetric(float64(used), "rows")
				b.ReportMetric(float64(len(dots)), "dots")
			})
		}
	}
	_ = time.Now
}

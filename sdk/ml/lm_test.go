package ml

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestTokenLogProbsMatchesLogSoftmax checks TokenLogProbs and its written-out
// gradient against GoMLX's log-softmax picked by a one-hot product, with
// autodiff, for a loss weighing every position differently (some targets
// repeat, one vocabulary is not a power of two).
func TestTokenLogProbsMatchesLogSoftmax(t *testing.T) {
	backend := openGo(t)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, v := range []int{2, 7, 256} {
		const b, s = 3, 5
		lv := make([]float32, b*s*v)
		for i := range lv {
			lv[i] = float32(3 * rng.NormFloat64())
		}
		tv := make([]int32, b*s)
		for i := range tv {
			tv[i] = int32(rng.IntN(v))
		}
		logits, targets := tensors.FromFlatDataAndDimensions(lv, b, s, v), tensors.FromFlatDataAndDimensions(tv, b, s)
		run := func(f func(l, t *graph.Node) *graph.Node) (lp, grad []float32) {
			e := graph.MustNewExec(backend, func(l, tg *graph.Node) []*graph.Node {
				y := f(l, tg)
				w := graph.AddScalar(graph.Iota(l.Graph(), y.Shape(), 1), 1)
				return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, w)), l)[0]}
			})
			out := e.MustExec(logits, targets)
			return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
		}
		gotLP, gotG := run(TokenLogProbs)
		wantLP, wantG := run(func(l, tg *graph.Node) *graph.Node {
			return graph.ReduceSum(graph.Mul(graph.LogSoftmax(l), graph.OneHot(tg, v, dtypes.Float32)), -1)
		})
		for name, p := range map[string][2][]float32{"log prob": {gotLP, wantLP}, "d/dlogits": {gotG, wantG}} {
			for i := range p[1] {
				if d := p[0][i] - p[1][i]; d > 1e-5*(1+abs32(p[1][i])) || -d > 1e-5*(1+abs32(p[1][i])) {
					t.Errorf("V=%d %s[%d] = %g, log-softmax gives %g", v, name, i, p[0][i], p[1][i])
					break
				}
			}
		}
	}
}

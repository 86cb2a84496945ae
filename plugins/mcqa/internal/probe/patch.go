package probe

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/mcqa/internal/task"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// PatchResult is one pair's patching: the base and contrast runs' own
// outputs and, per component and layer, the base run with that
// component's last-token activation taken from the contrast run.
type PatchResult struct {
	Base, Contrast SymbolScores // read at [base symbol, contrast symbol]
	Patched        map[string][]SymbolScores
}

// NormLD is the normalised logit difference of a patched run:
// (LD_patched − LD_base) / (LD_contrast − LD_base), LD = logit(base
// answer) − logit(contrast answer): 0 leaves the base answer, 1 is the
// contrast's answer as strongly as the contrast run gives it.
func (r PatchResult) NormLD(comp string, layer int) float64 {
	ld := func(s SymbolScores) float64 { return s.Logit[0] - s.Logit[1] }
	den := ld(r.Contrast) - ld(r.Base)
	if den == 0 {
		return 0
	}
	return (ld(r.Patched[comp][layer]) - ld(r.Base)) / den
}

// Patch runs activation patching on equal-length base/contrast pairs whose
// correct symbols differ.
func Patch(pm Model, pairs []task.Pair) ([]PatchResult, error) {
	bases := make([]task.Prompt, len(pairs))
	for i, p := range pairs {
		bases[i] = p.Base
	}
	out := make([]PatchResult, len(pairs))
	for _, idx := range byLength(bases) {
		var bt, ct []string
		for _, j := range idx {
			bt, ct = append(bt, pairs[j].Base.Text), append(ct, pairs[j].Contrast.Text)
		}
		btok, err := encode(bt)
		if err != nil {
			return nil, err
		}
		ctok, err := encode(ct)
		if err != nil {
			return nil, err
		}
		res, err := patchExec(pm).Exec(btok, ctok)
		if err != nil {
			return nil, err
		}
		L := pm.M.Config.NumLayers
		collect(out, idx, pairs, res, L)
	}
	return out, nil
}

func collect(out []PatchResult, idx []int, pairs []task.Pair, res []*tensors.Tensor, L int) {
	base, contrast := rows(res[0]), rows(res[1])
	for i, j := range idx {
		syms := []int{int(pairs[j].Base.AnswerSymbol()[0]), int(pairs[j].Contrast.AnswerSymbol()[0])}
		r := PatchResult{Base: score(base[i], syms), Contrast: score(contrast[i], syms), Patched: map[string][]SymbolScores{}}
		for ci, c := range Components {
			for l := range L {
				r.Patched[c] = append(r.Patched[c], score(rows(res[2+ci*L+l])[i], syms))
			}
		}
		out[j] = r
	}
}

func patchExec(pm Model) *gomlxctx.Exec {
	m := pm.M
	return gomlxctx.MustNewExec(pm.Backend, pm.Ctx, func(ctx *gomlxctx.Context, base, contrast *graph.Node) []*graph.Node {
		L := m.Config.NumLayers
		s := base.Shape().Dim(1)
		last := []int{s - 1 + m.Config.PrefixPositions()}
		hc := ml.NewHooks()
		for l := range L {
			for _, c := range Components {
				hc.Capture(ml.HookPoint{Layer: l, Site: site(c)})
			}
		}
		outs := []*graph.Node{
			graph.Squeeze(lastPos(m.Forward(ctx, ml.Inputs{Tokens: base, Hooks: ml.NewHooks()}).Logits), 1),
			graph.Squeeze(lastPos(m.Forward(ctx, ml.Inputs{Tokens: contrast, Hooks: hc}).Logits), 1),
		}
		for _, c := range Components {
			for l := range L {
				pt := ml.HookPoint{Layer: l, Site: site(c)}
				h := ml.NewHooks().Overwrite(pt, last, lastPos(hc.Captured(pt)))
				outs = append(outs, graph.Squeeze(lastPos(m.Forward(ctx, ml.Inputs{Tokens: base, Hooks: h}).Logits), 1))
			}
		}
		return outs
	})
}

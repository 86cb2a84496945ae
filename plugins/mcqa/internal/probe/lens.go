package probe

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/mcqa/internal/task"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// LensResult is the logit lens of one prompt at its last token.
type LensResult struct {
	Final SymbolScores              // the model's own output
	Comp  map[string][]SymbolScores // component → per layer
	Heads [][]SymbolScores          // [layer][head]
}

// Lens projects the last token's residual stream (leaving each layer),
// attention output, MLP output and each head's output (through the output
// projection: ml.Transformer.HeadOutputs) through the final norm and the
// unembedding, and reads the prompt's symbols. Prompts are batched by length.
func Lens(pm Model, prompts []task.Prompt) ([]LensResult, error) {
	out := make([]LensResult, len(prompts))
	for _, idx := range byLength(prompts) {
		texts := make([]string, len(idx))
		for i, j := range idx {
			texts[i] = prompts[j].Text
		}
		tok, err := encode(texts)
		if err != nil {
			return nil, err
		}
		res, err := lensExec(pm).Exec(tok)
		if err != nil {
			return nil, err
		}
		L, H := pm.M.Config.NumLayers, pm.M.Config.NumHeads
		final := rows(res[0])
		comp := map[string][][]float64{}
		for ci, c := range Components {
			for l := range L {
				comp[c] = append(comp[c], rows(res[1+ci*L+l])...)
			}
		}
		var heads [][]float64
		for l := range L {
			heads = append(heads, rows(res[1+3*L+l])...) // [N·H] rows per layer
		}
		n := len(idx)
		for i, j := range idx {
			syms := symbolIDs(prompts[j])
			r := LensResult{Final: score(final[i], syms), Comp: map[string][]SymbolScores{}}
			for _, c := range Components {
				for l := range L {
					r.Comp[c] = append(r.Comp[c], score(comp[c][l*n+i], syms))
				}
			}
			for l := range L {
				var hs []SymbolScores
				for h := range H {
					hs = append(hs, score(heads[l*n*H+i*H+h], syms))
				}
				r.Heads = append(r.Heads, hs)
			}
			out[j] = r
		}
	}
	return out, nil
}

func lensExec(pm Model) *gomlxctx.Exec {
	m := pm.M
	return gomlxctx.MustNewExec(pm.Backend, pm.Ctx, func(ctx *gomlxctx.Context, tok *graph.Node) []*graph.Node {
		L := m.Config.NumLayers
		h := ml.NewHooks()
		for l := range L {
			for _, c := range Components {
				h.Capture(ml.HookPoint{Layer: l, Site: site(c)})
			}
			h.Capture(ml.HookPoint{Layer: l, Site: ml.SiteHeads})
		}
		o := m.Forward(ctx, ml.Inputs{Tokens: tok, Hooks: h})
		lens := func(x *graph.Node) *graph.Node { return m.Head(ctx, m.FinalNorm(ctx, x)) }
		outs := []*graph.Node{graph.Squeeze(lastPos(o.Logits), 1)}
		for _, c := range Components {
			for l := range L {
				outs = append(outs, graph.Squeeze(lens(lastPos(h.Captured(ml.HookPoint{Layer: l, Site: site(c)}))), 1))
			}
		}
		for l := range L {
			per := m.HeadOutputs(ctx, l, lastPos(h.Captured(ml.HookPoint{Layer: l, Site: ml.SiteHeads}))) // [B, 1, H, d]
			outs = append(outs, graph.Squeeze(lens(per), 1))                                              // [B, H, V]
		}
		return outs
	})
}

func symbolIDs(p task.Prompt) []int {
	ids := make([]int, len(p.Symbols))
	for i, s := range p.Symbols {
		ids[i] = int(s[0])
	}
	return ids
}

// byLength groups prompt indices by text length, in first-seen order.
func byLength(ps []task.Prompt) [][]int {
	pos := map[int]int{}
	var out [][]int
	for i, p := range ps {
		k, ok := pos[len(p.Text)]
		if !ok {
			k = len(out)
			pos[len(p.Text)] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], i)
	}
	return out
}

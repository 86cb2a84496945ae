package ml

import (
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TestTwoModelsInOneContext puts a policy and a reference model under
// /policy and /ref of one context, loads the same weights into both, and
// checks that they give the same logits, that every variable lives at
// <scope>/model/... (no second "model", no fresh head) and that the logit
// lens under a scope uses the forward pass's final norm and head.
func TestTwoModelsInOneContext(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, err := NewTransformer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	SetInitSeed(ctx, 3)
	tok := tensors.FromFlatDataAndDimensions([]int32{1, 5, 2, 9, 3}, 1, 5)
	last := HookPoint{cfg.NumLayers - 1, SiteResidOut}
	exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) []*graph.Node {
		var outs []*graph.Node
		for _, scope := range []string{"policy", "ref"} {
			sctx := ctx.In(scope)
			h := NewHooks().Capture(last)
			out := m.Forward(sctx, Inputs{Tokens: tok, Hooks: h})
			lens := m.Head(sctx, m.FinalNorm(sctx, h.Captured(last)))
			outs = append(outs, out.Logits, lens)
		}
		return outs
	})
	// Same initial values in both scopes: copy the policy's into the reference.
	exec.MustExec(tok)
	for _, v := range VariablesUnder(ctx, "/policy") {
		rv := ctx.InAbsPath("/ref" + v.Scope()[len("/policy"):]).InspectVariableInScope(v.Name())
		if rv == nil {
			t.Fatalf("/ref has no counterpart of %s", v.ScopeAndName())
		}
		setValue(t, rv, tensors.FromAnyValue(v.MustValue().Value()))
	}
	outs := exec.MustExec(tok)
	closeSlices(t, "reference logits vs policy logits", flat64(outs[2]), flat64(outs[0]), 0)
	closeSlices(t, "policy logit lens of the last residual", flat64(outs[1]), flat64(outs[0]), 1e-12)
	closeSlices(t, "reference logit lens of the last residual", flat64(outs[3]), flat64(outs[2]), 1e-12)

	var names []string
	for v := range ctx.IterVariables() {
		names = append(names, TensorName(v))
	}
	sort.Strings(names)
	for _, want := range []string{"policy.model.head.weights", "ref.model.head.weights", "ref.model.final_norm.gain"} {
		if i := sort.SearchStrings(names, want); i == len(names) || names[i] != want {
			t.Errorf("no variable %s", want)
		}
	}
	for _, n := range names {
		for _, bad := range []string{"model.model.", "policy.head.", "ref.head.", "policy.final_norm", "ref.final_norm"} {
			if strings.Contains(n, bad) {
				t.Errorf("stray variable %s (a second head or norm)", n)
			}
		}
	}
}

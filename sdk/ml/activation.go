package ml

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// SiLUMul is silu(gate)·up = gate·σ(gate)·up, SwiGLU's activation, with its
// gradient written out:
//
//	d up   = dy · gate·σ(gate)
//	d gate = dy · up · (σ(gate)·(1 − gate·σ(gate)) + gate·σ(gate))
//
// reusing σ(gate) and gate·σ(gate) from the forward pass: 9 element-wise
// passes over the hidden activation per step where GoMLX's autodiff of the
// three forward ops builds 13 (on the CPU backend each is a full pass over
// tokens × hidden values). The gradients are attached with the same
// custom-gradient identities as DotGeneral (the stock ones are built but
// never executed).
func SiLUMul(gate, up *graph.Node) *graph.Node {
	if !gate.Shape().Equal(up.Shape()) {
		panic(fmt.Sprintf("ml.SiLUMul: gate %s and up %s must have the same shape", gate.Shape(), up.Shape()))
	}
	var dy, s, a, upG *graph.Node
	need := func() *graph.Node {
		if dy == nil {
			panic("ml.SiLUMul: operand gradient requested before the output gradient")
		}
		return dy
	}
	gateG := graph.IdentityWithCustomGradient(gate, func(_, _ *graph.Node) *graph.Node {
		ds := graph.Add(graph.Mul(s, graph.OneMinus(a)), a) // d silu / d gate
		return graph.Mul(graph.Mul(need(), upG), ds)
	})
	upG = graph.IdentityWithCustomGradient(up, func(_, _ *graph.Node) *graph.Node {
		return graph.Mul(need(), a)
	})
	s = graph.Sigmoid(gateG)
	a = graph.Mul(gateG, s)
	y := graph.Mul(a, upG)
	return graph.IdentityWithCustomGradient(y, func(_, v *graph.Node) *graph.Node {
		dy = v
		return v
	})
}

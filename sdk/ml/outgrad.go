package ml

import "github.com/gomlx/gomlx/pkg/core/graph"

// outputGrad carries an op's output gradient to the custom gradients of its
// operands, the pattern behind every gradient this kit writes out: the
// operands pass through graph.IdentityWithCustomGradient identities whose
// functions call Get, and the output through Capture. graph.Gradient visits
// the output's identity first (reverse order), so Get finds the gradient
// set; if it does not, the visit order changed and Get panics naming op.
type outputGrad struct {
	op string
	dy *graph.Node
}

// Capture returns y through an identity that records its gradient.
func (o *outputGrad) Capture(y *graph.Node) *graph.Node {
	return graph.IdentityWithCustomGradient(y, func(_, v *graph.Node) *graph.Node {
		o.dy = v
		return v
	})
}

// Get is the output gradient recorded by Capture.
func (o *outputGrad) Get() *graph.Node {
	if o.dy == nil {
		panic(o.op + ": operand gradient requested before the output gradient; graph.Gradient visit order changed?")
	}
	return o.dy
}

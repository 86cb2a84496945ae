package dotrec

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Matmuls runs a graph holding only the recorded products, on random
// inputs: the denominator of every benchmark's matmul_ratio.
type Matmuls struct {
	exec   *graph.Exec
	inputs []any
}

// NewMatmuls builds the products' graph and returns it with their FLOPs.
func NewMatmuls(backend backends.Backend, dots []DotShape) (*Matmuls, float64, error) {
	var inputs []any
	var flops float64
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range dots {
		for _, sh := range []shapes.Shape{d.LHS, d.RHS} {
			t := tensors.FromShape(sh)
			if sh.DType == dtypes.Float32 {
				tensors.MustMutableFlatData(t, func(f []float32) {
					for i := range f {
						f[i] = float32(rng.NormFloat64())
					}
				})
			}
			inputs = append(inputs, t)
		}
		flops += d.FLOPs()
	}
	fn := GraphFn(dots)
	exec, err := graph.NewExec(backend, func(in []*graph.Node) *graph.Node { return fn(in) })
	if err != nil {
		return nil, 0, err
	}
	return &Matmuls{exec: exec, inputs: inputs}, flops, nil
}

// Run times one execution.
func (r *Matmuls) Run() (time.Duration, error) {
	t0 := time.Now()
	out, err := r.exec.Exec(r.inputs...)
	if err != nil {
		return 0, err
	}
	_ = out[0].Value() // bring the result to the host, as the step does with its loss
	d := time.Since(t0)
	out[0].FinalizeAll()
	return d, nil
}

// FLOPs of one product: 2·(output size)·(contracted size), the batch
// dimensions counted in both operand sizes and so divided out once.
func (d DotShape) FLOPs() float64 {
	contracted, batch := 1, 1
	for _, a := range d.LHSContract {
		contracted *= d.LHS.Dim(a)
	}
	for _, a := range d.LHSBatch {
		batch *= d.LHS.Dim(a)
	}
	return 2 * float64(d.LHS.Size()/contracted) * float64(d.RHS.Size()) / float64(batch)
}

// CheckFloat32 refuses products of another dtype, for the benchmarks whose
// matmul-only graph compares with a float32 step.
func CheckFloat32(dots []DotShape) error {
	for _, d := range dots {
		if d.LHS.DType != dtypes.Float32 {
			return fmt.Errorf("product of %s: only float32 models are benchmarked", d.LHS.DType)
		}
	}
	return nil
}

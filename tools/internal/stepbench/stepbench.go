// Package stepbench holds what the training-step benchmarks (benchtrain,
// benchdpo) share: a graph made only of a step's recorded matrix products,
// timed interleaved with the steps, and the statistics of the timings.
package stepbench

import (
	"math/rand/v2"
	"sort"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/shammie-ml/shammie/internal/dotrec"
)

// Matmuls runs a graph holding only the recorded products, on random inputs.
type Matmuls struct {
	exec   *graph.Exec
	inputs []any
}

// NewMatmuls builds the products' graph and returns it with their FLOPs.
func NewMatmuls(backend backends.Backend, dots []dotrec.DotShape) (*Matmuls, float64, error) {
	var inputs []any
	var flops float64
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range dots {
		for _, sh := range []shapes.Shape{d.LHS, d.RHS} {
			t := tensors.FromShape(sh)
			if sh.DType.String() == "Float32" {
				tensors.MustMutableFlatData(t, func(f []float32) {
					for i := range f {
						f[i] = float32(rng.NormFloat64())
					}
				})
			}
			inputs = append(inputs, t)
		}
		// 2·(output size)·(contracted size)
		contracted := 1
		for _, a := range d.LHSContract {
			contracted *= d.LHS.Dim(a)
		}
		flops += 2 * float64(d.LHS.Size()/contracted) * float64(d.RHS.Size()) / float64(batchSize(d))
	}
	fn := dotrec.GraphFn(dots)
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

// batchSize is the product of the batch dimensions of a product (counted in
// both operand sizes, so divided out once).
func batchSize(d dotrec.DotShape) int {
	n := 1
	for _, a := range d.LHSBatch {
		n *= d.LHS.Dim(a)
	}
	return n
}

// Median of durations.
func Median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// MedianF of values.
func MedianF(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// Min of durations.
func Min(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

// MS is d in milliseconds.
func MS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

package ml

import (
	"fmt"
	"runtime"
	"sync"
	"weak"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Mixed precision, the torch.autocast way: weights (the optimizer's master
// copies), activations, norms, softmax and the loss stay in the model's
// dtype (float32); only the matrix products run in the compute dtype
// (bfloat16): ml.DotGeneral converts both operands, multiplies, and converts
// the product back. Gradients flow through the conversions, so each weight's
// gradient arrives in float32 and AdamW updates float32 masters.
//
// Why at the product and not the whole graph: the products are where a
// GPU's bf16 tensor cores pay (about 16× the f32 rate on an H100/H200), and
// XLA fuses the conversions into the neighbouring elementwise kernels; a
// fully bf16 graph would also need float32 copies of every weight kept by
// hand and a loss converted back, for a bandwidth gain on the elementwise
// work only.
//
// The compute dtype is a property of a graph: Transformer.Forward marks its
// graph when Config.ComputeDType is "bfloat16", and every ml.DotGeneral built
// in that graph (attention, SwiGLU, MoE experts, head, scorer, decoder)
// follows it.

// Compute dtypes a Config may name.
const (
	ComputeFloat32  = "float32"
	ComputeBFloat16 = "bfloat16"
)

// computeDTypes maps graphs (weakly: a finished graph is collected and its
// entry removed) to the dtype their matrix products run in.
var computeDTypes = struct {
	sync.Mutex
	m map[weak.Pointer[graph.Graph]]dtypes.DType
}{m: map[weak.Pointer[graph.Graph]]dtypes.DType{}}

// SetComputeDType makes every ml.DotGeneral (MatMul, Dense) built in g from
// now on multiply in dt, converting its floating-point operands and
// converting the product back to their dtype. dtypes.InvalidDType clears it.
// Transformer.Forward calls it from Config.ComputeDType; other graphs may
// call it directly.
func SetComputeDType(g *graph.Graph, dt dtypes.DType) {
	key := weak.Make(g)
	computeDTypes.Lock()
	defer computeDTypes.Unlock()
	if dt == dtypes.InvalidDType {
		delete(computeDTypes.m, key)
		return
	}
	if _, ok := computeDTypes.m[key]; !ok {
		runtime.AddCleanup(g, func(k weak.Pointer[graph.Graph]) {
			computeDTypes.Lock()
			delete(computeDTypes.m, k)
			computeDTypes.Unlock()
		}, key)
	}
	computeDTypes.m[key] = dt
}

// ComputeDType is the dtype g's matrix products run in, if one was set.
func ComputeDType(g *graph.Graph) (dtypes.DType, bool) {
	computeDTypes.Lock()
	defer computeDTypes.Unlock()
	dt, ok := computeDTypes.m[weak.Make(g)]
	return dt, ok
}

// mixedOperands says whether a product of lhs and rhs must be computed in
// another dtype, and which: only floating-point operands of a wider dtype
// than the graph's compute dtype are converted.
func mixedOperands(lhs, rhs *graph.Node) (dtypes.DType, bool) {
	dt, ok := ComputeDType(lhs.Graph())
	if !ok || (lhs.DType() == dt && rhs.DType() == dt) {
		return dt, false
	}
	return dt, lhs.DType().IsFloat() && rhs.DType().IsFloat() && lhs.DType().Size() > dt.Size()
}

// computeDTypeOf parses Config.ComputeDType ("" means the model's dtype).
func computeDTypeOf(name string) (dtypes.DType, bool, error) {
	switch name {
	case "", ComputeFloat32:
		return dtypes.InvalidDType, false, nil
	case ComputeBFloat16:
		return dtypes.BFloat16, true, nil
	}
	return dtypes.InvalidDType, false, fmt.Errorf("model config: compute_dtype must be %q or %q, got %q", ComputeFloat32, ComputeBFloat16, name)
}

package ml

import (
	"hash/fnv"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// seedParam is the context parameter holding the initialisation seed.
const seedParam = "shammie_init_seed"

// SetInitSeed makes every variable later created through Weight/Dense (and
// the transformer) start from values drawn from seed. Each variable gets its
// own stream, derived from the seed and its full scope+name, so the values do
// not depend on the order in which variables are created nor on the backend.
func SetInitSeed(ctx *context.Context, seed int64) {
	ctx.InAbsPath(context.RootScope).SetParam(seedParam, seed)
}

// Weight returns the variable name in ctx's scope, creating it — if it does
// not exist yet — with normal(0, std) values (std 0: zeros; std < 0: ones,
// for norm gains). Values are generated on the host, so they are identical on
// every backend. Inside a scope filled by LoadVariables or LoadModel it
// panics instead (naming the file and the tensor it lacks): a missing
// weight means the file belongs to another model.
func Weight(ctx *context.Context, name string, shape shapes.Shape, std float64) *context.Variable {
	if v := ctx.InspectVariableInScope(name); v != nil {
		return v
	}
	checkNotLoaded(ctx, name, shape)
	seed := context.GetParamOr(ctx, seedParam, int64(0))
	t := initTensor(seed, context.JoinScope(ctx.Scope(), name), shape, std)
	return ctx.VariableWithValue(name, t)
}

func initTensor(seed int64, fullName string, shape shapes.Shape, std float64) *tensors.Tensor {
	h := fnv.New64a()
	_, _ = h.Write([]byte(fullName))
	rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	vals := make([]float64, shape.Size())
	for i := range vals {
		switch {
		case std > 0:
			vals[i] = rng.NormFloat64() * std
		case std < 0:
			vals[i] = 1
		}
	}
	return tensorFromFloat64(shape, vals)
}

// tensorFromFloat64 builds a tensor of shape (float32 or float64) from values.
func tensorFromFloat64(shape shapes.Shape, vals []float64) *tensors.Tensor {
	t := tensors.FromShape(shape)
	switch shape.DType {
	case dtypes.Float32:
		tensors.MutableFlatData(t, func(flat []float32) {
			for i, v := range vals {
				flat[i] = float32(v)
			}
		})
	case dtypes.Float64:
		tensors.MutableFlatData(t, func(flat []float64) { copy(flat, vals) })
	default:
		panic("ml: only float32 and float64 weights are supported, got " + shape.DType.String())
	}
	return t
}

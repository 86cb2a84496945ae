// Package operators holds the merge operators over one tensor of several
// checkpoints of the same architecture: linear (weighted average), task
// arithmetic, TIES, DARE (with or without TIES' sign election) and WiSE-FT.
// They work on flat float slices, one tensor at a time, so a caller can
// stream checkpoints larger than memory through them.
//
// Semantics follow mergekit's generalized task arithmetic
// (mergekit/merge_methods/generalized_task_arithmetic.py, sparsify.py):
// task vectors δᵢ = θᵢ − θ₀ are sparsified per tensor (TIES: keep the
// top-k magnitudes, k = ⌊density·n⌋; DARE: keep each entry with probability
// 1−p and rescale by 1/(1−p)), weighted (wᵢδᵢ), optionally sign-elected
// (TIES: the sign of Σ wᵢδᵢ, ties to +; an entry counts only where its sign
// equals the elected one, so trimmed zeros never count), summed, optionally
// normalised by the sum of the counted weights (TIES' disjoint mean), scaled
// by λ and added to θ₀.
//
// Top-k is per tensor, as in mergekit; the TIES paper (Yadav et al. 2023)
// trims over the whole flattened model, which needs a second pass over the
// checkpoints (to find the global threshold). Per tensor keeps k% of every
// tensor, so small tensors (norm gains) are never wiped out by large ones.
package operators

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

// Method names, as written in specs.
const (
	Linear         = "linear"
	TaskArithmetic = "task_arithmetic"
	TIES           = "ties"
	DARE           = "dare"
	DARETIES       = "dare_ties"
	WiSEFT         = "wise_ft"
)

// Methods lists every method.
var Methods = []string{Linear, TaskArithmetic, TIES, DARE, DARETIES, WiSEFT}

// Spec is one merge.
type Spec struct {
	Method string
	// Weights has one weight per fine-tuned model: wᵢ (linear: the
	// mixture weights, summing to 1; wise_ft: the single α).
	Weights []float64
	// Density is the fraction of each task vector TIES keeps (top-k by
	// magnitude); 1 keeps all.
	Density float64
	// DropRate is DARE's p: each task-vector entry is dropped with
	// probability p and the survivors rescaled by 1/(1−p).
	DropRate float64
	// Normalize divides the summed weighted task vectors by the sum of the
	// weights that count at each entry (TIES' disjoint mean).
	Normalize bool
	// Scale is λ, applied to the combined task vector.
	Scale float64
	// Seed seeds DARE's drops, per tensor name and model, so a tensor's
	// result does not depend on the order tensors are visited in.
	Seed uint64
}

// UsesBase reports whether the method needs the base model θ₀.
func UsesBase(method string) bool { return method != Linear }

// Check validates the spec for n fine-tuned models; the messages suit a
// config diagnostic.
func (s Spec) Check(n int) error {
	if !slices.Contains(Methods, s.Method) {
		return fmt.Errorf("unknown method %q; use one of %v", s.Method, Methods)
	}
	if n == 0 {
		return errors.New("no models to merge")
	}
	if s.Method == WiSEFT && n != 1 {
		return fmt.Errorf("wise_ft interpolates the base with one fine-tuned model; got %d models", n)
	}
	if len(s.Weights) != n {
		return fmt.Errorf("%d weights for %d models: give one weight per model", len(s.Weights), n)
	}
	var sum float64
	for i, w := range s.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("weight %d is %v", i, w)
		}
		sum += w
	}
	switch s.Method {
	case Linear:
		for i, w := range s.Weights {
			if w < 0 {
				return fmt.Errorf("linear: weight %d is %v; mixture weights are non-negative", i, w)
			}
		}
		if math.Abs(sum-1) > 1e-6 {
			return fmt.Errorf("linear: weights sum to %v; a weighted average needs them to sum to 1", sum)
		}
	case WiSEFT:
		if a := s.Weights[0]; a < 0 || a > 1 {
			return fmt.Errorf("wise_ft: α = %v; WiSE-FT interpolates, α must be in [0, 1]", a)
		}
	case TIES, DARETIES:
		if s.Normalize && sum == 0 {
			return errors.New("weights sum to 0: the disjoint mean divides by them")
		}
	}
	if s.Method == TIES && !(s.Density > 0 && s.Density <= 1) {
		return fmt.Errorf("density %v: the kept fraction must be in (0, 1]", s.Density)
	}
	if (s.Method == DARE || s.Method == DARETIES) && !(s.DropRate >= 0 && s.DropRate < 1) {
		return fmt.Errorf("drop_rate %v: must be in [0, 1)", s.DropRate)
	}
	if math.IsNaN(s.Scale) || math.IsInf(s.Scale, 0) {
		return fmt.Errorf("scale is %v", s.Scale)
	}
	return nil
}

// Float is the element type operators compute in.
type Float interface{ ~float32 | ~float64 }

// Merge writes the merged tensor to out. base is θ₀ (nil for linear);
// models holds θᵢ and is overwritten (it becomes scratch space). name is
// the tensor's name, which seeds DARE.
func Merge[F Float](s Spec, name string, base []F, models [][]F, out []F) {
	switch s.Method {
	case Linear:
		clear(out)
		for i, m := range models {
			axpy(out, F(s.Weights[i]), m)
		}
		return
	case WiSEFT:
		a := F(s.Weights[0])
		for j := range out {
			out[j] = (1-a)*base[j] + a*models[0][j]
		}
		return
	}
	for _, m := range models {
		for j := range m {
			m[j] -= base[j]
		}
	}
	switch s.Method {
	case TIES, DARETIES:
		if s.Method == TIES {
			for _, d := range models {
				TrimTopK(d, s.Density)
			}
		} else {
			for i, d := range models {
				Drop(d, s.DropRate, s.Seed, name, i)
			}
		}
		combineElected(s, base, models, out)
	default: // task_arithmetic, dare
		if s.Method == DARE {
			for i, d := range models {
				Drop(d, s.DropRate, s.Seed, name, i)
			}
		}
		clear(out)
		var wsum float64
		for i, d := range models {
			axpy(out, F(s.Weights[i]), d)
			wsum += s.Weights[i]
		}
		scale := s.Scale
		if s.Normalize && math.Abs(wsum) >= 1e-8 {
			scale /= wsum
		}
		for j := range out {
			out[j] = base[j] + F(scale)*out[j]
		}
	}
}

func axpy[F Float](dst []F, a F, x []F) {
	for j := range dst {
		dst[j] += a * x[j]
	}
}

// combineElected is TIES' sign election and (disjoint) merge of the
// sparsified task vectors.
func combineElected[F Float](s Spec, base []F, deltas [][]F, out []F) {
	for j := range out {
		var mass F
		for i, d := range deltas {
			mass += F(s.Weights[i]) * d[j]
		}
		elected := F(1)
		if mass < 0 {
			elected = -1
		}
		var sum, div F
		for i, d := range deltas {
			wd := F(s.Weights[i]) * d[j]
			if (wd > 0 && elected > 0) || (wd < 0 && elected < 0) {
				sum += wd
				div += F(s.Weights[i])
			}
		}
		if s.Normalize && div != 0 {
			sum /= div
		}
		out[j] = base[j] + F(s.Scale)*sum
	}
}

// TrimTopK keeps the k = ⌊density·n⌋ (at least 1) entries of d of largest
// magnitude and zeroes the rest; among equal magnitudes the earlier entry
// is kept, so the result is deterministic.
func TrimTopK[F Float](d []F, density float64) {
	n := len(d)
	if density >= 1 || n == 0 {
		return
	}
	k := max(int(density*float64(n)), 1)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	abs := func(x F) F {
		if x < 0 {
			return -x
		}
		return x
	}
	slices.SortFunc(idx, func(a, b int32) int {
		switch xa, xb := abs(d[a]), abs(d[b]); {
		case xa > xb:
			return -1
		case xa < xb:
			return 1
		}
		return int(a - b)
	})
	for _, i := range idx[k:] {
		d[i] = 0
	}
}

// Drop is DARE: each entry is kept with probability 1−p and rescaled by
// 1/(1−p). The draws come from a generator seeded by (seed, tensor name,
// model index) alone.
func Drop[F Float](d []F, p float64, seed uint64, name string, model int) {
	if p == 0 {
		return
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(seed, h.Sum64()^(uint64(model+1)*0x9e3779b97f4a7c15)))
	keep := 1 - p
	inv := F(1 / keep)
	for j := range d {
		if r.Float64() < keep {
			d[j] *= inv
		} else {
			d[j] = 0
		}
	}
}

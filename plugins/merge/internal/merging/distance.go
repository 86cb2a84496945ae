package merging

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// Distance is ‖θ − θref‖ / ‖θref − θ₀‖ over every floating-point tensor:
// how far a merge lands from a reference model (e.g. the planted ideal),
// relative to the reference's own task vector. It streams the three files
// one tensor at a time.
func Distance(ctx context.Context, merged, ref, base string) (float64, error) {
	files, err := ml.OpenCheckpoints([]string{merged, ref, base})
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var num, den float64
	bufs := make([][]byte, 3)
	var vals [3][]float64
	for _, ti := range files[0].Tensors() {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		switch ti.DType {
		case dtypes.Float32, dtypes.Float64, dtypes.Float16, dtypes.BFloat16:
		default:
			continue
		}
		for k, f := range files {
			if bufs[k], err = f.ReadBytes(ti.Name, bufs[k]); err != nil {
				return 0, err
			}
			vals[k] = grow([][]float64{vals[k]}, 1, int(ti.Elements()))[0]
			decode(ti.DType, bufs[k], vals[k])
		}
		for j, m := range vals[0] {
			d, r := m-vals[1][j], vals[1][j]-vals[2][j]
			num += d * d
			den += r * r
		}
	}
	if den == 0 {
		return 0, fmt.Errorf("reference %s equals the base %s: no task vector to compare with", ref, base)
	}
	return math.Sqrt(num / den), nil
}

// VectorStats describe task vectors δᵢ = θᵢ − θ₀: their norms, the base's,
// and the cosine between every two, over every floating-point tensor. Merge
// to Learn's premise is that fine-tuning moves little (‖δ‖ ≪ ‖θ₀‖) and in
// nearly orthogonal directions, so the vectors add without interfering.
type VectorStats struct {
	BaseNorm float64     `json:"base_norm"`
	Norms    []float64   `json:"norms"`
	Cosine   [][]float64 `json:"cosine"`
}

// TaskVectors streams base and models one tensor at a time and returns
// their VectorStats.
func TaskVectors(ctx context.Context, base string, models []string) (VectorStats, error) {
	files, err := ml.OpenCheckpoints(append([]string{base}, models...))
	if err != nil {
		return VectorStats{}, err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	k := len(models)
	dot := make([][]float64, k)
	for i := range dot {
		dot[i] = make([]float64, k)
	}
	var baseSq float64
	bufs := make([][]byte, k+1)
	vals := make([][]float64, k+1)
	for _, ti := range files[0].Tensors() {
		if err := ctx.Err(); err != nil {
			return VectorStats{}, err
		}
		switch ti.DType {
		case dtypes.Float32, dtypes.Float64, dtypes.Float16, dtypes.BFloat16:
		default:
			continue
		}
		for i, f := range files {
			if bufs[i], err = f.ReadBytes(ti.Name, bufs[i]); err != nil {
				return VectorStats{}, err
			}
			vals[i] = grow([][]float64{vals[i]}, 1, int(ti.Elements()))[0]
			decode(ti.DType, bufs[i], vals[i])
		}
		for j, b := range vals[0] {
			baseSq += b * b
			for p := range k {
				dp := vals[p+1][j] - b
				for q := p; q < k; q++ {
					dot[p][q] += dp * (vals[q+1][j] - b)
				}
			}
		}
	}
	s := VectorStats{BaseNorm: math.Sqrt(baseSq), Norms: make([]float64, k), Cosine: make([][]float64, k)}
	for p := range k {
		s.Norms[p] = math.Sqrt(dot[p][p])
	}
	for p := range k {
		s.Cosine[p] = make([]float64, k)
		for q := range k {
			a, b := min(p, q), max(p, q)
			if n := s.Norms[p] * s.Norms[q]; n > 0 {
				s.Cosine[p][q] = dot[a][b] / n
			}
		}
	}
	return s, nil
}

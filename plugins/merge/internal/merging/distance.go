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

package ml

import (
	gocontext "context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// WeightedSum writes θ = Σ wᵢθᵢ of checkpoints of one architecture (model
// artifacts or plain safetensors), streamed with MapSafetensors: one tensor
// per input in memory. The first input's metadata is kept, so the weighted
// sum of model artifacts is a model artifact (Rewarded Soups, Ramé et al.
// 2023: weights on the simplex average K fine-tunings of one model).
// Float32 and float64 tensors are summed in float64.
func WeightedSum(ctx gocontext.Context, out string, inputs []string, weights []float64) error {
	if len(inputs) != len(weights) || len(inputs) == 0 {
		return fmt.Errorf("weighted sum: %d checkpoints, %d weights", len(inputs), len(weights))
	}
	meta, err := ReadSafetensorsMetadata(inputs[0])
	if err != nil {
		return err
	}
	return MapSafetensors(ctx, out, inputs, MapOptions{Metadata: meta}, func(t MapTensor, dst []byte) error {
		switch t.DType {
		case dtypes.Float32:
			for o := 0; o < len(dst); o += 4 {
				var s float64
				for i, in := range t.In {
					s += weights[i] * float64(math.Float32frombits(binary.LittleEndian.Uint32(in[o:])))
				}
				binary.LittleEndian.PutUint32(dst[o:], math.Float32bits(float32(s)))
			}
		case dtypes.Float64:
			for o := 0; o < len(dst); o += 8 {
				var s float64
				for i, in := range t.In {
					s += weights[i] * math.Float64frombits(binary.LittleEndian.Uint64(in[o:]))
				}
				binary.LittleEndian.PutUint64(dst[o:], math.Float64bits(s))
			}
		default:
			return fmt.Errorf("weighted sum of %s tensors is not supported (float32, float64)", t.DType)
		}
		return nil
	})
}

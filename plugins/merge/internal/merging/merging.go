// Package merging streams checkpoints through the merge operators: one
// tensor of every input in memory at a time (ml.MapSafetensors), decoded to
// float32 (F32, F16, BF16) or float64 (F64), merged, encoded back to the
// inputs' dtype. Integer and bool tensors are not merged: they must be
// equal in every input and are copied.
package merging

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/x448/float16"

	"github.com/shammie-ml/shammie/plugins/merge/internal/operators"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Job is one merge.
type Job struct {
	Base   string   // θ₀; "" for linear
	Models []string // θᵢ, one per weight
	Spec   operators.Spec
	Out    string
	// Metadata adds keys to the output's metadata (after the merge.* ones).
	Metadata map[string]string
	// Progress, when set, gets the input bytes read so far and in all.
	Progress func(done, total int64)
}

// Inputs lists the files a job reads, base first.
func (j Job) Inputs() []string {
	if operators.UsesBase(j.Spec.Method) {
		return append([]string{j.Base}, j.Models...)
	}
	return j.Models
}

// Stats describes a finished merge.
type Stats struct {
	Tensors    int
	Parameters int64 // merged (floating-point) values
	BytesRead  int64
}

// Run merges. The output's metadata is the first input's (so a model
// artifact's config travels with it) plus merge.* keys recording the
// merge. On any error nothing is written at Out.
func Run(ctx context.Context, j Job) (Stats, error) {
	if err := j.Spec.Check(len(j.Models)); err != nil {
		return Stats{}, err
	}
	inputs := j.Inputs()
	first, err := ml.OpenSafetensors(inputs[0])
	if err != nil {
		return Stats{}, err
	}
	meta := maps.Clone(first.Metadata)
	first.Close()
	maps.Copy(meta, Metadata(j.Spec))
	maps.Copy(meta, j.Metadata)
	var st Stats
	var f32 [][]float32
	var f64 [][]float64
	opts := ml.MapOptions{Metadata: meta, Progress: func(_ string, done, total int64) {
		st.BytesRead = done
		if j.Progress != nil {
			j.Progress(done, total)
		}
	}}
	err = ml.MapSafetensors(ctx, j.Out, inputs, opts, func(t ml.MapTensor, out []byte) error {
		st.Tensors++
		switch t.DType {
		case dtypes.Float32, dtypes.Float16, dtypes.BFloat16:
			f32 = grow(f32, len(t.In)+1, len(out)/t.DType.Size())
			mergeTensor(j, t, f32, out)
		case dtypes.Float64:
			f64 = grow(f64, len(t.In)+1, len(out)/8)
			mergeTensor(j, t, f64, out)
		default:
			for k, in := range t.In[1:] {
				if !bytes.Equal(in, t.In[0]) {
					return fmt.Errorf("%s tensor differs between %s and %s; only floating-point tensors are merged, others must be equal",
						t.DType, inputs[0], inputs[k+1])
				}
			}
			copy(out, t.In[0])
			return nil
		}
		st.Parameters += int64(len(out) / t.DType.Size())
		return nil
	})
	return st, err
}

// Metadata records a merge in the output's __metadata__.
func Metadata(s operators.Spec) map[string]string {
	ws := make([]string, len(s.Weights))
	for i, w := range s.Weights {
		ws[i] = strconv.FormatFloat(w, 'g', -1, 64)
	}
	m := map[string]string{"merge.method": s.Method, "merge.weights": strings.Join(ws, ",")}
	switch s.Method {
	case operators.TIES:
		m["merge.density"] = strconv.FormatFloat(s.Density, 'g', -1, 64)
	case operators.DARE, operators.DARETIES:
		m["merge.drop_rate"] = strconv.FormatFloat(s.DropRate, 'g', -1, 64)
		m["merge.seed"] = strconv.FormatUint(s.Seed, 10)
	}
	if s.Method != operators.Linear && s.Method != operators.WiSEFT {
		m["merge.scale"] = strconv.FormatFloat(s.Scale, 'g', -1, 64)
		m["merge.normalize"] = strconv.FormatBool(s.Normalize)
	}
	return m
}

func grow[F operators.Float](bufs [][]F, k, n int) [][]F {
	for len(bufs) < k {
		bufs = append(bufs, nil)
	}
	for i := range bufs {
		if cap(bufs[i]) < n {
			bufs[i] = make([]F, n)
		}
		bufs[i] = bufs[i][:n]
	}
	return bufs
}

func mergeTensor[F operators.Float](j Job, t ml.MapTensor, bufs [][]F, out []byte) {
	for k, in := range t.In {
		decode(t.DType, in, bufs[k])
	}
	res := bufs[len(t.In)]
	var base []F
	models := bufs[:len(t.In)]
	if operators.UsesBase(j.Spec.Method) {
		base, models = bufs[0], bufs[1:len(t.In)]
	}
	operators.Merge(j.Spec, t.Name, base, models, res)
	encode(t.DType, res, out)
}

func decode[F operators.Float](dt dtypes.DType, src []byte, dst []F) {
	switch dt {
	case dtypes.Float32:
		for i := range dst {
			dst[i] = F(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
		}
	case dtypes.Float64:
		for i := range dst {
			dst[i] = F(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case dtypes.Float16:
		for i := range dst {
			dst[i] = F(float16.Frombits(binary.LittleEndian.Uint16(src[2*i:])).Float32())
		}
	case dtypes.BFloat16:
		for i := range dst {
			dst[i] = F(math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16))
		}
	}
}

func encode[F operators.Float](dt dtypes.DType, src []F, dst []byte) {
	switch dt {
	case dtypes.Float32:
		for i, x := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(float32(x)))
		}
	case dtypes.Float64:
		for i, x := range src {
			binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(float64(x)))
		}
	case dtypes.Float16:
		for i, x := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], float16.Fromfloat32(float32(x)).Bits())
		}
	case dtypes.BFloat16:
		for i, x := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], bf16RNE(float32(x)))
		}
	}
}

// bf16RNE rounds to the nearest bfloat16, ties to even, as PyTorch does
// (GoMLX's bfloat16.FromFloat32 truncates).
func bf16RNE(x float32) uint16 {
	b := math.Float32bits(x)
	if x != x { // NaN: keep it a quiet NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

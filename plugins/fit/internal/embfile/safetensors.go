package embfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// Safetensors is the content of a safetensors file as float32 arrays.
type Safetensors struct {
	// Names sorted (sdk/ml writes tensors in name order).
	Names    []string
	Tensors  map[string]Array
	Metadata map[string]string
}

// ReadSafetensors reads every tensor of a safetensors file with sdk/ml's
// reader (the project's one implementation of the format) and converts it
// to float32. F32, F64, F16 and BF16 tensors are accepted; other dtypes and
// non-finite values are errors naming the file and the tensor.
func ReadSafetensors(path string) (*Safetensors, error) {
	ts, meta, err := ml.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	st := &Safetensors{Tensors: map[string]Array{}, Metadata: meta}
	for name := range ts {
		st.Names = append(st.Names, name)
	}
	sort.Strings(st.Names)
	for _, name := range st.Names {
		a, err := toArray(ts[name])
		ts[name].FinalizeAll()
		if err == nil {
			err = checkFinite(a)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, name, err)
		}
		st.Tensors[name] = a
	}
	return st, nil
}

func toArray(t *tensors.Tensor) (Array, error) {
	sh := t.Shape()
	a := Array{Shape: append([]int{}, sh.Dimensions...)}
	n := sh.Size()
	a.Data = make([]float32, n)
	var convErr error
	err := t.ConstBytes(func(b []byte) {
		switch sh.DType {
		case dtypes.Float32:
			for i := range a.Data {
				a.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		case dtypes.Float64:
			for i := range a.Data {
				a.Data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
			}
		case dtypes.Float16:
			for i := range a.Data {
				a.Data[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
			}
		case dtypes.BFloat16:
			for i := range a.Data {
				a.Data[i] = bf16ToFloat(binary.LittleEndian.Uint16(b[2*i:]))
			}
		default:
			convErr = fmt.Errorf("dtype %s is not a float type (F32, F64, F16, BF16)", sh.DType)
		}
	})
	if err != nil {
		return Array{}, err
	}
	return a, convErr
}

// WriteSafetensors writes the named arrays as F32 tensors with string
// metadata, through sdk/ml's writer (atomic; tensors stored in name order).
func WriteSafetensors(path string, names []string, arrays map[string]Array, metadata map[string]string) error {
	ts := make([]ml.NamedTensor, 0, len(names))
	defer func() {
		for _, nt := range ts {
			nt.Tensor.FinalizeAll()
		}
	}()
	for _, name := range names {
		a, ok := arrays[name]
		if !ok {
			return fmt.Errorf("%s: no tensor %q", path, name)
		}
		if a.Size() != len(a.Data) {
			return fmt.Errorf("%s: tensor %q: shape %v does not match %d elements", path, name, a.Shape, len(a.Data))
		}
		ts = append(ts, ml.NamedTensor{Name: name, Tensor: tensors.FromFlatDataAndDimensions(a.Data, a.Shape...)})
	}
	return ml.WriteSafetensors(path, ts, metadata)
}

package ml

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// This file reads and writes the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header mapping each tensor name to its dtype, shape and byte
// range, padded with spaces to a multiple of 8, then the raw little-endian
// data. Files written here load with safetensors.numpy/torch.load_file.

var stDTypes = map[dtypes.DType]string{
	dtypes.Float32: "F32", dtypes.Float64: "F64", dtypes.Int32: "I32", dtypes.Int64: "I64",
	dtypes.Uint8: "U8", dtypes.Bool: "BOOL", dtypes.Float16: "F16", dtypes.BFloat16: "BF16",
}

func stDType(name string) (dtypes.DType, bool) {
	for d, n := range stDTypes {
		if n == name {
			return d, true
		}
	}
	return dtypes.InvalidDType, false
}

type stEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// NamedTensor is a tensor with its safetensors name.
type NamedTensor struct {
	Name   string
	Tensor *tensors.Tensor
}

// WriteSafetensors writes the tensors (sorted by name) and the string
// metadata to path atomically: a temporary file in the same directory,
// fsynced, then renamed over path.
func WriteSafetensors(path string, ts []NamedTensor, metadata map[string]string) error {
	ts = slices.Clone(ts)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for i, nt := range ts {
		if i > 0 && ts[i-1].Name == nt.Name {
			return fmt.Errorf("safetensors %s: tensor name %q appears twice", path, nt.Name)
		}
		sh := nt.Tensor.Shape()
		dt, ok := stDTypes[sh.DType]
		if !ok {
			return fmt.Errorf("safetensors %s: tensor %q has dtype %s, which safetensors cannot hold", path, nt.Name, sh.DType)
		}
		n := int64(sh.Memory())
		header[nt.Name] = stEntry{DType: dt, Shape: append([]int{}, sh.Dimensions...), DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	if pad := (8 - len(hb)%8) % 8; pad > 0 {
		hb = append(hb, []byte(strings.Repeat(" ", pad))...)
	}
	return writeAtomic(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(hb); err != nil {
			return err
		}
		for _, nt := range ts {
			var werr error
			// Tensors hold host-endian data; every platform Go's GoMLX runs
			// on is little-endian, as safetensors wants.
			if err := nt.Tensor.ConstBytes(func(b []byte) { _, werr = w.Write(b) }); err != nil {
				return err
			}
			if werr != nil {
				return werr
			}
		}
		return nil
	})
}

// ReadSafetensorsMetadata reads only the header's __metadata__.
func ReadSafetensorsMetadata(path string) (map[string]string, error) {
	f, err := OpenSafetensors(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Metadata, nil
}

// DecodeMetadataJSON decodes the JSON held in a safetensors file's
// metadata under key into v, strictly: an unknown field is an error, since
// a configuration read loosely builds a different model than was saved.
// Without the key the file is not a `what` ("vlm model artifact"); hint
// ends that error when not empty. path only names the file in errors.
func DecodeMetadataJSON(path string, meta map[string]string, key, what, hint string, v any) error {
	raw, ok := meta[key]
	if !ok {
		if hint != "" {
			hint = "; " + hint
		}
		return fmt.Errorf("%s: not a %s: its safetensors metadata has no %q%s", path, what, key, hint)
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: metadata %q: %w", path, key, err)
	}
	return nil
}

// ReadSafetensors reads a whole safetensors file (through OpenSafetensors,
// the one header parser and validator). Errors name the file and what is
// wrong with it.
func ReadSafetensors(path string) (map[string]*tensors.Tensor, map[string]string, error) {
	f, err := OpenSafetensors(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	out := map[string]*tensors.Tensor{}
	for _, ti := range f.Tensors() {
		t, err := f.ReadTensor(ti.Name)
		if err != nil {
			return nil, nil, err
		}
		out[ti.Name] = t
	}
	return out, f.Metadata, nil
}

// TensorName is the stable safetensors name of a context variable: its scope
// and name joined with dots, without the leading "/". E.g. the variable
// "weights" in scope "/model/layer_0/attn/qkv" is
// "model.layer_0.attn.qkv.weights".
func TensorName(v *context.Variable) string {
	s := strings.TrimPrefix(v.Scope(), context.ScopeSeparator)
	s = strings.ReplaceAll(s, context.ScopeSeparator, ".")
	if s == "" {
		return v.Name()
	}
	return s + "." + v.Name()
}

// VariablesUnder lists ctx's variables whose scope is scope or below it,
// sorted by tensor name.
func VariablesUnder(ctx *context.Context, scope string) []*context.Variable {
	var out []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Scope() == scope || strings.HasPrefix(v.Scope(), scope+context.ScopeSeparator) || scope == context.RootScope {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return TensorName(out[i]) < TensorName(out[j]) })
	return out
}

// SaveVariables writes the variables under scope to a safetensors file.
func SaveVariables(path string, ctx *context.Context, scope string, metadata map[string]string) error {
	var ts []NamedTensor
	for _, v := range VariablesUnder(ctx, scope) {
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("variable %s: %w", v.ScopeAndName(), err)
		}
		ts = append(ts, NamedTensor{TensorName(v), t})
	}
	return WriteSafetensors(path, ts, metadata)
}

// LoadVariables sets the variables under scope from a safetensors file.
// Every existing variable there must be in the file with its exact shape and
// dtype (otherwise the error names every missing tensor and the file's
// tensors no variable takes); tensors of the file under scope with no
// variable yet are created, so a fresh context can be loaded before any
// graph is built. The scope is then marked loaded: a graph that asks for a
// weight the file did not have fails, naming the file and the tensor,
// instead of initialising it at random. Errors name the file and the
// offending tensor.
func LoadVariables(path string, ctx *context.Context, scope string) error {
	ts, _, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	return loadTensors(path, ts, ctx, scope, TensorName, splitTensorName)
}

func splitTensorName(name string) (scope, vname string) {
	i := strings.LastIndex(name, ".")
	if i < 0 {
		return context.RootScope, name
	}
	return context.ScopeSeparator + strings.ReplaceAll(name[:i], ".", context.ScopeSeparator), name[i+1:]
}

// writeAtomic writes a file through fn into a temporary file next to path,
// syncs it and renames it over path, so a crash never leaves a half file.
func writeAtomic(path string, fn func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := fn(bw); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

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
	"github.com/gomlx/gomlx/pkg/core/shapes"
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

// stItem is one tensor entry of a safetensors header.
type stItem struct {
	name string
	e    stEntry
}

// readSafetensorsHeader reads the header of an open safetensors file: the
// tensor entries sorted by data offset, the metadata, and the number of data
// bytes after the header (the reader is left at the start of the data).
func readSafetensorsHeader(f io.Reader, path string, size int64) ([]stItem, map[string]string, int64, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, nil, 0, fmt.Errorf("safetensors %s: file too short for the 8-byte header length (%d bytes)", path, size)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if size < 8 || hlen > uint64(size)-8 || hlen > 100<<20 {
		return nil, nil, 0, fmt.Errorf("safetensors %s: header length %d does not fit in a %d-byte file", path, hlen, size)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, nil, 0, fmt.Errorf("safetensors %s: reading header: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, nil, 0, fmt.Errorf("safetensors %s: header is not valid JSON: %w", path, err)
	}
	meta := map[string]string{}
	var items []stItem
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, 0, fmt.Errorf("safetensors %s: __metadata__ must map strings to strings: %w", path, err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, 0, fmt.Errorf("safetensors %s: tensor %q: %w", path, name, err)
		}
		items = append(items, stItem{name, e})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].e.DataOffsets[0] < items[j].e.DataOffsets[0] })
	return items, meta, size - 8 - int64(hlen), nil
}

// ReadSafetensorsMetadata reads only the header's __metadata__.
func ReadSafetensorsMetadata(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	_, meta, _, err := readSafetensorsHeader(bufio.NewReader(f), path, fi.Size())
	return meta, err
}

// ReadSafetensors reads a whole safetensors file. Errors name the file and
// what is wrong with it.
func ReadSafetensors(path string) (map[string]*tensors.Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	r := bufio.NewReader(f)
	items, meta, dataLen, err := readSafetensorsHeader(r, path, fi.Size())
	if err != nil {
		return nil, nil, err
	}
	out := map[string]*tensors.Tensor{}
	var pos int64
	for _, it := range items {
		dt, ok := stDType(it.e.DType)
		if !ok {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q has unsupported dtype %q", path, it.name, it.e.DType)
		}
		// A corrupt header must fail here, not panic in shapes.Make or
		// overflow the byte count it is checked against.
		elems := int64(1)
		for _, d := range it.e.Shape {
			if d < 0 || (d > 0 && elems > (1<<40)/int64(d)) {
				return nil, nil, fmt.Errorf("safetensors %s: tensor %q has an invalid shape %v", path, it.name, it.e.Shape)
			}
			elems *= int64(d)
		}
		sh := shapes.Make(dt, it.e.Shape...)
		b, e := it.e.DataOffsets[0], it.e.DataOffsets[1]
		if b < pos || e-b != int64(sh.Memory()) || e > dataLen {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q: byte range [%d, %d) is inconsistent with shape %v %s (%d bytes) or the %d data bytes",
				path, it.name, b, e, it.e.Shape, it.e.DType, sh.Memory(), dataLen)
		}
		if _, err := r.Discard(int(b - pos)); err != nil {
			return nil, nil, fmt.Errorf("safetensors %s: %w", path, err)
		}
		t := tensors.FromShape(sh)
		var rerr error
		if err := t.MutableBytes(func(buf []byte) { _, rerr = io.ReadFull(r, buf) }); err != nil {
			return nil, nil, err
		}
		if rerr != nil {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q: %w", path, it.name, rerr)
		}
		pos = e
		out[it.name] = t
	}
	return out, meta, nil
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

package ml

import (
	"bytes"
	gocontext "context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/google/go-cmp/cmp"
)

func streamTestTensors() []NamedTensor {
	return []NamedTensor{
		{"b.weights", tensors.FromFlatDataAndDimensions([]float32{1.5, -2.25, 3e-8, 4e7, 0, -0.125}, 2, 3)},
		{"a.gain", tensors.FromFlatDataAndDimensions([]float64{1.0 / 3, -2e-300, 7}, 3)},
		{"c.ids", tensors.FromFlatDataAndDimensions([]int32{-7, 0, 1 << 30}, 3, 1)},
		{"e.scalar", tensors.FromFlatDataAndDimensions([]int64{42})},
	}
}

// TestSafetensorsStreamMatchesWhole: the streaming writer (tensors given in
// reverse order) produces the same bytes as WriteSafetensors, and each
// reader reads the other's file.
func TestSafetensorsStreamMatchesWhole(t *testing.T) {
	dir := t.TempDir()
	ts := streamTestTensors()
	meta := map[string]string{"format": "test", "note": "ünïcode"}
	whole := filepath.Join(dir, "whole.safetensors")
	if err := WriteSafetensors(whole, ts, meta); err != nil {
		t.Fatal(err)
	}
	streamed := filepath.Join(dir, "streamed.safetensors")
	var specs []TensorSpec
	for _, nt := range ts {
		specs = append(specs, TensorSpec{nt.Name, nt.Tensor.DType(), nt.Tensor.Shape().Dimensions})
	}
	w, err := CreateSafetensors(streamed, specs, meta)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := os.Stat(streamed); !os.IsNotExist(err) {
		t.Fatalf("%s exists before Commit: %v", streamed, err)
	}
	for i := len(ts) - 1; i >= 0; i-- {
		if err := w.WriteTensor(ts[i].Name, ts[i].Tensor); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(streamed)
	if !bytes.Equal(a, b) {
		t.Fatalf("streamed file differs from WriteSafetensors':\n%q\n%q", a, b)
	}
	assertNoTemps(t, dir)

	// The stream reader reads WriteSafetensors' file.
	f, err := OpenSafetensors(whole)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if diff := cmp.Diff(meta, f.Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	if diff := cmp.Diff([]string{"a.gain", "b.weights", "c.ids", "e.scalar"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	for _, nt := range ts {
		got, err := f.ReadTensor(nt.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Shape().Equal(nt.Tensor.Shape()) {
			t.Errorf("%s: shape %s, want %s", nt.Name, got.Shape(), nt.Tensor.Shape())
		}
		if got.Size() > 0 && !bytes.Equal(tensorBytes(got), tensorBytes(nt.Tensor)) {
			t.Errorf("%s: bytes differ", nt.Name)
		}
	}
	// ReadSafetensors reads the streamed file.
	whole2, meta2, err := ReadSafetensors(streamed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(meta, meta2); diff != "" {
		t.Errorf("ReadSafetensors metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float32{1.5, -2.25, 3e-8, 4e7, 0, -0.125}, tensors.MustCopyFlatData[float32](whole2["b.weights"])); diff != "" {
		t.Errorf("b.weights (-want +got):\n%s", diff)
	}
}

// TestSafetensorsStreamPythonReader reads the streamed file with the
// independent stdlib reader, which also checks contiguity and padding.
func TestSafetensorsStreamPythonReader(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the independent reader check needs it")
	}
	path := filepath.Join(t.TempDir(), "s.safetensors")
	w, err := CreateSafetensors(path, []TensorSpec{{"x", dtypes.Float32, []int{2, 2}}, {"n", dtypes.Int64, []int{1}}, {"e", dtypes.Float32, []int{0, 3}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("x", tensors.FromFlatDataAndDimensions([]float32{1, -2, 0.5, 8}, 2, 2)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("n", tensors.FromFlatDataAndDimensions([]int64{-3}, 1)); err != nil {
		t.Fatal(err)
	}
	// WriteSafetensors cannot write an empty tensor (GoMLX's ConstBytes
	// panics on it); the streaming writer can.
	if err := w.WriteTensor("e", tensors.FromFlatDataAndDimensions([]float32{}, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "testdata/read_safetensors.py", path).Output()
	if err != nil {
		t.Fatalf("python reader: %v", err)
	}
	var res struct {
		Tensors map[string]struct {
			DType  string
			Shape  []int
			Values []float64
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	if got := res.Tensors["x"]; got.DType != "F32" || !cmp.Equal(got.Shape, []int{2, 2}) || !cmp.Equal(got.Values, []float64{1, -2, 0.5, 8}) {
		t.Errorf("x: %+v", got)
	}
	if got := res.Tensors["n"]; got.DType != "I64" || !cmp.Equal(got.Values, []float64{-3}) {
		t.Errorf("n: %+v", got)
	}
	if got := res.Tensors["e"]; got.DType != "F32" || !cmp.Equal(got.Shape, []int{0, 3}) || len(got.Values) != 0 {
		t.Errorf("e: %+v", got)
	}
}

func tensorBytes(t *tensors.Tensor) []byte {
	var out []byte
	t.ConstBytes(func(b []byte) { out = bytes.Clone(b) })
	return out
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// stImage builds a safetensors image from a header text and data bytes,
// padding the header with spaces to a multiple of 8.
func stImage(header string, data []byte) []byte {
	if pad := (8 - len(header)%8) % 8; pad > 0 {
		header += strings.Repeat(" ", pad)
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestSafetensorsHeaderValidation(t *testing.T) {
	dir := t.TempDir()
	d8 := make([]byte, 8)
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<40)
	tests := []struct {
		name  string
		image []byte
		want  string // "" = valid
	}{
		{"valid", stImage(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, d8), ""},
		{"valid with metadata", stImage(`{"__metadata__":{"k":"v"},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, d8), ""},
		{"too short", []byte{1, 2, 3}, "too short"},
		{"header length past end", append(huge, '{', '}'), "does not fit"},
		{"not an object", stImage(`[1,2]`, nil), "not a JSON object"},
		{"invalid JSON", stImage(`{"a":`, nil), "invalid JSON"},
		{"trailing garbage", stImage(`{}x`, nil), "after the JSON object"},
		{"repeated name", stImage(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, d8), `"a" appears twice`},
		{"unknown dtype", stImage(`{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}`, d8), `unsupported dtype "F7"`},
		{"missing field", stImage(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, d8), "needs dtype, shape and data_offsets"},
		{"unknown field", stImage(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, d8), "unknown field"},
		{"negative dim", stImage(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, d8), "out of range"},
		{"overflowing shape", stImage(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, d8), "out of range"},
		{"size mismatch", stImage(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, d8), "does not hold shape [3] F32 (12 bytes)"},
		{"three offsets", stImage(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}`, d8), "3 values"},
		{"gap", stImage(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, d8), "leaves a gap"},
		{"overlap", stImage(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, d8), "overlaps"},
		{"past end", stImage(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, d8), "hold 16 bytes but the data section has 8"},
		{"trailing data", stImage(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, d8), "hold 4 bytes but the data section has 8"},
		{"bad metadata", stImage(`{"__metadata__":{"k":1}}`, nil), "__metadata__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, tc.image, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := OpenSafetensors(path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				f.Close()
				return
			}
			if err == nil {
				f.Close()
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should contain %q and the path", err, tc.want)
			}
		})
	}
}

func writeF32(t *testing.T, path string, ts map[string][]float32, shapes map[string][]int) {
	t.Helper()
	var nts []NamedTensor
	for name, v := range ts {
		sh := shapes[name]
		if sh == nil {
			sh = []int{len(v)}
		}
		nts = append(nts, NamedTensor{name, tensors.FromFlatDataAndDimensions(v, sh...)})
	}
	if err := WriteSafetensors(path, nts, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMapSafetensors(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeF32(t, p("a"), map[string][]float32{"w": {1, 2, 3, 4}, "b": {10}}, map[string][]int{"w": {2, 2}})
	writeF32(t, p("b"), map[string][]float32{"w": {3, 2, 1, 0}, "b": {20}}, map[string][]int{"w": {2, 2}})
	writeF32(t, p("c"), map[string][]float32{"w": {2, 2, 2, 2}, "b": {30}}, map[string][]int{"w": {2, 2}})
	var progress []int64
	mean := func(mt MapTensor, out []byte) error {
		for i := 0; i < len(out); i += 4 {
			var s float32
			for _, in := range mt.In {
				s += math.Float32frombits(binary.LittleEndian.Uint32(in[i:]))
			}
			binary.LittleEndian.PutUint32(out[i:], math.Float32bits(s/float32(len(mt.In))))
		}
		return nil
	}
	opts := MapOptions{Metadata: map[string]string{"merge": "mean"}, Progress: func(_ string, done, _ int64) { progress = append(progress, done) }}
	if err := MapSafetensors(t.Context(), p("out"), []string{p("a"), p("b"), p("c")}, opts, mean); err != nil {
		t.Fatal(err)
	}
	got, meta, err := ReadSafetensors(p("out"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{2, 2, 2, 2}, tensors.MustCopyFlatData[float32](got["w"])); diff != "" {
		t.Errorf("w (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float32{20}, tensors.MustCopyFlatData[float32](got["b"])); diff != "" {
		t.Errorf("b (-want +got):\n%s", diff)
	}
	if meta["merge"] != "mean" || !cmp.Equal(progress, []int64{12, 60}) {
		t.Errorf("metadata %v, progress %v (want [12 60]: b first in file order)", meta, progress)
	}

	// Inputs of another architecture: an error naming files and tensor,
	// nothing written.
	writeF32(t, p("missing"), map[string][]float32{"w": {1, 2, 3, 4}}, map[string][]int{"w": {2, 2}})
	writeF32(t, p("extra"), map[string][]float32{"w": {1, 2, 3, 4}, "b": {1}, "z": {1}}, map[string][]int{"w": {2, 2}})
	writeF32(t, p("shape"), map[string][]float32{"w": {1, 2, 3, 4}, "b": {1}}, map[string][]int{"w": {4, 1}})
	if err := WriteSafetensors(p("dtype"), []NamedTensor{
		{"w", tensors.FromFlatDataAndDimensions([]float64{1, 2, 3, 4}, 2, 2)},
		{"b", tensors.FromFlatDataAndDimensions([]float32{1}, 1)}}, nil); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := gocontext.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		ctx    gocontext.Context
		inputs []string
		fn     func(MapTensor, []byte) error
		want   []string
	}{
		{"missing tensor", t.Context(), []string{p("a"), p("missing")}, mean, []string{p("missing"), `no tensor "b"`, p("a")}},
		{"extra tensor", t.Context(), []string{p("a"), p("extra")}, mean, []string{p("extra"), `"z"`, "lacks"}},
		{"shape", t.Context(), []string{p("a"), p("shape")}, mean, []string{`"w"`, "[2 2]", "[4 1]", p("shape")}},
		{"dtype", t.Context(), []string{p("a"), p("dtype")}, mean, []string{`"w"`, "Float32", "Float64", p("dtype")}},
		{"not a file", t.Context(), []string{p("a"), p("nope")}, mean, []string{p("nope")}},
		{"fn fails", t.Context(), []string{p("a"), p("b")}, func(MapTensor, []byte) error { return os.ErrInvalid }, []string{`tensor "b"`, "invalid argument"}},
		{"cancelled", cancelled, []string{p("a"), p("b")}, mean, []string{"context canceled"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := p("bad-" + strings.ReplaceAll(tc.name, " ", "_"))
			err := MapSafetensors(tc.ctx, out, tc.inputs, MapOptions{}, tc.fn)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s written despite the error", out)
			}
			assertNoTemps(t, dir)
		})
	}
}

func TestSafetensorsWriterMisuse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if _, err := CreateSafetensors(path, []TensorSpec{{"a", dtypes.Float32, []int{1}}, {"a", dtypes.Float32, []int{1}}}, nil); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("repeated name: %v", err)
	}
	w, err := CreateSafetensors(path, []TensorSpec{{"a", dtypes.Float32, []int{2}}, {"b", dtypes.Int32, []int{1}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{w.WriteBytes("a", make([]byte, 4)), "got 4 bytes"},
		{w.WriteBytes("zz", nil), "not in the header"},
		{w.WriteTensor("b", tensors.FromFlatDataAndDimensions([]float32{1}, 1)), "the header says"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want %q", c.err, c.want)
		}
	}
	if err := w.WriteBytes("a", make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteBytes("a", make([]byte, 8)); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second write: %v", err)
	}
	if err := w.Commit(); err == nil || !strings.Contains(err.Error(), `never written (first "b")`) {
		t.Errorf("commit with a tensor missing: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("incomplete file committed")
	}
	assertNoTemps(t, dir)
}

// FuzzSafetensorsHeader feeds arbitrary images to the header parser: it
// must not panic, and whatever it accepts must tile the data section and
// be readable. Seeds: f.Add below and testdata/fuzz/FuzzSafetensorsHeader.
func FuzzSafetensorsHeader(f *testing.F) {
	f.Add(stImage(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(stImage(`{"__metadata__":{"k":"v"},"b":{"dtype":"BF16","shape":[2,1],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}}`, make([]byte, 4)))
	f.Add(stImage(`{}`, nil))
	f.Fuzz(func(t *testing.T, image []byte) {
		h, err := parseSafetensorsHeader(bytes.NewReader(image), int64(len(image)))
		if err != nil {
			return
		}
		dataLen := int64(len(image)) - h.dataStart
		var sum int64
		for _, ti := range h.tensors {
			if ti.Offset < 0 || ti.Offset+ti.Size > dataLen || ti.Size != ti.Elements()*int64(ti.DType.Size()) {
				t.Fatalf("accepted tensor %+v outside %d data bytes", ti, dataLen)
			}
			sum += ti.Size
		}
		if sum != dataLen {
			t.Fatalf("accepted tensors hold %d bytes of %d", sum, dataLen)
		}
	})
}

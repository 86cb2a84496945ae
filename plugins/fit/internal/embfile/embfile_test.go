package embfile

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNPYRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, a := range []Array{
		{Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, 1e-3, 7}},
		{Shape: []int{2, 1, 2}, Data: []float32{1, 2, 3, 4}},
		{Shape: []int{3}, Data: []float32{1, 2, 3}},
	} {
		p := filepath.Join(dir, "a.npy")
		if err := WriteNPY(p, a); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(p)
		if hl := 10 + int(binary.LittleEndian.Uint16(raw[8:])); hl%64 != 0 {
			t.Errorf("header not 64-byte aligned: %d", hl)
		}
		got, err := ReadNPY(p)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

// npyBytes builds a .npy file by hand the way numpy lays it out, so the
// reader is checked against the format rather than against our writer.
func npyBytes(version byte, header string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.Write([]byte{version, 0})
	if version == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(header)))
	}
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestNPYReadsNumpyLayouts(t *testing.T) {
	f8 := make([]byte, 16)
	binary.LittleEndian.PutUint64(f8, math.Float64bits(0.25))
	binary.LittleEndian.PutUint64(f8[8:], math.Float64bits(-3))
	// float16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 65504 = 0x7bff
	f2 := []byte{0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b}
	tests := []struct {
		name string
		file []byte
		want Array
	}{
		{"v1 f8", npyBytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }\n", f8), Array{Shape: []int{1, 2}, Data: []float32{0.25, -3}}},
		{"v2 f2", npyBytes(2, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }\n", f2), Array{Shape: []int{2, 2}, Data: []float32{1, -2, 0.5, 65504}}},
	}
	for _, tc := range tests {
		got, err := readNPY(bytes.NewReader(tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestNPYErrors(t *testing.T) {
	four := make([]byte, 4)
	nan := make([]byte, 4)
	binary.LittleEndian.PutUint32(nan, math.Float32bits(float32(math.NaN())))
	tests := []struct {
		name, want string
		file       []byte
	}{
		{"magic", "magic", []byte("PK\x03\x04xxxxxxxxxx")},
		{"fortran", "fortran_order", npyBytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n", four)},
		{"int dtype", "dtype \"<i8\"", npyBytes(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }\n", make([]byte, 8))},
		{"big endian", "dtype \">f4\"", npyBytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", four)},
		{"truncated", "data truncated", npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", four)},
		{"nan", "NaN", npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", nan)},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name+".npy")
		os.WriteFile(p, tc.file, 0o644)
		_, err := ReadNPY(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "e.safetensors")
	tensors := map[string]Array{
		"train/a":     {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		"generated/a": {Shape: []int{1, 3, 2}, Data: []float32{5, 6, 7, 8, 9, 10}},
	}
	names := []string{"train/a", "generated/a"}
	meta := map[string]string{"count/a": "17"}
	if err := WriteSafetensors(p, names, tensors, meta); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &Safetensors{Names: []string{"generated/a", "train/a"}, Tensors: tensors, Metadata: meta}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// stBytes lays out a safetensors file by hand.
func stBytes(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestSafetensorsHalfTypes(t *testing.T) {
	// bf16 1.5 = 0x3fc0; f16 -0.5 = 0xb800. The F16 tensor comes first in
	// the data although listed second in the header.
	data := []byte{0x00, 0xb8, 0xc0, 0x3f}
	hdr := `{"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]},"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`
	p := filepath.Join(t.TempDir(), "h.safetensors")
	if err := os.WriteFile(p, stBytes(hdr, data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &Safetensors{Names: []string{"a", "b"}, Metadata: map[string]string{}, Tensors: map[string]Array{
		"a": {Shape: []int{1}, Data: []float32{-0.5}},
		"b": {Shape: []int{1}, Data: []float32{1.5}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSafetensorsErrors(t *testing.T) {
	tests := []struct {
		name, header, want string
		data               []byte
	}{
		{"bad json", `{"a":`, "invalid JSON", nil},
		{"dtype", `{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, `tensor "a": dtype Int64 is not a float type`, make([]byte, 8)},
		{"offsets", `{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, "does not hold shape [3]", make([]byte, 8)},
		{"past end", `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, "the data section has 8", make([]byte, 8)},
		{"nan", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, `tensor "a": element 0`, []byte{0, 0, 0xc0, 0x7f}},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name+".safetensors")
		os.WriteFile(p, stBytes(tc.header, tc.data), 0o644)
		_, err := ReadSafetensors(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
	}
}

package embfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadNPY: any input either fails with an error or yields an array
// whose data fills its shape; nothing panics or allocates without bound.
func FuzzReadNPY(f *testing.F) {
	a := Array{Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, 1e-3, 7}}
	p := filepath.Join(f.TempDir(), "a.npy")
	if err := WriteNPY(p, a); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	f.Add(raw)
	f.Add(npyBytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", make([]byte, 16)))
	f.Add(npyBytes(2, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }\n", []byte{0, 0x3c, 0, 0xc0}))
	f.Add(npyBytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 1000000000), }\n", nil))
	f.Add([]byte("\x93NUMPY"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readNPY(bytes.NewReader(data))
		if err != nil {
			return
		}
		if got.Size() != len(got.Data) {
			t.Fatalf("shape %v holds %d values, data has %d", got.Shape, got.Size(), len(got.Data))
		}
	})
}

// FuzzReadSafetensors runs sdk/ml's safetensors reader (through this
// package's conversion to float32) on arbitrary files: errors, never
// panics, and every tensor it returns fills its shape with finite values.
func FuzzReadSafetensors(f *testing.F) {
	p := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := WriteSafetensors(p, []string{"train/a"}, map[string]Array{"train/a": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}},
		map[string]string{"count/a": "3"}); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	f.Add(raw)
	f.Add(stBytes(`{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, []byte{0, 0x3c, 0, 0xc0}))
	f.Add(stBytes(`{"x":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(stBytes(`{"__metadata__":{"a":"b"}}`, nil))
	f.Add(stBytes(`{"x":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}}`, make([]byte, 16)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in.safetensors")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := ReadSafetensors(path)
		if err != nil {
			return
		}
		for name, a := range st.Tensors {
			if a.Size() != len(a.Data) {
				t.Fatalf("tensor %q: shape %v holds %d values, data has %d", name, a.Shape, a.Size(), len(a.Data))
			}
		}
	})
}

package ml

import (
	gocontext "context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestWeightedSum(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, a []float32, b []float64) string {
		p := filepath.Join(dir, name)
		if err := WriteSafetensors(p, []NamedTensor{
			{Name: "a", Tensor: tensors.FromFlatDataAndDimensions(a, 2, 2)},
			{Name: "b", Tensor: tensors.FromFlatDataAndDimensions(b, 3)},
		}, map[string]string{"from": name}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	x := write("x", []float32{1, 2, 3, 4}, []float64{1, 0, -1})
	y := write("y", []float32{5, 6, 7, 8}, []float64{3, 2, 1})
	out := filepath.Join(dir, "sum.safetensors")
	if err := WeightedSum(gocontext.Background(), out, []string{x, y}, []float64{0.25, 0.75}); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := ReadSafetensors(out)
	if err != nil {
		t.Fatal(err)
	}
	if meta["from"] != "x" {
		t.Errorf("metadata %v, want the first input's", meta)
	}
	a := tensors.MustCopyFlatData[float32](ts["a"])
	for i, want := range []float32{4, 5, 6, 7} {
		if a[i] != want {
			t.Errorf("a = %v, want [4 5 6 7]", a)
			break
		}
	}
	b := tensors.MustCopyFlatData[float64](ts["b"])
	for i, want := range []float64{2.5, 1.5, 0.5} {
		if b[i] != want {
			t.Errorf("b = %v, want [2.5 1.5 0.5]", b)
			break
		}
	}
	if err := WeightedSum(gocontext.Background(), out, []string{x, y}, []float64{1}); err == nil || !strings.Contains(err.Error(), "2 checkpoints, 1 weights") {
		t.Errorf("mismatched weights: err = %v", err)
	}
}

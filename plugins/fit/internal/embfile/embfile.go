// Package embfile reads and writes the embedding arrays the fit plugin
// consumes as float32: NumPy .npy files (a small reader and writer here) and
// Hugging Face safetensors files (through sdk/ml's reader and writer, the
// project's one implementation of that format; F32, F64, F16 and BF16 are
// converted). Every error names the file and what is wrong.
package embfile

import (
	"fmt"
	"math"
)

// Array is a dense row-major float32 array.
type Array struct {
	Shape []int
	Data  []float32
}

// Size is the number of elements the shape describes.
func (a Array) Size() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Rows views a 2-D array as its rows ([n, d] -> n slices of d), or a 3-D
// array [p, n, d] as p×n rows; it fails for other ranks.
func (a Array) Rows() (rows [][]float32, width int, err error) {
	switch len(a.Shape) {
	case 2, 3:
	default:
		return nil, 0, fmt.Errorf("expected a 2-D [images, width] or 3-D [prompts, images, width] array, got shape %v", a.Shape)
	}
	width = a.Shape[len(a.Shape)-1]
	n := a.Size() / max(width, 1)
	rows = make([][]float32, n)
	for i := range rows {
		rows[i] = a.Data[i*width : (i+1)*width]
	}
	return rows, width, nil
}

// checkFinite reports the first NaN or Inf element, by index.
func checkFinite(a Array) error {
	for i, v := range a.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("element %d (shape %v) is %v", i, a.Shape, v)
		}
	}
	return nil
}

// halfToFloat converts an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = frac × 2^-24
		f := float32(frac) * float32(math.Ldexp(1, -24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// bf16ToFloat converts a bfloat16 value (the top half of a float32).
func bf16ToFloat(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Package planted writes checkpoint sets with a known answer: a base θ₀
// and K fine-tuned models θᵢ = θ₀ + sᵢ + nᵢ, where the planted skill sᵢ is
// sparse (each entry belongs to at most one task, with probability
// density per task, of magnitude signal and random sign) and nᵢ is dense
// Gaussian noise of std noise (the interference TIES/DARE are meant to
// remove). The ideal multi-task model θ* = θ₀ + Σ sᵢ is written too, so a
// merge can be scored by its distance to it. Files are written tensor by
// tensor (ml.CreateSafetensors), so sets larger than memory can be made;
// every value is a pure function of (seed, tensor, model).
package planted

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// Config describes a planted set.
type Config struct {
	Dir     string
	Models  int // K fine-tuned models
	Tensors int
	Rows    int // each tensor is [Rows, Cols] float32
	Cols    int
	Density float64 // fraction of entries each task's skill changes
	Signal  float64 // magnitude of a skill entry
	Noise   float64 // std of each task vector's dense noise
	Seed    uint64
	NoIdeal bool // skip ideal.safetensors (the benchmark needs none)
	// Progress, when set, gets the bytes written so far and in all.
	Progress func(done, total int64)
}

// Set names the files written.
type Set struct {
	Base   string
	Models []string
	Ideal  string
	Bytes  int64 // size of one checkpoint's data
}

// Check validates a config.
func (c Config) Check() error {
	switch {
	case c.Models < 1 || c.Tensors < 1 || c.Rows < 1 || c.Cols < 1:
		return fmt.Errorf("models, tensors, rows and cols must be ≥ 1 (got %d, %d, %d, %d)", c.Models, c.Tensors, c.Rows, c.Cols)
	case !(c.Density >= 0 && c.Density*float64(c.Models) <= 1):
		return fmt.Errorf("density %v × %d models must be in [0, 1]: each entry belongs to at most one task", c.Density, c.Models)
	case !(c.Noise >= 0) || math.IsInf(c.Signal, 0) || math.IsNaN(c.Signal):
		return fmt.Errorf("noise %v must be ≥ 0 and signal %v finite", c.Noise, c.Signal)
	}
	return nil
}

// Generate writes base.safetensors, model_<i>.safetensors and
// ideal.safetensors into c.Dir.
func Generate(ctx context.Context, c Config) (Set, error) {
	if err := c.Check(); err != nil {
		return Set{}, err
	}
	set := Set{Base: filepath.Join(c.Dir, "base.safetensors"), Ideal: filepath.Join(c.Dir, "ideal.safetensors")}
	for i := range c.Models {
		set.Models = append(set.Models, filepath.Join(c.Dir, fmt.Sprintf("model_%d.safetensors", i)))
	}
	specs := make([]ml.TensorSpec, c.Tensors)
	for t := range specs {
		specs[t] = ml.TensorSpec{Name: TensorName(t), DType: dtypes.Float32, Shape: []int{c.Rows, c.Cols}}
	}
	n := c.Rows * c.Cols
	set.Bytes = int64(c.Tensors) * int64(n) * 4
	meta := map[string]string{"planted.models": fmt.Sprint(c.Models), "planted.density": fmt.Sprint(c.Density),
		"planted.signal": fmt.Sprint(c.Signal), "planted.noise": fmt.Sprint(c.Noise), "planted.seed": fmt.Sprint(c.Seed)}
	paths := append([]string{set.Base, set.Ideal}, set.Models...)
	if c.NoIdeal {
		set.Ideal = ""
	}
	writers := make([]*ml.SafetensorsWriter, len(paths))
	for i, p := range paths {
		if i == 1 && c.NoIdeal {
			continue
		}
		w, err := ml.CreateSafetensors(p, specs, meta)
		if err != nil {
			return Set{}, err
		}
		defer w.Abort()
		writers[i] = w
	}
	base, ideal := make([]float32, n), make([]float32, n)
	owner := make([]int16, n) // task whose skill covers the entry, −1 none
	sign := make([]float32, n)
	model := make([]float32, n)
	buf := make([]byte, 4*n)
	total := set.Bytes * int64(len(paths)-1) // the ideal is not counted
	var done int64
	for t := range c.Tensors {
		if err := ctx.Err(); err != nil {
			return Set{}, err
		}
		r := rng(c.Seed, t, -1)
		std := 1 / math.Sqrt(float64(c.Rows))
		for j := range base {
			base[j] = float32(r.NormFloat64() * std)
			owner[j] = -1
			if u := r.Float64(); u < c.Density*float64(c.Models) {
				owner[j] = int16(u / c.Density)
			}
			sign[j] = float32(c.Signal)
			if r.IntN(2) == 0 {
				sign[j] = -sign[j]
			}
			ideal[j] = base[j]
			if owner[j] >= 0 {
				ideal[j] += sign[j]
			}
		}
		if err := write(writers[0], t, base, buf); err != nil {
			return Set{}, err
		}
		if !c.NoIdeal {
			if err := write(writers[1], t, ideal, buf); err != nil {
				return Set{}, err
			}
		}
		for i := range c.Models {
			r := rng(c.Seed, t, i)
			for j := range model {
				model[j] = base[j] + float32(r.NormFloat64()*c.Noise)
				if int(owner[j]) == i {
					model[j] += sign[j]
				}
			}
			if err := write(writers[2+i], t, model, buf); err != nil {
				return Set{}, err
			}
		}
		done += int64(len(paths)-1) * int64(n) * 4
		if c.Progress != nil {
			c.Progress(done, total)
		}
	}
	for _, w := range writers {
		if w == nil {
			continue
		}
		if err := w.Commit(); err != nil {
			return Set{}, err
		}
	}
	return set, nil
}

// TensorName is the name of tensor t of a planted set.
func TensorName(t int) string { return fmt.Sprintf("layer_%03d.weights", t) }

func rng(seed uint64, tensor, model int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(tensor)<<20|uint64(model+1)))
}

func write(w *ml.SafetensorsWriter, t int, v []float32, buf []byte) error {
	for j, x := range v {
		binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
	}
	return w.WriteBytes(TensorName(t), buf)
}

// Package planted generates linreg's data: a binary classification
// problem whose labels are drawn from a logistic model with known ("planted")
// weights, so a result can be compared with what those weights achieve.
package planted

import (
	"math"
	"math/rand/v2"
)

// Config says what to generate.
type Config struct {
	Samples      int
	Features     int
	Separation   float64 // scale of the true weights: larger is easier
	TestFraction float64 // share held out
}

// Data is a generated problem.
type Data struct {
	TrainX, TestX []float32 // row-major [n, features]
	TrainY, TestY []float32 // 0 or 1
	TrueW         []float64
	TrueB         float64
}

// Generate draws the data set from seed: same config and seed, same data.
func Generate(cfg Config, seed int64) Data {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ea_11e9))
	d := cfg.Features
	w := make([]float64, d)
	for i := range w {
		w[i] = rng.NormFloat64() * cfg.Separation
	}
	b := rng.NormFloat64() * 0.5
	nTest := int(float64(cfg.Samples) * cfg.TestFraction)
	nTrain := cfg.Samples - nTest
	draw := func(n int) (x, y []float32) {
		x, y = make([]float32, n*d), make([]float32, n)
		for i := range n {
			z := b
			for j := range d {
				v := rng.NormFloat64()
				x[i*d+j] = float32(v)
				z += v * w[j]
			}
			if rng.Float64() < 1/(1+math.Exp(-z)) {
				y[i] = 1
			}
		}
		return x, y
	}
	out := Data{TrueW: w, TrueB: b}
	out.TrainX, out.TrainY = draw(nTrain)
	out.TestX, out.TestY = draw(nTest)
	return out
}

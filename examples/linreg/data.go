package main

import (
	"math"
	"math/rand/v2"
)

// Data is a generated binary classification problem: labels are drawn from
// a logistic model with known true weights, so the result can be compared
// with what the true weights achieve.
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
			if rng.Float64() < sigmoid(z) {
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

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// Accuracy of the classifier sign(x·w + b) on (x, y).
func Accuracy(x, y []float32, w []float64, b float64, d int) float64 {
	correct := 0
	for i := range y {
		z := b
		for j := range d {
			z += float64(x[i*d+j]) * w[j]
		}
		if (z > 0) == (y[i] > 0.5) {
			correct++
		}
	}
	return float64(correct) / float64(len(y))
}

// LogLoss is the mean logistic loss of (w, b) on (x, y), computed stably as
// softplus(z) - y·z.
func LogLoss(x, y []float32, w []float64, b float64, d int) float64 {
	var sum float64
	for i := range y {
		z := b
		for j := range d {
			z += float64(x[i*d+j]) * w[j]
		}
		sp := math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
		sum += sp - float64(y[i])*z
	}
	return sum / float64(len(y))
}

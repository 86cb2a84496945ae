// Package stepbench holds the statistics of the training-step benchmarks'
// timings (benchtrain, benchdpo); the matmul-only graph they time beside the
// steps is dotrec.NewMatmuls.
package stepbench

import (
	"sort"
	"time"
)

// Median of durations.
func Median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// MedianF of values.
func MedianF(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// Min of durations.
func Min(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

// MS is d in milliseconds.
func MS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

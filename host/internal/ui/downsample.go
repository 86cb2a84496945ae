package ui

import "math"

// LTTB downsamples the series (x ascending) to n points with
// Largest-Triangle-Three-Buckets (Steinarsson 2013): the first and last
// points stay, and from each of n-2 equal buckets in between the point
// forming the largest triangle with the point kept before it and the mean
// of the next bucket. Unlike taking every k-th point it keeps spikes, which
// is what one looks for in a loss curve. With n >= len(x) or n < 3 it
// returns the input.
func LTTB(x, y []float64, n int) ([]float64, []float64) {
	if n >= len(x) || n < 3 {
		return x, y
	}
	ox, oy := make([]float64, 0, n), make([]float64, 0, n)
	ox, oy = append(ox, x[0]), append(oy, y[0])
	every := float64(len(x)-2) / float64(n-2)
	a := 0
	for i := 0; i < n-2; i++ {
		// The next bucket's mean.
		start := int(math.Floor(float64(i+1)*every)) + 1
		end := int(math.Floor(float64(i+2)*every)) + 1
		if end > len(x) {
			end = len(x)
		}
		var mx, my float64
		for j := start; j < end; j++ {
			mx += x[j]
			my += y[j]
		}
		if cnt := float64(end - start); cnt > 0 {
			mx /= cnt
			my /= cnt
		}
		// This bucket's point with the largest triangle.
		lo := int(math.Floor(float64(i)*every)) + 1
		hi := int(math.Floor(float64(i+1)*every)) + 1
		best, bestArea := lo, -1.0
		for j := lo; j < hi; j++ {
			area := math.Abs((x[a]-mx)*(y[j]-y[a]) - (x[a]-x[j])*(my-y[a]))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		ox, oy = append(ox, x[best]), append(oy, y[best])
		a = best
	}
	ox, oy = append(ox, x[len(x)-1]), append(oy, y[len(y)-1])
	return ox, oy
}

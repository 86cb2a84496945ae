package ppm

import (
	"testing"

	"github.com/shammie-ml/shammie/plugins/router/internal/compute"
)

// BenchmarkCounts compares the one- and two-candidate popcount kernels (and
// the AVX-512 one where the CPU has it) on
// the benchmark's shape (10 000 instances, 64 features), one goroutine.
func BenchmarkCounts(b *testing.B) {
	be, err := compute.Open("go")
	if err != nil {
		b.Fatal(err)
	}
	const n, f = 10_000, 64
	m, data := benchModel(n, f, 1)
	s, err := NewScorerPath(be, m, n, data, PathBits)
	if err != nil {
		b.Fatal(err)
	}
	masks := NewMasks(2, n)
	g := splitmix{1}
	for i := range masks.Bits {
		masks.Bits[i] = g.bernoulli(128)
	}
	out := make([]float32, 2*f)
	b.Run("row", func(b *testing.B) {
		for b.Loop() {
			s.countRow(masks.Row(0), out[:f])
			s.countRow(masks.Row(1), out[f:])
		}
	})
	b.Run("pair", func(b *testing.B) {
		for b.Loop() {
			s.countPair(masks.Row(0), masks.Row(1), out[:f], out[f:])
		}
	})
	if haveVecPopcnt {
		b.Run("pair-avx512", func(b *testing.B) {
			for b.Loop() {
				s.countPairVec(masks.Row(0), masks.Row(1), out[:f], out[f:])
			}
		})
	}
}

// BenchmarkScoreCounts times the PPM graph on one full chunk of counts.
func BenchmarkScoreCounts(b *testing.B) {
	be, err := compute.Open("go")
	if err != nil {
		b.Fatal(err)
	}
	const n, f = 10_000, 64
	m, data := benchModel(n, f, 1)
	s, err := NewScorerPath(be, m, n, data, PathBits)
	if err != nil {
		b.Fatal(err)
	}
	counts := make([]float32, ChunkBits*f)
	for i := range counts {
		counts[i] = float32(i % 5000)
	}
	for b.Loop() {
		if _, err := s.ScoreCounts(counts); err != nil {
			b.Fatal(err)
		}
	}
}

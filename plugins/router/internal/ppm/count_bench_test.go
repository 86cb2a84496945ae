package ppm

import (
	"testing"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// BenchmarkCounts times the two-candidate counts on the benchmark's shape
// (10 000 instances, 64 features), one goroutine: through the pure-Go
// kernel, and through the run-time-selected one (AVX-512 where the CPU has
// VPOPCNTQ).
func BenchmarkCounts(b *testing.B) {
	be, release, err := ml.AcquireBackend("go")
	if err != nil {
		b.Fatal(err)
	}
	defer release()
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
	w := s.w
	row := func(j int) []uint64 { return s.featBits[j*w : (j+1)*w] }
	var acc [8]uint64
	b.Run("go-kernel", func(b *testing.B) {
		for b.Loop() {
			for p := s.present; len(p) >= 4; p = p[4:] {
				andPopcnt2x4Go(masks.Row(0), masks.Row(1), row(p[0]), row(p[1]), row(p[2]), row(p[3]), &acc)
			}
		}
	})
	b.Run("selected", func(b *testing.B) {
		for b.Loop() {
			s.countPair(masks.Row(0), masks.Row(1), out[:f], out[f:])
		}
	})
}

// BenchmarkScoreCounts times the PPM graph on one full chunk of counts.
func BenchmarkScoreCounts(b *testing.B) {
	be, release, err := ml.AcquireBackend("go")
	if err != nil {
		b.Fatal(err)
	}
	defer release()
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

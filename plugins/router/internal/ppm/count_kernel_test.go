package ppm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// TestAndPopcnt2x4MatchesGo: the run-time-selected kernel (AVX-512 on a CPU
// with VPOPCNTQ) equals the pure-Go one exactly for every length 1..200
// words — full 8-word blocks, every n%8 tail, and lengths under one block —
// on rows of several densities, including all-ones (64 per word) rows.
func TestAndPopcnt2x4MatchesGo(t *testing.T) {
	if !haveVecPopcnt {
		t.Log("no AVX-512 VPOPCNTQ here: andPopcnt2x4 is the pure-Go kernel, compared with itself")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	row := func(n int, density float64) []uint64 {
		r := make([]uint64, n)
		for i := range r {
			switch {
			case density >= 1:
				r[i] = ^uint64(0)
			default:
				for b := 0; b < 64; b++ {
					if rng.Float64() < density {
						r[i] |= 1 << b
					}
				}
			}
		}
		return r
	}
	for n := 1; n <= 200; n++ {
		for _, d := range []struct{ mask, feat float64 }{{0.5, 0.5}, {0.05, 0.9}, {1, 1}} {
			t.Run(fmt.Sprintf("n=%d/density=%v", n, d), func(t *testing.T) {
				// One spare word past n in every row: the kernel must not
				// count it (a masked tail that read too far would).
				ma, mb := row(n+1, d.mask), row(n+1, d.mask)
				f := [4][]uint64{row(n+1, d.feat), row(n+1, d.feat), row(n+1, d.feat), row(n+1, d.feat)}
				var want, got [8]uint64
				andPopcnt2x4Go(ma[:n], mb[:n], f[0][:n], f[1][:n], f[2][:n], f[3][:n], &want)
				andPopcnt2x4(ma[:n], mb[:n], f[0][:n], f[1][:n], f[2][:n], f[3][:n], &got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("counts (-go +kernel):\n%s", diff)
				}
			})
		}
	}
}

// TestCountsMatchesReference: Scorer.Counts equals a per-candidate,
// per-feature, per-instance count on the benchmark's shape (157 words, not a
// multiple of 8), with an odd number of candidates (the last one alone)
// and a present-feature count that is not a multiple of 4.
func TestCountsMatchesReference(t *testing.T) {
	b, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	const n, f, k = 10_000, 31, 7
	m, data := benchModel(n, f, 5)
	for i := 0; i < n; i++ {
		data[i*f+20] = 0 // an absent feature: always counts 0
	}
	s, err := NewScorerPath(b, m, n, data, PathBits)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.present)%4 == 0 {
		t.Fatalf("%d present features: want a non-multiple of 4 to cover the padded group", len(s.present))
	}
	masks := NewMasks(k, n)
	g := splitmix{3}
	for i := range masks.Bits {
		masks.Bits[i] = g.bernoulli(uint32(40 * (i%5 + 1)))
	}
	for i := n; i < masks.W*64; i++ { // bits past N stay 0
		for r := 0; r < k; r++ {
			masks.Bits[r*masks.W+i/64] &^= 1 << (uint(i) % 64)
		}
	}
	want := make([]float32, k*f)
	for r := 0; r < k; r++ {
		for i := 0; i < n; i++ {
			if masks.Bits[r*masks.W+i/64]&(1<<(uint(i)%64)) == 0 {
				continue
			}
			for j := 0; j < f; j++ {
				want[r*f+j] += data[i*f+j]
			}
		}
	}
	got := make([]float32, k*f)
	for i := range got {
		got[i] = -1 // every entry must be written
	}
	s.Counts(masks, got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts (-reference +Counts):\n%s", diff)
	}
}

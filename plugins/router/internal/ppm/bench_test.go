package ppm

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// benchModel is a random quadratic PPM over f features and a random binary
// instance × feature matrix shaped like the reference's (6 lexical features
// × 3 one-hot bins, then multi-hot tags).
func benchModel(n, f int, seed uint64) (*Model, []float32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := &Model{C: 0.6, L: make([]float64, f), Q: make([]float64, f*f)}
	for j := 0; j < f; j++ {
		m.L[j] = rng.NormFloat64() * 0.1
		for k := 0; k <= j; k++ {
			v := rng.NormFloat64() * 0.05
			m.Q[j*f+k], m.Q[k*f+j] = v, v
		}
		m.Names = append(m.Names, strconv.Itoa(j))
	}
	data := make([]float32, n*f)
	for i := 0; i < n; i++ {
		for g := 0; g < 6 && 3*g+2 < f; g++ {
			data[i*f+3*g+rng.IntN(3)] = 1
		}
		for j := 18; j < f; j++ {
			if rng.Float64() < 0.1 {
				data[i*f+j] = 1
			}
		}
	}
	return m, data
}

// TestScorerMatchesPredict: both scoring paths equal the scalar model on
// random data — the bitset path's counts exactly, the scores within float32
// tolerance — through the bitset and the dense-float mask entry points, with
// n not a multiple of 64 and more candidates than one PPM chunk.
func TestScorerMatchesPredict(t *testing.T) {
	b, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	const n, f = 300, 24
	k := ChunkBits + 5
	m, data := benchModel(n, f, 3)
	rng := rand.New(rand.NewPCG(8, 8))
	masks := NewMasks(k, n)
	dense := make([]float32, k*n)
	for r := 0; r < k; r++ {
		p := rng.Float64()
		for i := 0; i < n; i++ {
			if rng.Float64() < p {
				masks.Set(r, i)
				dense[r*n+i] = 1
			}
		}
	}
	want := make([]float64, k)
	wantCounts := make([]float32, k*f)
	for r := 0; r < k; r++ {
		x := make([]float64, f)
		for i := 0; i < n; i++ {
			if dense[r*n+i] != 0 {
				for j := 0; j < f; j++ {
					x[j] += float64(data[i*f+j])
					wantCounts[r*f+j] += data[i*f+j]
				}
			}
		}
		for j := range x {
			x[j] /= n
		}
		want[r] = m.Predict(x)
	}
	for _, tc := range []struct {
		name  string
		path  Path
		dense bool
		k     int
	}{
		{"bits/bitsets", PathBits, false, k},
		{"bits/dense-input", PathBits, true, 9},
		{"dense/bitsets", PathDense, false, 9},
		{"dense/dense-input", PathDense, true, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewScorerPath(b, m, n, data, tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if s.Path() != tc.path {
				t.Fatalf("path %v, want %v", s.Path(), tc.path)
			}
			var got []float32
			if tc.dense {
				got, err = s.Score(dense[:tc.k*n])
			} else {
				got, err = s.ScoreMasks(Masks{K: tc.k, W: masks.W, Bits: masks.Bits[:tc.k*masks.W]})
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.k {
				t.Fatalf("%d scores, want %d", len(got), tc.k)
			}
			if tc.path == PathBits {
				counts := make([]float32, tc.k*f)
				s.Counts(Masks{K: tc.k, W: masks.W, Bits: masks.Bits[:tc.k*masks.W]}, counts)
				if diff := cmp.Diff(wantCounts[:tc.k*f], counts); diff != "" {
					t.Errorf("counts (-want +got):\n%s", diff)
				}
			}
			bad := 0
			for r := 0; r < tc.k; r++ {
				if d := float64(got[r]) - want[r]; (d > 1e-4 || d < -1e-4) && bad < 5 {
					bad++
					t.Errorf("candidate %d: scorer %v, Predict %v", r, got[r], want[r])
				}
			}
		})
	}
}

// TestScorerPathChoice: simplego gets the bitset path, a non-binary feature
// matrix the dense one (and an explicit bitset request on it fails).
func TestScorerPathChoice(t *testing.T) {
	b, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	m, data := benchModel(10, 4, 1)
	s, err := NewScorer(b, m, 10, data)
	if err != nil || s.Path() != PathBits {
		t.Fatalf("binary data on go: path %v, err %v; want bits", s.Path(), err)
	}
	data[3] = 0.5
	if s, err = NewScorer(b, m, 10, data); err != nil || s.Path() != PathDense {
		t.Fatalf("non-binary data: path %v, err %v; want dense", s.Path(), err)
	}
	if _, err = NewScorerPath(b, m, 10, data, PathBits); err == nil {
		t.Fatal("bitset path accepted a non-binary feature matrix")
	}
}

// TestBernoulliWords: the benchmark's random words have the asked density.
func TestBernoulliWords(t *testing.T) {
	g := splitmix{42}
	for _, d := range []uint32{0, 1, 26, 64, 128, 192, 230, 256} {
		const words = 20000
		ones := 0
		for i := 0; i < words; i++ {
			ones += bits.OnesCount64(g.bernoulli(d))
		}
		got, want := float64(ones)/(64*words), float64(d)/256
		if math.Abs(got-want) > 0.005 {
			t.Errorf("d=%d: density %.4f, want %.4f", d, got, want)
		}
	}
}

// TestScore1MBench is the scale benchmark behind `make bench-router`:
// score 1 000 000 random candidate routings (25–75% of the instances to
// humans) of 10 000 instances with a 64-feature quadratic PPM, timed after a
// warm-up chunk that compiles the graph. On the go backend the bitset path
// runs (random bitsets and popcount counts on host goroutines, the PPM as
// batched matmuls in GoMLX) and the split of the time is printed; on XLA
// the dense path (masks drawn on the device, counts = masks·B).
// ROUTER_BENCH_BACKEND picks the backend (default go),
// ROUTER_BENCH_CANDIDATES / ROUTER_BENCH_CHUNK the size. Runs only when
// ROUTER_BENCH=1.
func TestScore1MBench(t *testing.T) {
	if os.Getenv("ROUTER_BENCH") != "1" {
		t.Skip("set ROUTER_BENCH=1 (make bench-router) to run the 1M-candidate scoring benchmark")
	}
	backend := os.Getenv("ROUTER_BENCH_BACKEND")
	if backend == "" {
		backend = "go"
	}
	// The full million on every backend: the bitset path (go) needs no
	// extrapolation.
	total, chunk := 1_000_000, 16384
	if v := os.Getenv("ROUTER_BENCH_CANDIDATES"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("ROUTER_BENCH_CHUNK"); v != "" {
		chunk, _ = strconv.Atoi(v)
	}
	const n, f = 10_000, 64
	b, release, err := ml.AcquireBackend(backend)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	m, data := benchModel(n, f, 1)
	s, err := NewScorer(b, m, n, data)
	if err != nil {
		t.Fatal(err)
	}
	// Realistic budgets: 25–75% of the instances routed to humans.
	fracs := []float32{0.25, 0.375, 0.5, 0.625, 0.75}
	// Warm-up compiles the chunk graph outside the timing.
	if _, err := s.ScoreRandom(chunk, chunk, fracs, 1); err != nil {
		t.Fatal(err)
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	res, err := s.ScoreRandom(total, chunk, fracs, 2)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	scaled := el * 1_000_000 / float64(total)
	path := map[Path]string{PathBits: "bits", PathDense: "dense"}[s.Path()]
	t.Logf("backend=%s path=%s candidates=%d instances=%d features=%d chunk=%d GOMAXPROCS=%d: %.2fs wall, %.2fs CPU (best %.4f at %d)%s",
		backend, path, total, n, f, chunk, runtime.GOMAXPROCS(0), el, cpu, res.Best, res.BestIdx,
		map[bool]string{true: fmt.Sprintf("; per 1M candidates: %.2fs (extrapolated)", scaled), false: ""}[total != 1_000_000])
	if s.Path() == PathBits {
		os.Stdout.WriteString(fmt.Sprintf("bench-router: split masks_s=%.2f counts_s=%.2f ppm_s=%.2f cpu_s=%.2f\n",
			res.Masks.Seconds(), res.Counts.Seconds(), res.PPM.Seconds(), cpu))
	}
	// The line make bench-router prints last (extrapolated to 1M when fewer
	// candidates were asked for).
	os.Stdout.WriteString("bench-router: score1m_s=" + strconv.FormatFloat(scaled, 'f', 2, 64) + "\n")
}

// cpuSeconds is this process's user+system CPU time: the machine is shared,
// so the benchmark reports CPU next to wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

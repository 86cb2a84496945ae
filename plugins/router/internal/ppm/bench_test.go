package ppm

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shammie-ml/shammie/plugins/router/internal/compute"
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

// TestScorerMatchesPredict: batched scoring equals the scalar model.
func TestScorerMatchesPredict(t *testing.T) {
	b, err := compute.Open("go")
	if err != nil {
		t.Fatal(err)
	}
	const n, f, k = 300, 24, 7
	m, data := benchModel(n, f, 3)
	s, err := NewScorer(b, m, n, data)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	masks := make([]float32, k*n)
	for i := range masks {
		if rng.Float64() < 0.4 {
			masks[i] = 1
		}
	}
	got, err := s.Score(masks)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < k; r++ {
		x := make([]float64, f)
		for i := 0; i < n; i++ {
			if masks[r*n+i] != 0 {
				for j := 0; j < f; j++ {
					x[j] += float64(data[i*f+j]) / n
				}
			}
		}
		want := m.Predict(x)
		if d := float64(got[r]) - want; d > 1e-4 || d < -1e-4 {
			t.Errorf("candidate %d: scorer %v, Predict %v", r, got[r], want)
		}
	}
}

// TestScore1MBench is the scale benchmark behind `make bench-router`:
// score 1 000 000 random candidate routings of 10 000 instances with a
// 64-feature quadratic PPM (masks drawn on the backend, counts = masks·B,
// then the quadratic form), timed after a warm-up chunk that compiles the
// graph. ROUTER_BENCH_BACKEND picks the backend (default go),
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
	// The full million on an accelerator; on the pure-Go CPU backend (far
	// too slow for 6.4e11 multiply-adds) a slice of it, extrapolated.
	total, chunk := 1_000_000, 16384
	if backend == "go" {
		total, chunk = 32768, 2048
	}
	if v := os.Getenv("ROUTER_BENCH_CANDIDATES"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("ROUTER_BENCH_CHUNK"); v != "" {
		chunk, _ = strconv.Atoi(v)
	}
	const n, f = 10_000, 64
	b, err := compute.Open(backend)
	if err != nil {
		t.Fatal(err)
	}
	m, data := benchModel(n, f, 1)
	s, err := NewScorer(b, m, n, data)
	if err != nil {
		t.Fatal(err)
	}
	fracs := []float32{0.1, 0.25, 0.5, 0.75, 0.9}
	// Warm-up compiles the chunk graph outside the timing.
	if _, _, err := s.ScoreRandom(chunk, chunk, fracs, 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	best, idx, err := s.ScoreRandom(total, chunk, fracs, 2)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start).Seconds()
	scaled := el * 1_000_000 / float64(total)
	t.Logf("backend=%s candidates=%d instances=%d features=%d chunk=%d: %.2fs (best %.4f at %d); per 1M candidates: %.2fs%s",
		backend, total, n, f, chunk, el, best, idx, scaled, map[bool]string{true: " (extrapolated)", false: ""}[total != 1_000_000])
	// The line make bench-router prints last (extrapolated to 1M when fewer
	// candidates were asked for).
	os.Stdout.WriteString("bench-router: score1m_s=" + strconv.FormatFloat(scaled, 'f', 2, 64) + "\n")
}

package pelt

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rupturesPelt transcribes the control flow of ruptures' Pelt._seg (v1.1.x,
// model "l2", min_size 1, jump 1) step by step: partitions[t] is a list of
// (start, end, cost+pen) in insertion order, the criterion of a partition
// is the sum of its values in that order, min() keeps the first minimal
// subproblem, and the admissible list keeps t whose criterion is at most
// the best plus pen. The segment cost is computed as ruptures' CostL2 does,
// var(segment) × length, from the raw values. It is deliberately slow and
// literal: it pins the semantics (tie-breaking, pruning, what is summed),
// not the speed.
func rupturesPelt(y []float64, pen float64) []int {
	type seg struct {
		start, end int
		val        float64
	}
	costL2 := func(a, b int) float64 {
		m := 0.0
		for _, v := range y[a:b] {
			m += v
		}
		m /= float64(b - a)
		v := 0.0
		for _, x := range y[a:b] {
			v += (x - m) * (x - m)
		}
		return v / float64(b-a) * float64(b-a)
	}
	sum := func(p []seg) float64 {
		s := 0.0
		for _, x := range p {
			s += x.val
		}
		return s
	}
	n := len(y)
	partitions := map[int][]seg{0: {{0, 0, 0}}}
	var admissible []int
	var ind []int
	for k := 1; k < n; k++ { // range(0, n, jump) with k >= min_size
		ind = append(ind, k)
	}
	ind = append(ind, n)
	for _, bkp := range ind {
		admissible = append(admissible, bkp-1) // floor((bkp - min_size) / jump) * jump
		var subproblems [][]seg
		var keptT []int
		for _, t := range admissible {
			left, ok := partitions[t]
			if !ok {
				continue
			}
			tmp := append(append([]seg(nil), left...), seg{t, bkp, costL2(t, bkp) + pen})
			subproblems = append(subproblems, tmp)
			keptT = append(keptT, t)
		}
		best := subproblems[0]
		for _, sp := range subproblems[1:] {
			if sum(sp) < sum(best) {
				best = sp
			}
		}
		partitions[bkp] = best
		var next []int
		for i, sp := range subproblems {
			if sum(sp) <= sum(best)+pen {
				next = append(next, keptT[i])
			}
		}
		admissible = next
	}
	var bkps []int
	for _, s := range partitions[n][1:] { // drop the (0, 0) sentinel
		bkps = append(bkps, s.end)
	}
	return bkps
}

// TestMatchesRupturesTranscription compares Pelt with the literal
// transcription of ruptures' loop on random score-like and noisy signals.
func TestMatchesRupturesTranscription(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := 0; trial < 60; trial++ {
		n := 2 + rng.IntN(120)
		y := make([]float64, n)
		on := rng.IntN(n)
		sd := []float64{0.02, 0.2, 1}[trial%3]
		for i := range y {
			y[i] = 0.2 + sd*rng.NormFloat64()
			if i >= on {
				y[i] += 0.5
			}
		}
		got, err := Pelt(y, 0.9)
		if err != nil {
			t.Fatal(err)
		}
		want := rupturesPelt(y, 0.9)
		if diff := cmp.Diff(want, got.Breakpoints); diff != "" {
			t.Fatalf("trial %d (n=%d sd=%v): breakpoints differ from ruptures' loop (-ruptures +ours):\n%s", trial, n, sd, diff)
		}
	}
}

package mixture

import (
	"math/rand/v2"
	"testing"

	"github.com/shammie-ml/shammie/plugins/router/internal/features"
)

// matrix: 10 instances, feature 0 held by instances 0-3, feature 1 by 4-9.
func matrix() *features.Matrix {
	m := &features.Matrix{Names: []string{"f0", "f1"}, N: 10, Data: make([]float32, 20)}
	for i := 0; i < 10; i++ {
		if i < 4 {
			m.Data[i*2] = 1
		} else {
			m.Data[i*2+1] = 1
		}
	}
	return m
}

func TestKnapsackFillsWholeFeaturesFirst(t *testing.T) {
	m := matrix()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		mix := Knapsack(m, 6, rng)
		if mix.Budget != 6 {
			t.Fatalf("budget %d, want 6", mix.Budget)
		}
		// A 6-instance knapsack holds all of f0 (4) + 2 of f1, or 6 of f1.
		c := Counts(m, mix)
		f0, f1 := int(c[0]*10+0.5), int(c[1]*10+0.5)
		if !((f0 == 4 && f1 == 2) || (f0 == 0 && f1 == 6)) {
			t.Fatalf("counts f0=%d f1=%d: not a knapsack of whole features", f0, f1)
		}
	}
}

func TestRandomAndAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	if mix := Random(10, 3, rng); mix.Budget != 3 || count(mix.Human) != 3 {
		t.Errorf("random: %+v", mix)
	}
	if count(All(5, true).Human) != 5 || count(All(5, false).Human) != 0 {
		t.Errorf("All wrong")
	}
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

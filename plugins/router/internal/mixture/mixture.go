// Package mixture samples hybrid label mixtures: which instances get the
// human label (the rest keep the LM label). It implements the reference's
// "knapsack" sampler and the per-feature counts the performance prediction
// model reads.
package mixture

import (
	"math/rand/v2"

	"github.com/shammie-ml/shammie/plugins/router/internal/features"
)

// Mixture is one routing: Human[i] says instance i uses its human label.
type Mixture struct {
	Human  []bool
	Budget int // number of human-routed instances
}

// Knapsack fills a routing of exactly budget instances (or all that the
// features cover) the way the reference does: shuffle the features; for each,
// shuffle its instances and add those not yet routed until the budget is
// reached. Routings so built are unions of whole feature groups plus a part
// of one, which gives the regression model strongly varying per-feature
// counts to learn from.
func Knapsack(m *features.Matrix, budget int, rng *rand.Rand) Mixture {
	f := len(m.Names)
	human := make([]bool, m.N)
	if budget <= 0 {
		return Mixture{Human: human}
	}
	order := rng.Perm(f)
	taken := 0
	members := make([]int, 0, m.N)
	for _, j := range order {
		members = members[:0]
		for i := 0; i < m.N; i++ {
			if m.Data[i*f+j] != 0 {
				members = append(members, i)
			}
		}
		rng.Shuffle(len(members), func(a, b int) { members[a], members[b] = members[b], members[a] })
		for _, i := range members {
			if taken >= budget {
				return Mixture{Human: human, Budget: taken}
			}
			if !human[i] {
				human[i] = true
				taken++
			}
		}
	}
	return Mixture{Human: human, Budget: taken}
}

// Random routes a uniformly random subset of the given size.
func Random(n, budget int, rng *rand.Rand) Mixture {
	human := make([]bool, n)
	for _, i := range rng.Perm(n)[:min(budget, n)] {
		human[i] = true
	}
	return Mixture{Human: human, Budget: min(budget, n)}
}

// All routes every instance to humans (human=true) or none (false).
func All(n int, human bool) Mixture {
	h := make([]bool, n)
	if human {
		for i := range h {
			h[i] = true
		}
	}
	b := 0
	if human {
		b = n
	}
	return Mixture{Human: h, Budget: b}
}

// Counts is the PPM input of a routing: per feature, the number of
// human-routed instances having it, divided by the data set size (the
// reference's "proportion of instances that satisfy the feature").
func Counts(m *features.Matrix, mix Mixture) []float32 {
	f := len(m.Names)
	c := make([]float32, f)
	for i, h := range mix.Human {
		if !h {
			continue
		}
		row := m.Data[i*f : (i+1)*f]
		for j, v := range row {
			c[j] += v
		}
	}
	inv := 1 / float32(m.N)
	for j := range c {
		c[j] *= inv
	}
	return c
}

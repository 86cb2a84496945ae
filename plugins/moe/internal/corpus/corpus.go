// Package corpus holds the MoE plugin's training text: byte-level domains
// (one file per domain), the planted two-domain Markov generator used by
// the default run and the tests, and seeded sampling of labelled windows.
package corpus

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
)

// Domain is one named byte stream. Train and Eval are disjoint: Eval is the
// tail kept for the routing analyses.
type Domain struct {
	Name  string
	Path  string // "" for generated data
	Train []byte
	Eval  []byte
}

// Split divides data into a training head and an evaluation tail of
// evalFrac (at least minEval bytes when available).
func Split(name, path string, data []byte, evalFrac float64, minEval int) (Domain, error) {
	n := int(float64(len(data)) * evalFrac)
	n = max(n, minEval)
	if len(data) < 2*minEval || n >= len(data) {
		return Domain{}, fmt.Errorf("domain %q (%s): %d bytes is too little to split into training text and a %d-byte evaluation tail", name, path, len(data), n)
	}
	return Domain{Name: name, Path: path, Train: data[:len(data)-n], Eval: data[len(data)-n:]}, nil
}

// LoadFiles reads one file per domain (map name → path), sorted by name so
// domain indices are stable.
func LoadFiles(files map[string]string, evalFrac float64, minEval int) ([]Domain, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Domain
	for _, n := range names {
		data, err := os.ReadFile(files[n])
		if err != nil {
			return nil, fmt.Errorf("domain %q: %w", n, err)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("domain %q: %s is empty", n, files[n])
		}
		d, err := Split(n, files[n], data, evalFrac, minEval)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Markov is a first-order chain over the byte range [Lo, Lo+States).
// From state s it moves, with probability Local, to one of s's own few
// successors, and otherwise to a state drawn from the chain's shared
// (domain-wide) distribution. The shared part is what makes a domain a
// domain: every state of the chain predicts much the same successors, so a
// model's representations of one domain's bytes share a common component —
// as with the vocabulary of a topic — on which a router can group them.
type Markov struct {
	Lo     int
	States int
	Local  float64
	// next[s] lists successors and cumulative probabilities.
	next [][]int
	cum  [][]float64
	// shared is the domain-wide distribution (cumulative).
	shared []float64
}

// NewMarkov draws a random chain: each state's local successors are
// `fanout` random states with Dirichlet(1) probabilities; the shared
// distribution is Zipf-like (weight 1/rank over a random order of states).
func NewMarkov(rng *rand.Rand, lo, states, fanout int, local float64) *Markov {
	m := &Markov{Lo: lo, States: states, Local: local, next: make([][]int, states), cum: make([][]float64, states)}
	order := rng.Perm(states)
	w := make([]float64, states)
	for rank, st := range order {
		w[st] = 1 / float64(rank+1)
	}
	m.shared = cumulative(w)
	for s := range states {
		succ := rng.Perm(states)[:fanout]
		w := make([]float64, fanout)
		total := 0.0
		for i := range w {
			w[i] = rng.ExpFloat64()
			total += w[i]
		}
		acc := 0.0
		cum := make([]float64, fanout)
		for i := range w {
			acc += w[i] / total
			cum[i] = acc
		}
		cum[fanout-1] = 1
		m.next[s], m.cum[s] = succ, cum
	}
	return m
}

func cumulative(w []float64) []float64 {
	total := 0.0
	for _, x := range w {
		total += x
	}
	out := make([]float64, len(w))
	acc := 0.0
	for i, x := range w {
		acc += x / total
		out[i] = acc
	}
	out[len(out)-1] = 1
	return out
}

// Generate emits n bytes of the chain from a random start.
func (m *Markov) Generate(rng *rand.Rand, n int) []byte {
	out := make([]byte, n)
	s := rng.IntN(m.States)
	for i := range out {
		out[i] = byte(m.Lo + s)
		if rng.Float64() < m.Local {
			j := sort.SearchFloat64s(m.cum[s], rng.Float64())
			s = m.next[s][min(j, len(m.next[s])-1)]
		} else {
			s = min(sort.SearchFloat64s(m.shared, rng.Float64()), m.States-1)
		}
	}
	return out
}

// PlantedLocal is the planted chains' probability of a state-specific move.
const PlantedLocal = 0.1

// Planted is the synthetic two-domain corpus: domain "low" is a Markov chain
// over bytes 0–127 and "high" a different chain over 128–255, so a router
// can tell the domains apart from the token ids alone.
func Planted(seed int64, bytesPerDomain int) map[string][]byte {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6d6f65))
	out := map[string][]byte{}
	for i, name := range []string{"low", "high"} {
		m := NewMarkov(rng, 128*i, 128, 4, PlantedLocal)
		out[name] = m.Generate(rng, bytesPerDomain)
	}
	return out
}

// Sampler draws training windows: each row picks a domain uniformly (so
// small domains are not drowned) and a uniform random window in it. Batch i
// depends only on the seed and i, so a resumed run sees the same data.
type Sampler struct {
	Domains []Domain
	Seed    int64
}

// Batch returns batch i: rows of seq+1 tokens (inputs and shifted targets)
// and each row's domain index.
func (s *Sampler) Batch(i, batch, seq int) (tokens [][]int32, domains []int) {
	rng := rand.New(rand.NewPCG(uint64(s.Seed), uint64(i)))
	tokens = make([][]int32, batch)
	domains = make([]int, batch)
	for b := range batch {
		d := rng.IntN(len(s.Domains))
		text := s.Domains[d].Train
		start := rng.IntN(len(text) - seq)
		row := make([]int32, seq+1)
		for j := range row {
			row[j] = int32(text[start+j])
		}
		tokens[b], domains[b] = row, d
	}
	return tokens, domains
}

// EvalWindows cuts each domain's evaluation tail into up to perDomain
// consecutive windows of seq tokens, for the routing analyses: rows, the
// domain of each row.
func EvalWindows(domains []Domain, seq, perDomain int) (rows [][]int32, rowDomain []int) {
	for d, dom := range domains {
		for w := 0; w < perDomain && (w+1)*seq <= len(dom.Eval); w++ {
			row := make([]int32, seq)
			for i := range row {
				row[i] = int32(dom.Eval[w*seq+i])
			}
			rows = append(rows, row)
			rowDomain = append(rowDomain, d)
		}
	}
	return rows, rowDomain
}

// Package planted makes embedding sets with a planted imitation onset, for the
// default run and for tests: concepts with log-uniform image counts (or
// given counts), training-image embeddings scattered around a concept
// centre, and generated-image embeddings that mix the concept centre with a
// generic "model prior" direction. Below the planted count the mix leans to
// the prior (the model does not imitate the concept); from the planted count
// on it leans to the concept, so the imitation score steps up there.
package planted

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"

	"github.com/shammie-ml/shammie/plugins/fit/internal/dataset"
	"github.com/shammie-ml/shammie/plugins/fit/internal/embfile"
	"github.com/shammie-ml/shammie/plugins/fit/internal/imitation"
)

// Config describes a demo set.
type Config struct {
	Concepts           int     // number of concepts (ignored when Counts is set)
	MinCount, MaxCount int64   // log-uniform count range, inclusive
	Threshold          int64   // planted onset: counts >= Threshold imitate
	Prompts            int     // prompts per concept
	TrainImages        int     // training images per concept
	GeneratedImages    int     // generated images per prompt
	Width              int     // embedding width
	Below, Above       float64 // weight of the concept centre in generated images, below / above the onset
	Noise              float64 // per-image noise scale (relative to unit centres)
	Seed               uint64
	// Counts, when set, gives the concepts and their counts (real counts,
	// for instance) instead of drawing them.
	Counts []dataset.NamedCount
}

// Default is the configuration the plugin's generate mode starts from.
var Default = Config{Concepts: 200, MinCount: 1, MaxCount: 100_000, Threshold: 300, Prompts: 5,
	TrainImages: 20, GeneratedImages: 10, Width: 64, Below: 0.25, Above: 0.75, Noise: 0.35, Seed: 1}

// Validate checks the configuration; messages name the config attribute.
func (c Config) Validate() error {
	switch {
	case len(c.Counts) == 0 && c.Concepts < 2:
		return fmt.Errorf("n_concepts must be at least 2, got %d", c.Concepts)
	case len(c.Counts) == 0 && (c.MinCount < 0 || c.MaxCount < c.MinCount):
		return fmt.Errorf("need 0 <= min_count <= max_count, got %d and %d", c.MinCount, c.MaxCount)
	case c.Threshold < 0:
		return fmt.Errorf("threshold must be >= 0, got %d", c.Threshold)
	case c.Prompts < 1 || c.TrainImages < 1 || c.GeneratedImages < 1 || c.Width < 2:
		return fmt.Errorf("prompts, train_images, generated_images must be >= 1 and width >= 2")
	case !(c.Below >= 0 && c.Below <= 1 && c.Above >= 0 && c.Above <= 1):
		return fmt.Errorf("below and above must be in [0, 1]")
	case !(c.Noise >= 0):
		return fmt.Errorf("noise must be >= 0")
	}
	return nil
}

// Set is a generated embedding set.
type Set struct {
	Names    []string
	Counts   []int64
	Concepts []imitation.Concept
	// Expected is the threshold an exact estimator should report: the
	// smallest count >= Threshold among the concepts (-1 if none).
	Expected int64
}

// logUniform draws an integer count whose logarithm (of count+1, so that 0
// is possible) is uniform.
func logUniform(rng *rand.Rand, lo, hi int64) int64 {
	a, b := math.Log(float64(lo)+1), math.Log(float64(hi)+1)
	v := int64(math.Floor(math.Exp(a+(b-a)*rng.Float64()) - 1))
	return max(lo, min(hi, v))
}

func unitGaussian(rng *rand.Rand, d int) []float64 {
	v := make([]float64, d)
	n := 0.0
	for i := range v {
		v[i] = rng.NormFloat64()
		n += v[i] * v[i]
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] /= n
	}
	return v
}

// Generate draws the set; the same Config gives the same set.
func Generate(c Config) (*Set, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	s := &Set{Expected: -1}
	if len(c.Counts) > 0 {
		for _, nc := range c.Counts {
			s.Names = append(s.Names, nc.Name)
			s.Counts = append(s.Counts, nc.Count)
		}
	} else {
		for i := range c.Concepts {
			s.Names = append(s.Names, "concept-"+strconv.Itoa(i))
			s.Counts = append(s.Counts, logUniform(rng, c.MinCount, c.MaxCount))
		}
	}
	prior := unitGaussian(rng, c.Width)
	promptDirs := make([][]float64, c.Prompts)
	for p := range promptDirs {
		promptDirs[p] = unitGaussian(rng, c.Width)
	}
	// Per-image noise of total norm about Noise: sd Noise/sqrt(width) per
	// coordinate.
	sd := c.Noise / math.Sqrt(float64(c.Width))
	image := func(mean []float64) []float32 {
		v := make([]float32, len(mean))
		for i, m := range mean {
			v[i] = float32(m + sd*rng.NormFloat64())
		}
		return v
	}
	for i := range s.Names {
		center := unitGaussian(rng, c.Width)
		var con imitation.Concept
		for range c.TrainImages {
			con.Train = append(con.Train, image(center))
		}
		w := c.Below
		if s.Counts[i] >= c.Threshold {
			w = c.Above
			if s.Expected < 0 || s.Counts[i] < s.Expected {
				s.Expected = s.Counts[i]
			}
		}
		for p := range c.Prompts {
			// The prompt nudges the prior a little so prompts differ.
			mean := make([]float64, c.Width)
			for k := range mean {
				mean[k] = w*center[k] + (1-w)*(0.9*prior[k]+0.45*promptDirs[p][k])
			}
			var imgs [][]float32
			for range c.GeneratedImages {
				imgs = append(imgs, image(mean))
			}
			con.Prompts = append(con.Prompts, imgs)
		}
		s.Concepts = append(s.Concepts, con)
	}
	return s, nil
}

// WriteBundle writes the set as one safetensors file in the layout
// dataset.ReadEmbeddings reads: train/<name> [images, width],
// generated/<name> [prompts, images, width], counts in the metadata.
func (s *Set) WriteBundle(path string) error {
	tensors := map[string]embfile.Array{}
	meta := map[string]string{}
	var names []string
	for i, n := range s.Names {
		con := s.Concepts[i]
		w := len(con.Train[0])
		tr := embfile.Array{Shape: []int{len(con.Train), w}}
		for _, v := range con.Train {
			tr.Data = append(tr.Data, v...)
		}
		g := embfile.Array{Shape: []int{len(con.Prompts), len(con.Prompts[0]), w}}
		for _, p := range con.Prompts {
			for _, v := range p {
				g.Data = append(g.Data, v...)
			}
		}
		tensors[dataset.TrainPrefix+n] = tr
		tensors[dataset.GeneratedPrefix+n] = g
		names = append(names, dataset.TrainPrefix+n, dataset.GeneratedPrefix+n)
		meta[dataset.CountPrefix+n] = strconv.FormatInt(s.Counts[i], 10)
	}
	order, err := json.Marshal(s.Names)
	if err != nil {
		return err
	}
	meta[dataset.OrderKey] = string(order)
	return embfile.WriteSafetensors(path, names, tensors, meta)
}

// SortedCounts returns the counts ascending (for summaries and tests).
func (s *Set) SortedCounts() []int64 {
	c := append([]int64(nil), s.Counts...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c
}

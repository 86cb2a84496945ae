// Package planted generates the router's planted data: preference instances
// with a latent gold label, an LM annotator that is accurate except on one
// planted subject, and humans uniformly noisier. A good router sends the
// planted subject to humans first.
package planted

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
)

// Config describes a synthetic data set with a known answer: every
// instance has a latent gold preference; the LM annotator is accurate except
// on one planted feature (a subject tag), where it is systematically wrong;
// humans are uniformly noisier than the LM elsewhere. A good router must send
// the planted subject to humans first.
type Config struct {
	N int
	// Subjects are the values of the subject_of_expertise tag; Planted is
	// the one the LM gets wrong.
	Subjects []string
	Planted  string
	// PlantedFrac is the share of instances with the planted subject.
	PlantedFrac float64
	// HumanFlip is the probability a human label disagrees with gold.
	HumanFlip float64
	// LMFlip is the LM's error rate off the planted subject; LMPlantedFlip
	// on it.
	LMFlip, LMPlantedFlip float64
	// NoWeakness plants nothing: the LM errs at HumanFlip everywhere, as
	// humans do, so no routing beats another but by noise. The control
	// the router's noise flag is tested on.
	NoWeakness bool
	// WordsPerSubject and CommonWords size the vocabulary; responses draw
	// SubjectShare of their words from their subject's words.
	WordsPerSubject, CommonWords int
	SubjectShare                 float64
	Seed                         uint64
}

// Default is the planted set used by specs/hyper.hcl and the tests.
func Default(n int, seed uint64) Config {
	return Config{
		N:               n,
		Subjects:        []string{"Medicine_and_health", "Computer_sciences", "Literature", "Economics", "Physics"},
		Planted:         "Medicine_and_health",
		PlantedFrac:     0.2,
		HumanFlip:       0.3,
		LMFlip:          0.05,
		LMPlantedFlip:   0.85,
		WordsPerSubject: 30,
		CommonWords:     40,
		SubjectShare:    0.7,
		Seed:            seed,
	}
}

// PlantedFeature is the feature name (as internal/features names tags) the
// router should route first.
func (c Config) PlantedFeature() string {
	if c.NoWeakness {
		return ""
	}
	return "subject_of_expertise=" + c.Planted
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.N < 20:
		return fmt.Errorf("planted data: n=%d, need at least 20 instances", c.N)
	case len(c.Subjects) < 2:
		return fmt.Errorf("planted data: need at least two subjects")
	case c.PlantedFrac <= 0 || c.PlantedFrac >= 1:
		return fmt.Errorf("planted data: planted_frac=%v must be in (0,1)", c.PlantedFrac)
	case c.HumanFlip < 0 || c.HumanFlip >= 0.5 || c.LMFlip < 0 || c.LMFlip >= 0.5:
		return fmt.Errorf("planted data: flip rates must be in [0,0.5)")
	case c.LMPlantedFlip < 0 || c.LMPlantedFlip > 1:
		return fmt.Errorf("planted data: lm_planted_flip must be in [0,1]")
	}
	found := false
	for _, s := range c.Subjects {
		found = found || s == c.Planted
	}
	if !found {
		return fmt.Errorf("planted data: planted subject %q is not among the subjects", c.Planted)
	}
	return nil
}

// Generate builds the planted data set.
func Generate(c Config) (*prefdata.Dataset, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x9e3779b97f4a7c15))
	// Vocabulary with latent gold word values.
	type word struct {
		text string
		val  float64
	}
	mk := func(prefix string, n int) []word {
		ws := make([]word, n)
		for i := range ws {
			ws[i] = word{fmt.Sprintf("%s%d", prefix, i), rng.NormFloat64()}
		}
		return ws
	}
	subjWords := map[string][]word{}
	for si, s := range c.Subjects {
		subjWords[s] = mk(fmt.Sprintf("s%dw", si), c.WordsPerSubject)
	}
	common := mk("cw", c.CommonWords)
	others := []string{}
	for _, s := range c.Subjects {
		if s != c.Planted {
			others = append(others, s)
		}
	}
	levels := []string{"general_public", "basic_domain_knowledge", "expert_domain_knowledge"}
	complexity := []string{"simple", "moderate", "complex"}

	response := func(subject string) (string, float64) {
		n := 6 + rng.IntN(25)
		parts := make([]string, n)
		var r float64
		for i := range parts {
			var w word
			if rng.Float64() < c.SubjectShare {
				ws := subjWords[subject]
				w = ws[rng.IntN(len(ws))]
			} else {
				w = common[rng.IntN(len(common))]
			}
			parts[i] = w.text
			r += w.val
		}
		// The gold reward is length-normalised so that length alone says
		// nothing about quality.
		return strings.Join(parts, " "), r / math.Sqrt(float64(n))
	}
	flip := func(p prefdata.Pref, prob float64) prefdata.Pref {
		if rng.Float64() < prob {
			return -p
		}
		return p
	}
	ds := &prefdata.Dataset{Source: fmt.Sprintf("planted generator (n=%d, planted %s, seed %d)", c.N, c.PlantedFeature(), c.Seed)}
	if c.NoWeakness {
		ds.Source = fmt.Sprintf("planted generator without a weakness (n=%d, humans and LM both wrong %.0f%% of the time, seed %d)", c.N, 100*c.HumanFlip, c.Seed)
	}
	for i := 0; i < c.N; i++ {
		subject := c.Planted
		if rng.Float64() >= c.PlantedFrac {
			subject = others[rng.IntN(len(others))]
		}
		a, ra := response(subject)
		b, rb := response(subject)
		if ra == rb {
			rb += 1e-9
		}
		gold := prefdata.PrefA
		if rb > ra {
			gold = prefdata.PrefB
		}
		lmFlip := c.LMFlip
		switch {
		case c.NoWeakness:
			lmFlip = c.HumanFlip
		case subject == c.Planted:
			lmFlip = c.LMPlantedFlip
		}
		prompt, _ := response(subject)
		ds.Instances = append(ds.Instances, prefdata.Instance{
			ID:     fmt.Sprintf("p%05d", i),
			Prompt: "question: " + prompt[:min(len(prompt), 20+rng.IntN(120))],
			A:      a,
			B:      b,
			Human:  flip(gold, c.HumanFlip),
			LM:     flip(gold, lmFlip),
			Gold:   gold,
			Tags: map[string][]string{
				"subject_of_expertise":  {subject},
				"expertise_level":       {levels[rng.IntN(len(levels))]},
				"complexity_of_intents": {complexity[rng.IntN(len(complexity))]},
			},
		})
	}
	return ds, nil
}

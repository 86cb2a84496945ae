// Package pipeline is ComPO (Kumar, Park et al. 2024, "ComPO: Community
// Preferences for Language Model Personalization"): supervised
// fine-tuning on the preferred replies with the community in the prompt,
// then DPO against the SFT model, then evaluation of the preference
// accuracy with the true, no and a random community, against the SFT
// model and a length baseline, and (on planted data) of the generations.
package pipeline

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/compo/internal/prefs"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Train are the settings of one training stage: the kit's model and
// training settings (the model's size is used by SFT only) and more.
type Train struct {
	ml.Settings
	// NoContextFraction of the training examples get the no-context prompt
	// (drawn per example with the seed), so that the generic community
	// means "any community": the model learns the marginal preference there.
	NoContextFraction float64
	Seed              int64
	CheckpointDir     string
}

func (t Train) config(mc any) ml.TrainConfig {
	c := t.Settings.TrainConfig()
	c.CheckpointDir, c.ModelConfig = t.CheckpointDir, mc
	return c
}

// tokenizer: bytes plus EOS (256), as the kit's byte tokenizer.
var tokenizer = ml.ByteTokenizer{WithEOS: true}

// contexts draws, per example, the community each training example is
// shown with: its own, or no context with probability frac.
func contexts(pairs []prefs.Pair, frac float64, seed int64) []string {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6e6f6374)) // "noct"
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.Community
		if rng.Float64() < frac {
			out[i] = prefs.NoContext
		}
	}
	return out
}

// encodePairs turns pairs, each shown with community[i], into the kit's
// preference examples.
func encodePairs(c prefs.Conditioning, pairs []prefs.Pair, community []string) ([]ml.PairExample, error) {
	out := make([]ml.PairExample, len(pairs))
	for i, p := range pairs {
		prompt, id, err := c.Prompt(p, community[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Source, err)
		}
		ex, err := ml.EncodePair(tokenizer, prompt, p.Chosen, p.Rejected, id)
		if err != nil {
			return nil, fmt.Errorf("pair %d (%s): %w", i, p.Source, err)
		}
		out[i] = ex
	}
	return out, nil
}

// loaded is a model artifact with its conditioning.
type loaded struct {
	*ml.Model
	ctx     *context.Context
	cond    prefs.Conditioning
	backend backends.Backend
	sc      *ml.Scorer
	dec     *ml.Decoder
}

func (m *loaded) scorer() (*ml.Scorer, error) {
	if m.sc == nil {
		sc, err := m.NewScorer(m.backend, m.ctx)
		if err != nil {
			return nil, err
		}
		m.sc = sc
	}
	return m.sc, nil
}

// loadModel reads a model artifact written by SFT or DPO into a fresh
// context.
func loadModel(backend backends.Backend, path string) (*loaded, error) {
	ctx := context.New()
	m, err := ml.LoadModel(backend, path, ctx)
	if err != nil {
		return nil, err
	}
	raw, ok := m.Meta[prefs.MetaKey]
	if !ok {
		return nil, fmt.Errorf("%s: not a compo model (no %q metadata): give the sft or dpo step's model artifact", path, prefs.MetaKey)
	}
	cond, err := prefs.ParseConditioning(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &loaded{Model: m, ctx: ctx, cond: cond, backend: backend}, nil
}

// saveModel writes the model under ctx as one artifact carrying its
// conditioning.
func saveModel(path string, ctx *context.Context, m *ml.Transformer, cond prefs.Conditioning, stage, version string) error {
	return ml.SaveModel(path, ctx, m, tokenizer, map[string]string{
		prefs.MetaKey: cond.Marshal(), "plugin": "compo " + version, "compo.stage": stage})
}

// watch forwards reports to rep and keeps the last value of each metric.
type watch struct {
	sdk.Reporter
	mu   sync.Mutex
	last map[string]float64
}

func newWatch(rep sdk.Reporter) *watch { return &watch{Reporter: rep, last: map[string]float64{}} }

func (w *watch) Metric(name string, step int64, v float64) {
	w.mu.Lock()
	w.last[name] = v
	w.mu.Unlock()
	w.Reporter.Metric(name, step, v)
}

func (w *watch) get(name string) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last[name]
}

package ml

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

// Settings are the model-size and training attributes every plugin that
// trains the kit's transformer exposes. Embed it, untagged, in the plugin's
// config struct: its attributes join the config's own, flat
// (layers = 2, lr = 0.003, …), and ValidateConfig calls Validate.
//
//	type config struct {
//		Mode string `cty:"mode"`
//		ml.Settings
//		Experts int `cty:"experts" default:"8"`
//	}
type Settings struct {
	Layers      int     `cty:"layers" default:"2" doc:"transformer blocks"`
	DModel      int     `cty:"d_model" default:"64" doc:"model width (a multiple of heads, with an even head width)"`
	Heads       int     `cty:"heads" default:"4" doc:"attention heads"`
	Seq         int     `cty:"seq" default:"64" doc:"training window (tokens)"`
	Batch       int     `cty:"batch" default:"16" doc:"windows per micro-batch"`
	Steps       int     `cty:"steps" default:"300" doc:"optimizer steps"`
	LR          float64 `cty:"lr" default:"0.003" doc:"peak learning rate (AdamW β=(0.9, 0.95))"`
	Warmup      int     `cty:"warmup" default:"30" doc:"linear warmup steps, then cosine to min_lr_ratio·lr"`
	MinLRRatio  float64 `cty:"min_lr_ratio" default:"0.1" doc:"cosine floor as a fraction of lr"`
	WeightDecay float64 `cty:"weight_decay" default:"0.1" doc:"AdamW decoupled weight decay (weights of rank ≥ 2)"`
	Clip        float64 `cty:"clip" default:"1" doc:"global gradient-norm clip (0: none)"`
	AccumSteps  int     `cty:"accum_steps" default:"1" doc:"micro-batches per optimizer step (gradient accumulation)"`
}

// ModelConfig is the transformer these settings describe (MaxSeqLen = Seq;
// a plugin that decodes past the window raises it).
func (s Settings) ModelConfig(vocab int) Config {
	return Config{VocabSize: vocab, DModel: s.DModel, NumHeads: s.Heads, NumLayers: s.Layers, MaxSeqLen: s.Seq}
}

// TrainConfig is the trainer configuration these settings describe; the
// caller adds checkpoints, evaluation and the rest.
func (s Settings) TrainConfig() TrainConfig {
	return TrainConfig{Steps: s.Steps, LR: s.LR, WarmupSteps: s.Warmup, MinLRRatio: s.MinLRRatio,
		WeightDecay: s.WeightDecay, ClipNorm: s.Clip, AccumSteps: s.AccumSteps}
}

// Validate checks the settings decoded from c (the plugin's whole config),
// one diagnostic per bad attribute at its path. A check runs only when
// every attribute it reads is known: before upstream steps run, some may
// not be, and the host validates again before Run.
func (s Settings) Validate(c sdk.Config) sdk.Diagnostics {
	var d sdk.Diagnostics
	known := func(names ...string) bool {
		for _, n := range names {
			if !c.IsKnown(n) {
				return false
			}
		}
		return true
	}
	bad := func(name, summary string, format string, args ...any) {
		d = append(d, sdk.Errorf(cty.GetAttrPath(name), summary, fmt.Sprintf(format, args...)))
	}
	atLeast := []struct {
		name string
		v    int
		min  int
	}{{"layers", s.Layers, 1}, {"d_model", s.DModel, 1}, {"heads", s.Heads, 1}, {"seq", s.Seq, 2},
		{"batch", s.Batch, 1}, {"steps", s.Steps, 1}, {"warmup", s.Warmup, 0}, {"accum_steps", s.AccumSteps, 1}}
	for _, a := range atLeast {
		if known(a.name) && a.v < a.min {
			bad(a.name, fmt.Sprintf("%s must be ≥ %d", a.name, a.min), "got %d", a.v)
		}
	}
	if known("d_model", "heads") && s.DModel > 0 && s.Heads > 0 {
		switch {
		case s.DModel%s.Heads != 0:
			bad("d_model", "d_model must be a multiple of heads", "d_model %d, heads %d", s.DModel, s.Heads)
		case (s.DModel/s.Heads)%2 != 0:
			bad("d_model", "Head width must be even", "d_model/heads = %d/%d = %d; rotary position embeddings rotate pairs", s.DModel, s.Heads, s.DModel/s.Heads)
		}
	}
	if known("lr") && !(s.LR > 0) {
		bad("lr", "lr must be > 0", "got %v", s.LR)
	}
	if known("min_lr_ratio") && (s.MinLRRatio < 0 || s.MinLRRatio > 1) {
		bad("min_lr_ratio", "min_lr_ratio must be in [0, 1]", "got %v", s.MinLRRatio)
	}
	if known("weight_decay") && s.WeightDecay < 0 {
		bad("weight_decay", "weight_decay must be ≥ 0", "got %v", s.WeightDecay)
	}
	if known("clip") && s.Clip < 0 {
		bad("clip", "clip must be ≥ 0", "got %v (0 turns clipping off)", s.Clip)
	}
	return d
}

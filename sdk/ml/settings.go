package ml

import (
	"fmt"

	"github.com/shammie-ml/shammie/sdk"
)

// Settings are the model-size and training attributes every plugin that
// trains the kit's transformer exposes. Embed it, untagged, in the plugin's
// config struct: its attributes join the config's own, flat
// (layers = 2, lr = 0.003, …), and ValidateConfig calls Check (or Validate).
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
	Precision   string  `cty:"precision" default:"\"float32\"" doc:"dtype of the matrix products: float32, or bfloat16 (mixed precision: float32 master weights, norms, softmax and loss; for GPUs)"`
}

// ModelConfig is the transformer these settings describe (MaxSeqLen = Seq;
// a plugin that decodes past the window raises it).
func (s Settings) ModelConfig(vocab int) Config {
	return Config{VocabSize: vocab, DModel: s.DModel, NumHeads: s.Heads, NumLayers: s.Layers, MaxSeqLen: s.Seq,
		ComputeDType: s.Precision}
}

// TrainConfig is the trainer configuration these settings describe; the
// caller adds checkpoints, evaluation and the rest.
func (s Settings) TrainConfig() TrainConfig {
	return TrainConfig{Steps: s.Steps, LR: s.LR, WarmupSteps: s.Warmup, MinLRRatio: s.MinLRRatio,
		WeightDecay: s.WeightDecay, ClipNorm: s.Clip, AccumSteps: s.AccumSteps}
}

// Check adds the settings' checks to v, the plugin's validator (each runs
// only when the attributes it reads are known: before upstream steps run,
// some may not be, and the host validates again before Run).
func (s Settings) Check(v *sdk.Validator) {
	v.Min("layers", float64(s.Layers), 1)
	v.Min("d_model", float64(s.DModel), 1)
	v.Min("heads", float64(s.Heads), 1)
	v.Min("seq", float64(s.Seq), 2)
	v.Min("batch", float64(s.Batch), 1)
	v.Min("steps", float64(s.Steps), 1)
	v.Min("warmup", float64(s.Warmup), 0)
	v.Min("accum_steps", float64(s.AccumSteps), 1)
	if s.DModel > 0 && s.Heads > 0 {
		both := []string{"d_model", "heads"}
		v.CheckAll(s.DModel%s.Heads == 0, both, "The d_model must be a multiple of heads",
			fmt.Sprintf("Got d_model %d and heads %d.", s.DModel, s.Heads))
		v.CheckAll(s.DModel%s.Heads != 0 || (s.DModel/s.Heads)%2 == 0, both, "The head width must be even",
			fmt.Sprintf("d_model/heads = %d/%d = %d; rotary position embeddings rotate pairs of columns.", s.DModel, s.Heads, s.DModel/s.Heads))
	}
	v.Check(s.LR > 0, "lr", "The lr must be positive", fmt.Sprintf("Got %v.", s.LR))
	v.Range("min_lr_ratio", s.MinLRRatio, 0, 1)
	v.Min("weight_decay", s.WeightDecay, 0)
	v.Min("clip", s.Clip, 0)
	v.Check(s.Precision == "" || s.Precision == ComputeFloat32 || s.Precision == ComputeBFloat16, "precision",
		"The precision must be float32 or bfloat16", fmt.Sprintf("Got %q.", s.Precision))
}

// Validate is Check on a validator of its own, for a plugin whose
// ValidateConfig does not use one.
func (s Settings) Validate(c sdk.Config) sdk.Diagnostics {
	v := sdk.NewValidator(c, nil)
	s.Check(v)
	return v.Diagnostics()
}

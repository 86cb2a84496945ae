package main

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/vlm/internal/model"
	"github.com/shammie-ml/shammie/plugins/vlm/internal/pipeline"
	"github.com/shammie-ml/shammie/plugins/vlm/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/tiling"
)

// version is stamped at build from the VERSION file
// (-ldflags "-X main.version=$(cat VERSION)"; see sdk.BuildVersion).
var version string

type config struct {
	Mode string `cty:"mode" default:"\"generate\"" doc:"generate | train | evaluate | ask"`

	// generate
	Images     int      `cty:"images" default:"600" doc:"generate: images in all"`
	ImageSize  int      `cty:"image_size" default:"32" doc:"generate: image side in pixels"`
	MinObjects int      `cty:"min_objects" default:"1" doc:"generate: fewest objects per image"`
	MaxObjects int      `cty:"max_objects" default:"3" doc:"generate: most objects per image"`
	Shapes     []string `cty:"shapes" default:"[\"circle\", \"square\", \"triangle\"]" doc:"generate: shapes drawn (circle, square, triangle)"`
	Colors     []string `cty:"colors" default:"[\"red\", \"green\", \"blue\"]" doc:"generate: colours drawn (red, green, blue, yellow, white)"`
	Radius     float64  `cty:"radius" default:"0.12" doc:"generate: object radius as a fraction of the side"`
	Noise      float64  `cty:"noise" default:"0.3" doc:"generate: background noise amplitude (0–1)"`
	TestShare  float64  `cty:"test_share" default:"0.1" doc:"generate: share of images held out (split test)"`

	// data (train, evaluate)
	Bundle    string `cty:"bundle" optional:"true" doc:"train/evaluate: the image bundle (safetensors: images U8 [N,H,W,3], masks U8 [M,H,W]), e.g. step.gen.artifacts.images"`
	Examples  string `cty:"examples" optional:"true" doc:"train/evaluate: the examples JSONL, e.g. step.gen.artifacts.examples"`
	Items     int    `cty:"eval_items" default:"200" doc:"held-out pointing and counting questions scored (each; 0: all)"`
	EvalEvery int    `cty:"eval_every" default:"0" doc:"train: score the held-out questions every so many stage-2 steps too, logged and kept as metrics mixture/eval/pointing_f1, … (0: only after training)"`

	// model (train)
	Crop          int   `cty:"crop" default:"32" doc:"crop side in pixels (Molmo: 336)"`
	Patch         int   `cty:"patch" default:"4" doc:"ViT patch side in pixels (Molmo: 14); crop/patch must be even"`
	Margin        int   `cty:"margin" default:"2" doc:"overlap margin in patches on each side of a crop (Molmo: 4); even"`
	MaxCrops      int   `cty:"max_crops" default:"12" doc:"most crops of the tiling (Molmo: 12); a global view is added when there are several"`
	ViTLayers     int   `cty:"vit_layers" default:"3" doc:"ViT blocks"`
	ViTDModel     int   `cty:"vit_d_model" default:"64" doc:"ViT width (a multiple of 4 and of vit_heads)"`
	ViTHeads      int   `cty:"vit_heads" default:"4" doc:"ViT attention heads"`
	FeatureLayers []int `cty:"feature_layers" default:"[-1, -3]" doc:"the two ViT blocks whose outputs are concatenated (negative: from the last; Molmo: -2, -9 of 24)"`
	PoolHeads     int   `cty:"pool_heads" default:"4" doc:"heads of the 2×2 attention pooling"`
	ProjHidden    int   `cty:"proj_hidden" default:"256" doc:"SwiGLU projector width"`

	// LM and training (the kit's attribute names; seq = the LM's positions)
	Layers       int     `cty:"layers" default:"2" doc:"LM transformer blocks"`
	DModel       int     `cty:"d_model" default:"128" doc:"LM width"`
	Heads        int     `cty:"heads" default:"4" doc:"LM attention heads"`
	QKNorm       bool    `cty:"qk_norm" default:"false" doc:"RMSNorm on the LM's queries and keys (OLMo's QK-norm, in Molmo-7B-O's LM)"`
	Seq          int     `cty:"seq" default:"256" doc:"LM positions: image tokens + prompt + answer must fit"`
	Batch        int     `cty:"batch" default:"16" doc:"examples per step"`
	CaptionSteps int     `cty:"caption_steps" default:"100" doc:"stage 1: caption steps (0: skip)"`
	Steps        int     `cty:"steps" default:"600" doc:"stage 2: mixture steps"`
	LR           float64 `cty:"lr" default:"0.003" doc:"peak learning rate of the LM (AdamW β=(0.9, 0.95))"`
	LRViT        float64 `cty:"lr_vit_scale" default:"0.5" doc:"ViT learning rate as a multiple of lr (Molmo trains the ViT slower)"`
	LRConnector  float64 `cty:"lr_connector_scale" default:"2" doc:"connector learning rate as a multiple of lr (Molmo: faster)"`
	Warmup       int     `cty:"warmup" default:"30" doc:"linear warmup steps of each stage, then cosine to min_lr_ratio·lr"`
	MinLRRatio   float64 `cty:"min_lr_ratio" default:"0.1" doc:"cosine floor as a fraction of lr"`
	WeightDecay  float64 `cty:"weight_decay" default:"0.01" doc:"AdamW decoupled weight decay (weights of rank ≥ 2)"`
	Clip         float64 `cty:"clip" default:"1" doc:"global gradient-norm clip (0: none)"`
	MixCaption   float64 `cty:"mix_caption" default:"1" doc:"stage 2 weight of captions"`
	MixPoint     float64 `cty:"mix_point" default:"3" doc:"stage 2 weight of pointing"`
	MixCount     float64 `cty:"mix_count" default:"2" doc:"stage 2 weight of counting"`
	OneObject    int     `cty:"one_object_steps" default:"0" doc:"stage 2: the first steps draw every question from one-object images (a curriculum: finding one object is learnt in ≈ 100 steps, telling several apart much later)"`

	// evaluate, ask
	Model        string `cty:"model" optional:"true" doc:"evaluate/ask: a vlm model artifact, e.g. step.train.artifacts.model"`
	Manifest     string `cty:"manifest" optional:"true" doc:"ask: JSONL of {\"image\": PNG/JPEG path relative to the manifest, \"prompt\": …}"`
	MaxNewTokens int    `cty:"max_new_tokens" default:"96" doc:"ask: longest answer in tokens"`
}

// plugin implements sdk.Plugin.
type plugin struct{}

// Metadata implements sdk.Plugin.
func (plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "vlm", Version: sdk.BuildVersion(version),
		Description: "Molmo-style vision-language model with 2-D pointing and counting (Deitke et al. 2024)",
		Backends:    ml.Backends()}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "examples", Type: cty.Number, Description: "generate: examples written"},
		{Name: "pointing_precision", Type: cty.Number, Description: "train/evaluate: held-out PointingEval precision"},
		{Name: "pointing_recall", Type: cty.Number, Description: "train/evaluate: held-out PointingEval recall"},
		{Name: "pointing_f1", Type: cty.Number, Description: "train/evaluate: held-out PointingEval F1"},
		{Name: "pointing_valid", Type: cty.Number, Description: "train/evaluate: share of held-out pointing answers that parse and hold at least one point"},
		{Name: "centre_f1", Type: cty.Number, Description: "train/evaluate: F1 of one point at the image centre (baseline)"},
		{Name: "count_exact", Type: cty.Number, Description: "train/evaluate: held-out counting accuracy, exact"},
		{Name: "count_within1", Type: cty.Number, Description: "train/evaluate: held-out counting accuracy within ±1"},
		{Name: "count_majority_exact", Type: cty.Number, Description: "train/evaluate: exact accuracy of always answering the most frequent training count"},
		{Name: "count_chance", Type: cty.Number, Description: "train/evaluate: 1 / distinct counts"},
		{Name: "final_loss", Type: cty.Number, Description: "train: training loss of the last step"},
		{Name: "answered", Type: cty.Number, Description: "ask: prompts answered"},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "images", MediaType: "application/vnd.shammie.images+safetensors", Description: "generate: images U8 [N,H,W,3] and object masks U8 [M,H,W]"},
		{Name: "examples", MediaType: "application/jsonl", Description: "generate: captions, pointing and counting questions with answers, splits and mask indices"},
		{Name: "model", MediaType: "application/vnd.shammie.vlm+safetensors", Description: "train: ViT, connector and LM in one file, the model config in its metadata"},
		{Name: "predictions", MediaType: "application/jsonl", Description: "train/evaluate: every held-out answer beside the truth"},
		{Name: "metrics", MediaType: "application/json", Description: "train/evaluate: PointingEval and counting scores with the baselines"},
		{Name: "plot_scores", MediaType: "image/png", Description: "train/evaluate: model vs baselines"},
		{Name: "plot_scores_svg", MediaType: "image/svg+xml", Description: "train/evaluate: model vs baselines (SVG)"},
		{Name: "answers", MediaType: "application/jsonl", Description: "ask: answers with their parsed points and counts"},
	},
}

// Schema implements sdk.Plugin.
func (plugin) Schema() sdk.Schema { return schema }

// ValidateConfig checks what the schema's types cannot; checks on unknown
// values (artifacts of upstream steps) are skipped until they are known.
func (plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg config
	v := sdk.NewValidator(c, &cfg)
	if !v.Known("mode") {
		return v.Diagnostics()
	}
	switch cfg.Mode {
	case "generate":
		checkGenerate(v, cfg)
	case "train":
		checkData(v, cfg)
		checkModel(v, cfg)
	case "evaluate":
		checkData(v, cfg)
		v.Check(cfg.Model != "", "model", "Evaluate needs a model", "Set model = a vlm model artifact, e.g. step.train.artifacts.model.")
	case "ask":
		v.Check(cfg.Model != "", "model", "Ask needs a model", "Set model = a vlm model artifact, e.g. step.train.artifacts.model.")
		v.Check(cfg.Manifest != "", "manifest", "Ask needs a manifest", `Set manifest = a JSONL file of {"image": "a.png", "prompt": "Point to the cat."} lines.`)
		v.Min("max_new_tokens", float64(cfg.MaxNewTokens), 1)
	default:
		v.OneOf("mode", cfg.Mode, "generate", "train", "evaluate", "ask")
	}
	return v.Diagnostics()
}

func checkGenerate(v *sdk.Validator, cfg config) {
	v.Min("images", float64(cfg.Images), 1)
	v.Min("image_size", float64(cfg.ImageSize), 8)
	v.Min("min_objects", float64(cfg.MinObjects), 0)
	v.Min("max_objects", float64(cfg.MaxObjects), 1)
	if v.Known("min_objects", "max_objects") {
		v.Check(cfg.MinObjects <= cfg.MaxObjects, "max_objects", "The max_objects must be at least min_objects",
			fmt.Sprintf("Got min_objects %d, max_objects %d.", cfg.MinObjects, cfg.MaxObjects))
	}
	if v.Known("shapes") {
		v.Check(len(cfg.Shapes) > 0, "shapes", "At least one shape is needed", "Use circle, square or triangle.")
		for _, s := range cfg.Shapes {
			v.OneOf("shapes", s, planted.KnownShapes...)
		}
	}
	if v.Known("colors") {
		v.Check(len(cfg.Colors) > 0, "colors", "At least one colour is needed", "Use red, green, blue, yellow or white.")
		for _, s := range cfg.Colors {
			v.OneOf("colors", s, planted.KnownColors...)
		}
	}
	v.Range("radius", cfg.Radius, 0.02, 0.3)
	v.Range("noise", cfg.Noise, 0, 1)
	v.Range("test_share", cfg.TestShare, 0, 0.9)
}

func checkData(v *sdk.Validator, cfg config) {
	v.Check(cfg.Bundle != "", "bundle", "The image bundle is missing", "Set bundle = step.gen.artifacts.images (mode generate writes one).")
	v.Check(cfg.Examples != "", "examples", "The examples are missing", "Set examples = step.gen.artifacts.examples.")
	v.Min("eval_items", float64(cfg.Items), 0)
	v.Min("eval_every", float64(cfg.EvalEvery), 0)
}

func checkModel(v *sdk.Validator, cfg config) {
	for _, a := range []string{"crop", "patch", "max_crops", "vit_layers", "vit_d_model", "vit_heads", "pool_heads", "proj_hidden", "layers", "d_model", "heads", "seq", "batch", "steps"} {
		v.Min(a, float64(map[string]int{"crop": cfg.Crop, "patch": cfg.Patch, "max_crops": cfg.MaxCrops, "vit_layers": cfg.ViTLayers,
			"vit_d_model": cfg.ViTDModel, "vit_heads": cfg.ViTHeads, "pool_heads": cfg.PoolHeads, "proj_hidden": cfg.ProjHidden,
			"layers": cfg.Layers, "d_model": cfg.DModel, "heads": cfg.Heads, "seq": cfg.Seq, "batch": cfg.Batch, "steps": cfg.Steps}[a]), 1)
	}
	v.Min("margin", float64(cfg.Margin), 0)
	v.Min("caption_steps", float64(cfg.CaptionSteps), 0)
	v.Min("one_object_steps", float64(cfg.OneObject), 0)
	v.Min("warmup", float64(cfg.Warmup), 0)
	for _, a := range []string{"lr", "lr_vit_scale", "lr_connector_scale"} {
		x := map[string]float64{"lr": cfg.LR, "lr_vit_scale": cfg.LRViT, "lr_connector_scale": cfg.LRConnector}[a]
		v.Check(x > 0, a, "The "+a+" must be positive", fmt.Sprintf("Got %v.", x))
	}
	v.Range("min_lr_ratio", cfg.MinLRRatio, 0, 1)
	v.Min("weight_decay", cfg.WeightDecay, 0)
	v.Min("clip", cfg.Clip, 0)
	for _, a := range []string{"mix_caption", "mix_point", "mix_count"} {
		v.Min(a, map[string]float64{"mix_caption": cfg.MixCaption, "mix_point": cfg.MixPoint, "mix_count": cfg.MixCount}[a], 0)
	}
	if v.Known("mix_caption", "mix_point", "mix_count") {
		v.Check(cfg.MixCaption+cfg.MixPoint+cfg.MixCount > 0, "mix_point", "The stage 2 mixture is empty", "Give at least one of mix_caption, mix_point, mix_count a positive weight.")
	}
	tilingAttrs := []string{"crop", "patch", "margin", "max_crops"}
	if v.Known(tilingAttrs...) && cfg.Crop > 0 && cfg.Patch > 0 {
		if err := model.CheckTiling(tilingOf(cfg)); err != nil {
			v.CheckAll(false, tilingAttrs, "The tiling is not usable", err.Error()+".")
		}
	}
	modelAttrs := []string{"vit_layers", "vit_d_model", "vit_heads", "feature_layers", "pool_heads", "proj_hidden", "layers", "d_model", "heads", "seq", "crop", "patch", "margin", "max_crops"}
	if v.Known(modelAttrs...) && !v.Diagnostics().HasErrors() {
		if _, err := modelConfig(cfg); err != nil {
			v.CheckAll(false, modelAttrs, "The model is not buildable", err.Error()+".")
		}
	}
}

func tilingOf(cfg config) tiling.Config {
	return tiling.Config{Crop: cfg.Crop, Patch: cfg.Patch, LeftMargin: cfg.Margin, RightMargin: cfg.Margin, MaxCrops: cfg.MaxCrops}
}

// modelConfig resolves the model's configuration.
func modelConfig(cfg config) (model.Config, error) {
	if len(cfg.FeatureLayers) != 2 {
		return model.Config{}, fmt.Errorf("feature_layers needs two ViT blocks, got %d", len(cfg.FeatureLayers))
	}
	var fl [2]int
	for i, l := range cfg.FeatureLayers {
		if l < 0 {
			l += cfg.ViTLayers
		}
		fl[i] = l
	}
	c := model.Config{
		Tiling:        tilingOf(cfg),
		ViT:           ml.Config{DModel: cfg.ViTDModel, NumHeads: cfg.ViTHeads, NumLayers: cfg.ViTLayers, MaxSeqLen: (cfg.Crop / max(cfg.Patch, 1)) * (cfg.Crop / max(cfg.Patch, 1)), EncoderOnly: true, Bidirectional: true, NoRoPE: true},
		FeatureLayers: fl,
		PoolHeads:     cfg.PoolHeads,
		ProjHidden:    cfg.ProjHidden,
		LM:            ml.Config{VocabSize: model.Tokenizer().VocabSize(), DModel: cfg.DModel, NumHeads: cfg.Heads, NumLayers: cfg.Layers, MaxSeqLen: cfg.Seq, QKNorm: cfg.QKNorm},
	}
	c.ViT, c.LM = c.ViT.WithDefaults(), c.LM.WithDefaults()
	return c, c.Validate()
}

// Run implements sdk.Plugin: it picks the mode; internal/pipeline does the work.
func (plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	switch cfg.Mode {
	case "generate":
		return pipeline.Generate(run, planted.Options{Images: cfg.Images, Size: cfg.ImageSize, MinObjects: cfg.MinObjects, MaxObjects: cfg.MaxObjects,
			Shapes: cfg.Shapes, Colors: cfg.Colors, Radius: cfg.Radius, Noise: cfg.Noise, TestShare: cfg.TestShare})
	case "train":
		mc, err := modelConfig(cfg)
		if err != nil {
			return err
		}
		stage := func(steps int) ml.TrainConfig {
			return ml.TrainConfig{Steps: steps, LR: cfg.LR, WarmupSteps: min(cfg.Warmup, steps/2), MinLRRatio: cfg.MinLRRatio, WeightDecay: cfg.WeightDecay, ClipNorm: cfg.Clip}
		}
		return pipeline.Train(ctx, run, cfg.Bundle, cfg.Examples, pipeline.TrainOptions{Model: mc, Caption: stage(cfg.CaptionSteps), Mixture: stage(cfg.Steps),
			Mix: [3]float64{cfg.MixCaption, cfg.MixPoint, cfg.MixCount}, LRViT: cfg.LRViT, LRConnector: cfg.LRConnector,
			OneObjectSteps: cfg.OneObject, Batch: cfg.Batch, EvalItems: cfg.Items, EvalEvery: cfg.EvalEvery, Version: sdk.BuildVersion(version)})
	case "evaluate":
		return pipeline.Evaluate(run, cfg.Model, cfg.Bundle, cfg.Examples, cfg.Items)
	case "ask":
		return pipeline.Ask(run, cfg.Model, cfg.Manifest, cfg.MaxNewTokens)
	}
	return fmt.Errorf("unknown mode %q", cfg.Mode)
}

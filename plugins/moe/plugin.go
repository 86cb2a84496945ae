package main

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/moe/internal/analysis"
	"github.com/shammie-ml/shammie/plugins/moe/internal/corpus"
	"github.com/shammie-ml/shammie/plugins/moe/internal/experiment"
	"github.com/shammie-ml/shammie/plugins/moe/internal/moe"
	"github.com/shammie-ml/shammie/plugins/moe/internal/report"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Version of the plugin.
const Version = "0.1.0"

type config struct {
	Mode string `cty:"mode" default:"\"train\"" doc:"generate | train"`

	// generate
	BytesPerDomain int `cty:"bytes_per_domain" default:"200000" doc:"generate: bytes of planted text per domain"`

	// train: data
	Domains   map[string]string `cty:"domains" optional:"true" doc:"train: domain name → text file; bytes are the tokens (e.g. step.generate.artifacts.low)"`
	MaxBytes  int               `cty:"max_bytes_per_domain" default:"0" doc:"train: use only the first N bytes of each file (0: all)"`
	EvalFrac  float64           `cty:"eval_fraction" default:"0.1" doc:"train: tail of each domain held out for the routing analyses"`
	Reference string            `cty:"reference" optional:"true" doc:"train: OLMoE's domain_spec_reference.txt, printed beside our table"`

	// model and training (OLMoE's recipe scaled down): layers, d_model,
	// heads, seq, batch, steps, lr, warmup, min_lr_ratio, weight_decay,
	// clip, accum_steps (must be 1: routing snapshots are taken between
	// optimizer steps). Each layer has an MoE feed-forward.
	ml.Settings

	// mixture of experts
	Experts      int  `cty:"experts" default:"8" doc:"experts per layer (E)"`
	TopK         int  `cty:"top_k" default:"2" doc:"active experts per token (k)"`
	ExpertHidden int  `cty:"expert_hidden" default:"64" doc:"SwiGLU hidden width of one expert"`
	Renormalize  bool `cty:"renormalize" default:"false" doc:"rescale the k selected router probabilities to sum to 1 (OLMoE: no)"`
	BlockSize    int  `cty:"block_size" default:"0" doc:"row-block size of the sparse expert computation (0: automatic)"`
	Dense        bool `cty:"dense" default:"false" doc:"compute every expert on every token (reference path; E/k times the work)"`

	// losses
	LBWeight   float64 `cty:"lb_weight" default:"0.01" doc:"load-balancing loss weight w (= w at a balanced router)"`
	ZWeight    float64 `cty:"z_weight" default:"0.001" doc:"router z-loss weight w_z"`
	ZDivideByK bool    `cty:"zloss_divide_by_k" default:"false" doc:"divide the z-loss by k, as the OLMoE fork of megablocks does"`

	// analyses
	Snapshots     int `cty:"snapshots" default:"6" doc:"routing snapshots over training (saturation, load), step 0 and the end included"`
	EvalWindows   int `cty:"eval_windows" default:"16" doc:"held-out windows per domain the routing is recorded on"`
	VocabMinCount int `cty:"vocab_min_count" default:"5" doc:"token ids seen fewer times are left out of the vocabulary specialisation"`
}

type plugin struct{}

func (plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "moe", Version: Version,
		Description: "sparse mixture-of-experts LM (OLMoE-style routing, dropless SwiGLU experts) with OLMoE's routing analyses",
		Backends:    ml.Backends()}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "final_loss", Type: cty.Number, Description: "train: training loss (LM + auxiliary) of the last step"},
		{Name: "top_spec_over_uniform", Type: cty.Map(cty.Number), Description: "train: per domain, the top expert's spec ÷ uniform at the last layer"},
		{Name: "vocab_spec", Type: cty.List(cty.Number), Description: "train: vocabulary specialisation per layer"},
		{Name: "max_load", Type: cty.Number, Description: "train: largest expert share of assignments (last layer, final model)"},
		{Name: "work_saved", Type: cty.Number, Description: "train: dense rows ÷ rows the sparse path computes (static bound)"},
		{Name: "olmoe_pattern_holds", Type: cty.Bool, Description: "train on OLMoE's domains: arXiv and GitHub specialise more than C4 and books"},
		{Name: "top_lift", Type: cty.Map(cty.Number), Description: "train: per domain, the top expert's lift (domain share ÷ its share over all domains) at the last layer"},
		{Name: "top_lift_control", Type: cty.Number, Description: "train: the same on shuffled pseudo-domains at the last layer (95th percentile): the noise floor of top_lift"},
		{Name: "divergence", Type: cty.List(cty.Number), Description: "train: per layer, token-weighted mean Jensen–Shannon divergence (bits) of each domain's expert distribution from the overall one"},
		{Name: "divergence_control", Type: cty.List(cty.Number), Description: "train: per layer, the same on shuffled pseudo-domains (95th percentile): the noise floor of divergence"},
		{Name: "domain_specialised", Type: cty.Bool, Description: "train: the last layer's divergence is above its shuffled control: experts specialised by domain"},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "low", MediaType: "application/octet-stream", Description: "generate: planted domain over bytes 0–127"},
		{Name: "high", MediaType: "application/octet-stream", Description: "generate: planted domain over bytes 128–255"},
		{Name: "model", MediaType: ml.ModelMediaType, Description: "train: the trained model as one file (sdk/ml.SaveModel: safetensors weights, config with the MoE block and tokenizer in its metadata; sdk/ml.LoadModel rebuilds it)"},
		{Name: "analysis", MediaType: "application/json", Description: "train: every analysis figure"},
		{Name: "specialisation", MediaType: "text/plain", Description: "train: per-domain specialisation table (beside OLMoE's with a reference)"},
	},
}

// MaxLayers bounds the layers of a run: the host needs every artifact
// declared, and the per-layer plots are declared up to this depth.
const MaxLayers = 8

func init() {
	plots := []struct{ name, desc string }{
		{"vocab_spec", "vocabulary specialisation per layer"},
		{"saturation", "router saturation against the final model over training, per layer"},
		{"lift", "top expert's lift per domain and layer beside the shuffled-domain control"},
		{"divergence", "Jensen–Shannon divergence of each domain's expert distribution from the overall one, beside the shuffled-domain control"},
	}
	for _, p := range plots {
		schema.Artifacts = append(schema.Artifacts,
			sdk.ArtifactDecl{Name: "plot_" + p.name, MediaType: "image/png", Description: "train: " + p.desc},
			sdk.ArtifactDecl{Name: "plot_" + p.name + "_svg", MediaType: "image/svg+xml", Description: "train: " + p.desc + " (SVG)"})
	}
	// Per-layer plots: one family each, declared up to MaxLayers; a run
	// announces the members of its own layers.
	for _, f := range []struct{ name, desc string }{
		{"domain_spec", "domain specialisation of every expert"},
		{"load", "expert load over training"},
		{"coactivation", "expert co-activation P(b|a)"},
		{"coactivation_adjacent", "co-activation over rank-adjacent pairs only (OLMoE code variant)"},
	} {
		schema.Artifacts = append(schema.Artifacts, sdk.ArtifactFamily("plot_"+f.name+"_layer{i}", MaxLayers, "image/png", "train: "+f.desc+", layer i")...)
		schema.Artifacts = append(schema.Artifacts, sdk.ArtifactFamily("plot_"+f.name+"_layer{i}_svg", MaxLayers, "image/svg+xml", "train: "+f.desc+", layer i (SVG)")...)
	}
}

func (plugin) Schema() sdk.Schema { return schema }

func decode(c sdk.Config) (config, error) {
	var cfg config
	err := c.Decode(&cfg)
	return cfg, err
}

func (cfg config) options(seed int64) experiment.Options {
	return experiment.Options{
		Layers: cfg.Layers, DModel: cfg.DModel, Heads: cfg.Heads, Seq: cfg.Seq, Batch: cfg.Batch,
		MoE: moe.Config{Hidden: cfg.ExpertHidden, Experts: cfg.Experts, TopK: cfg.TopK,
			Renormalize: cfg.Renormalize, BlockSize: cfg.BlockSize, Dense: cfg.Dense},
		Loss:  moe.LossConfig{LoadBalance: cfg.LBWeight, ZLoss: cfg.ZWeight, ZLossDivideByK: cfg.ZDivideByK},
		Train: cfg.Settings.TrainConfig(),
		Seed:  seed, Snapshots: cfg.Snapshots, EvalWindows: cfg.EvalWindows,
	}
}

// optionAttrs are the attributes experiment.Options is built from: its
// Validate runs only when all of them are known.
var optionAttrs = []string{"layers", "d_model", "heads", "seq", "batch", "experts", "top_k", "expert_hidden",
	"renormalize", "block_size", "dense", "lb_weight", "z_weight", "zloss_divide_by_k", "steps", "lr", "warmup",
	"min_lr_ratio", "weight_decay", "clip", "accum_steps", "snapshots", "eval_windows"}

// ValidateConfig checks what the schema's types cannot. Before anything
// runs, values from upstream steps (domains = the generate step's
// artifacts, typically) are unknown: Decode leaves them at zero and each
// check runs only when the attributes it reads are known. The host
// validates again on the full config right before Run.
func (plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	cfg, err := decode(c)
	if err != nil {
		return sdk.Diagnostics{sdk.Errorf(nil, "invalid config", err.Error())}
	}
	var d sdk.Diagnostics
	at := func(name string) cty.Path { return cty.GetAttrPath(name) }
	known := func(names ...string) bool {
		for _, n := range names {
			if !c.IsKnown(n) {
				return false
			}
		}
		return true
	}
	if !known("mode") {
		return nil // which checks apply is not known yet
	}
	switch cfg.Mode {
	case "generate":
		if known("bytes_per_domain") && cfg.BytesPerDomain < 4096 {
			d = append(d, sdk.Errorf(at("bytes_per_domain"), "too little planted text", fmt.Sprintf("need at least 4096 bytes per domain, got %d", cfg.BytesPerDomain)))
		}
	case "train":
		// A map of unknown paths is not empty: only a wholly known one is checked.
		if known("domains") && len(cfg.Domains) == 0 {
			d = append(d, sdk.Errorf(at("domains"), "train needs domains", `set domains = { name = "file" , ... }, e.g. the generate step's artifacts low and high`))
		}
		if known("eval_fraction") && (cfg.EvalFrac <= 0 || cfg.EvalFrac >= 0.5) {
			d = append(d, sdk.Errorf(at("eval_fraction"), "eval_fraction must be in (0, 0.5)", fmt.Sprintf("got %v", cfg.EvalFrac)))
		}
		// The shared settings first, attribute by attribute; the MoE run's
		// own combination checks (options(0).Validate would judge the zero
		// values of unknowns) only when they found nothing.
		sd := cfg.Settings.Validate(c)
		d = append(d, sd...)
		if known("accum_steps") && cfg.AccumSteps > 1 {
			d = append(d, sdk.Errorf(at("accum_steps"), "Gradient accumulation is not supported by the MoE run", fmt.Sprintf("accum_steps = %d: routing snapshots are taken between optimizer steps; use 1", cfg.AccumSteps)))
		}
		if !d.HasErrors() && known(optionAttrs...) {
			if err := cfg.options(0).Validate(); err != nil {
				d = append(d, sdk.Errorf(nil, "Invalid model or training settings", err.Error()))
			}
		}
		checks := []struct {
			name string
			v    int
			min  int
		}{{"snapshots", cfg.Snapshots, 2}, {"eval_windows", cfg.EvalWindows, 1}}
		for _, ch := range checks {
			if known(ch.name) && ch.v < ch.min {
				d = append(d, sdk.Errorf(at(ch.name), fmt.Sprintf("%s must be ≥ %d", ch.name, ch.min), fmt.Sprintf("got %d", ch.v)))
			}
		}
		if known("layers") && cfg.Layers > MaxLayers {
			d = append(d, sdk.Errorf(at("layers"), fmt.Sprintf("at most %d layers", MaxLayers), fmt.Sprintf("got %d: the per-layer plots are declared up to layer %d", cfg.Layers, MaxLayers-1)))
		}
		if known("lb_weight", "z_weight") && (cfg.LBWeight < 0 || cfg.ZWeight < 0) {
			d = append(d, sdk.Errorf(at("lb_weight"), "loss weights must be ≥ 0", fmt.Sprintf("lb_weight %v, z_weight %v", cfg.LBWeight, cfg.ZWeight)))
		}
	default:
		d = append(d, sdk.Errorf(at("mode"), "unknown mode", fmt.Sprintf("%q: want generate or train", cfg.Mode)))
	}
	return d
}

func (p plugin) Run(ctx context.Context, run *sdk.Run) error {
	cfg, err := decode(run.Config)
	if err != nil {
		return err
	}
	if d := p.ValidateConfig(ctx, run.Config); d.HasErrors() {
		return d.Err()
	}
	if cfg.Mode == "generate" {
		return generate(run, cfg)
	}
	return train(ctx, run, cfg)
}

func generate(run *sdk.Run, cfg config) error {
	data := corpus.Planted(run.Seed, cfg.BytesPerDomain)
	for _, name := range []string{"low", "high"} {
		rel := name + ".bin"
		if err := os.WriteFile(run.Path(rel), data[name], 0o644); err != nil {
			return err
		}
		if err := run.Artifact(name, rel, "application/octet-stream"); err != nil {
			return err
		}
	}
	run.Logf("planted corpus: 2 domains × %d bytes (Markov chains over bytes 0–127 and 128–255, local move probability %.2f)", cfg.BytesPerDomain, corpus.PlantedLocal)
	return nil
}

func train(ctx context.Context, run *sdk.Run, cfg config) error {
	files := cfg.Domains
	var domains []corpus.Domain
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	minEval := cfg.Seq * 2
	for _, n := range names {
		data, err := os.ReadFile(files[n])
		if err != nil {
			return fmt.Errorf("domain %q: %w", n, err)
		}
		if cfg.MaxBytes > 0 && len(data) > cfg.MaxBytes {
			data = data[:cfg.MaxBytes]
		}
		if len(data) == 0 {
			return fmt.Errorf("domain %q: %s is empty", n, files[n])
		}
		d, err := corpus.Split(n, files[n], data, cfg.EvalFrac, minEval)
		if err != nil {
			return err
		}
		domains = append(domains, d)
	}
	var ref analysis.Reference
	if cfg.Reference != "" {
		r, err := analysis.ParseReference(cfg.Reference)
		if err != nil {
			return fmt.Errorf("reference: %w", err)
		}
		ref = r
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	o := cfg.options(run.Seed)
	run.Logf("MoE LM: %d layers, d_model %d, E=%d experts (hidden %d), top-%d, %d steps of %d×%d bytes on %d domains, backend %s",
		o.Layers, o.DModel, o.MoE.Experts, o.MoE.Hidden, o.MoE.TopK, o.Train.Steps, o.Batch, o.Seq, len(domains), run.Backend)
	res, err := experiment.Run(ctx, backend, domains, o, run.StateDir, run)
	if err != nil {
		return err
	}
	sum, err := report.Analyse(res, cfg.VocabMinCount)
	if err != nil {
		return err
	}
	holds, hasPattern := false, false
	if text, h, ok := sum.OLMoEPattern(); ok {
		sum.Pattern, holds, hasPattern = text, h, true
	}
	files2, err := report.Write(run.WorkDir, sum, ref)
	if err != nil {
		return err
	}
	if err := ml.SaveModel(run.Path("model.safetensors"), res.Ctx, res.Model, ml.ByteTokenizer{}, map[string]string{"plugin": "moe " + Version}); err != nil {
		return fmt.Errorf("saving the model: %w", err)
	}
	files2 = append(files2, report.File{Name: "model", Rel: "model.safetensors", MediaType: ml.ModelMediaType})
	for _, f := range files2 {
		if err := run.Artifact(f.Name, f.Rel, f.MediaType); err != nil {
			return err
		}
	}
	table := sum.Table(ref)
	run.Logf("%s", table)

	last := sum.DomainSpec[len(sum.DomainSpec)-1]
	top := map[string]cty.Value{}
	for _, r := range last {
		top[r.Domain] = cty.NumberFloatVal(r.TopOverUniform)
	}
	var vocab []cty.Value
	for _, v := range sum.VocabSpec {
		vocab = append(vocab, cty.NumberFloatVal(v))
	}
	finalLoad := res.Final().Layers[len(res.Final().Layers)-1]
	outs := map[string]cty.Value{
		"final_loss":            cty.NumberFloatVal(res.Train.FinalLoss),
		"top_spec_over_uniform": cty.MapVal(top),
		"vocab_spec":            cty.ListVal(vocab),
		"max_load":              cty.NumberFloatVal(analysis.MaxLoad(finalLoad)),
		"work_saved":            cty.NumberFloatVal(sum.DenseRows / max(sum.BoundRows, 1)),
	}
	for name, v := range report.ControlOutputs(sum) {
		outs[name] = v
	}
	if hasPattern {
		outs["olmoe_pattern_holds"] = cty.BoolVal(holds)
	}
	for name, v := range outs {
		if err := run.Output(name, v); err != nil {
			return err
		}
	}
	return nil
}

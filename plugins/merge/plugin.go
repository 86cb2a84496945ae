package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/merge/internal/operators"
	"github.com/shammie-ml/shammie/plugins/merge/internal/pipeline"
	"github.com/shammie-ml/shammie/plugins/merge/internal/planted"
	"github.com/shammie-ml/shammie/plugins/merge/internal/sft"
	"github.com/shammie-ml/shammie/plugins/merge/internal/skills"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file (make build,
// plugintest.Build); sdk.BuildVersion reports 0.0.0-dev when unstamped.
var version string

// maxSweep bounds a weight sweep: each value is one declared artifact.
const maxSweep = 16

// maxPlantedModels bounds generate mode's models (declared artifacts).
const maxPlantedModels = 4

// Plugin implements sdk.Plugin.
type Plugin struct{}

// Config is the step config; its tags are also the schema (sdk.BlockOf).
type Config struct {
	Mode string `cty:"mode" default:"\"merge\"" doc:"\"merge\": merge checkpoints of one architecture (streamed, one tensor per input in memory). \"report\": Merge to Learn's Table 2 and trade-off curves from the authors' results table. \"generate\": checkpoints with planted task vectors and the ideal merge. \"train\" and \"evaluate\": the planted experiment's byte-level models (pre-training, SFT on tasks A/B/C) and their exact-match scores."`

	// merge
	Method          string    `cty:"method" default:"\"task_arithmetic\"" doc:"merge: linear (weighted average of models, weights sum to 1), task_arithmetic (θ₀ + λΣwᵢ(θᵢ−θ₀)), ties (trim each task vector to its top density fraction per tensor, elect signs by summed mass, disjoint mean; mergekit semantics), dare (drop task-vector entries with drop_rate, rescale by 1/(1−p), then task arithmetic; seeded by the step seed per tensor), dare_ties (DARE then TIES' sign election), wise_ft ((1−α)θ₀ + αθ₁)."`
	Base            string    `cty:"base" optional:"true" accepts:"application/vnd.shammie.model+safetensors,application/vnd.safetensors" doc:"merge: the base model θ₀ (.safetensors, e.g. step.train_base.artifacts.model); every method but linear needs it (wise_ft: the zero-shot model). evaluate: θ₀, to measure every candidate's task vector θ − θ₀ (norm relative to ‖θ₀‖, cosines; summary and output task_vector_norm)."`
	Models          []string  `cty:"models" optional:"true" accepts:"application/vnd.shammie.model+safetensors,application/vnd.safetensors" doc:"merge: the fine-tuned models θᵢ (.safetensors), all with the base's tensor names, shapes and dtypes. Merge to Learn: [general model, skill model]."`
	Weights         []float64 `cty:"weights" optional:"true" doc:"merge: one weight per model (wise_ft: [α]). Default: linear 1/K each, wise_ft [0.5], others 1 each (the last model's weight |D|/|G| when general_examples and skill_examples are set)."`
	Sweep           []float64 `cty:"sweep" optional:"true" doc:"merge: weights to try for the last model (the skill), one merged checkpoint each (artifacts sweep_0…); linear with two models uses [1−ω, ω], wise_ft α = ω. At most 16."`
	GeneralExamples int64     `cty:"general_examples" default:"0" doc:"merge: |G|, examples the general model was trained on; with skill_examples the skill weight ω = |D|/|G| (the paper's heuristic) is used, or added to the sweep."`
	SkillExamples   int64     `cty:"skill_examples" default:"0" doc:"merge: |D|, examples the skill model was trained on (see general_examples)."`
	Density         float64   `cty:"density" default:"0.2" doc:"merge, ties: fraction of each task vector's entries kept per tensor (top-k by magnitude, k = ⌊density·n⌋ ≥ 1); the TIES paper's k = 20%."`
	DropRate        float64   `cty:"drop_rate" default:"0.5" doc:"merge, dare/dare_ties: probability p of dropping a task-vector entry; survivors are rescaled by 1/(1−p)."`
	Normalize       *bool     `cty:"normalize" optional:"true" doc:"merge: divide the combined task vector by the sum of the weights counted at each entry (TIES' disjoint mean). Default as mergekit: true for ties, false otherwise."`
	Scale           float64   `cty:"scale" default:"1" doc:"merge: λ, multiplies the combined task vector (task_arithmetic, ties, dare, dare_ties)."`
	Reference       string    `cty:"reference" optional:"true" accepts:"application/vnd.shammie.model+safetensors,application/vnd.safetensors" doc:"merge: a reference model (e.g. generate mode's ideal); the output distance is ‖θ − θref‖/‖θref − θ₀‖."`

	// report
	Results string `cty:"results" optional:"true" doc:"report: the authors' results table, merge_results_consistent_mix.csv (../shared/data/merge_to_learn)."`
	Skill   string `cty:"skill" default:"\"science\"" doc:"report: the skill to report, science, safety or coding (the paper's formulas: see README)."`

	// train
	Init         string   `cty:"init" optional:"true" accepts:"application/vnd.shammie.model+safetensors,application/vnd.safetensors" doc:"train: model artifact to start from (e.g. step.base.artifacts.model); null trains a fresh model of d_model/heads/layers/seq."`
	Objective    string   `cty:"objective" default:"\"sft\"" doc:"train: \"lm\" pre-trains on the skills mixture (lowercase and uppercase words, alphabet runs, the three tasks under lower-case tags), each document ending in EOS; \"sft\" fine-tunes on prompt/response pairs of tasks."`
	Tasks        []string `cty:"tasks" optional:"true" doc:"train (sft): tasks to fine-tune on, of A (uppercase), B (reverse), C (successor letters); evaluate: tasks to score (default all three; a, b, c score the same tasks in the pre-training notation, \"u abcd=\", to see what a fine-tune kept)."`
	Examples     int      `cty:"examples" default:"2000" doc:"train (sft): training examples per task (held-out words are never used)."`
	Replay       int      `cty:"replay" default:"0" doc:"train (sft): examples of each of the three tasks in the pre-training notation (\"u abcd=\" → \"ABCD\", lower-case tags) mixed into the fine-tuning data, so a fine-tune keeps the tags it does not train and its task vector stays tag-specific."`
	ExtraTags    bool     `cty:"extra_tags" default:"false" doc:"train: lm, the mixture also holds four further tasks under capital tags of their own (I copy, P predecessor, L rotate left, M reverse in upper case; never A's, B's or C's); sft, the replay holds them too. The base then already ties several capital tags to several transformations, so a fine-tune on one tag does not become the default for every capital tag. Scored as tasks I, P, L, M."`
	MixtureBytes int      `cty:"mixture_bytes" default:"200000" doc:"train (lm): bytes of pre-training text."`
	DModel       int      `cty:"d_model" default:"64" doc:"train, fresh model: width."`
	Heads        int      `cty:"heads" default:"4" doc:"train, fresh model: attention heads."`
	Layers       int      `cty:"layers" default:"2" doc:"train, fresh model: layers."`
	Seq          int      `cty:"seq" default:"16" doc:"train, fresh model: training window (tokens)."`
	Steps        int      `cty:"steps" default:"200" doc:"train: optimizer steps."`
	Batch        int      `cty:"batch" default:"32" doc:"train: windows per step."`
	LR           float64  `cty:"lr" default:"0.001" doc:"train: peak learning rate (AdamW, warmup then cosine)."`
	Warmup       int      `cty:"warmup" default:"20" doc:"train: warmup steps."`

	// evaluate
	Candidates   map[string]string `cty:"candidates" optional:"true" accepts:"application/vnd.shammie.model+safetensors,application/vnd.safetensors" doc:"evaluate: label → model artifact, e.g. {general = step.general.artifacts.model, merge_0.5 = step.merge.artifacts.sweep_2}. Labels starting with merge_ followed by a number are drawn as the merge curve."`
	GeneralTasks []string          `cty:"general_tasks" optional:"true" doc:"evaluate: tasks averaged into the General score (default [A, B])."`
	SkillTasks   []string          `cty:"skill_tasks" optional:"true" doc:"evaluate: tasks averaged into the skill score (default [C])."`
	EvalExamples int               `cty:"eval_examples" default:"64" doc:"evaluate: held-out examples per task."`

	// generate
	NModels        int     `cty:"n_models" default:"3" doc:"generate: fine-tuned models, each with its own planted skill (at most 4)."`
	Tensors        int     `cty:"tensors" default:"8" doc:"generate: tensors per checkpoint."`
	Rows           int     `cty:"rows" default:"64" doc:"generate: rows of each [rows, cols] float32 tensor."`
	Cols           int     `cty:"cols" default:"64" doc:"generate: columns of each tensor."`
	PlantedDensity float64 `cty:"planted_density" default:"0.1" doc:"generate: fraction of entries each skill changes (disjoint between skills)."`
	PlantedSignal  float64 `cty:"planted_signal" default:"1" doc:"generate: magnitude of a skill entry."`
	PlantedNoise   float64 `cty:"planted_noise" default:"0.05" doc:"generate: std of the dense noise in every task vector (what TIES/DARE should remove)."`
}

func schemaArtifacts() []sdk.ArtifactDecl {
	out := []sdk.ArtifactDecl{
		{Name: "model", MediaType: ml.ModelMediaType, Description: "merge without a sweep: the merged model, metadata of the first input plus merge.* keys (a model artifact when the inputs are); train: the trained model artifact."},
		{Name: "sweep_manifest", MediaType: "application/json", Description: "merge with a sweep: each swept weight, its artifact and (with reference) its distance."},
		{Name: "summary", MediaType: "application/json", Description: "report: Table 2 rows, the best models by test and by validation, settings; merge: what was merged."},
		{Name: "table", MediaType: "text/csv", Description: "report: every model of the skill with General, the skill score, method and weight; evaluate: every candidate's accuracy per task and training steps."},
		{Name: "plot_png", MediaType: "image/png", Description: "report, evaluate: General against the skill score per recipe (trade-off curves; evaluate labels each model with its training steps)."},
		{Name: "plot_svg", MediaType: "image/svg+xml", Description: "report: the same plot as SVG."},
		{Name: "base", MediaType: "application/vnd.safetensors", Description: "generate: the base model θ₀."},
		{Name: "ideal", MediaType: "application/vnd.safetensors", Description: "generate: θ₀ plus every planted skill, the merge to aim for."},
	}
	for i := range maxSweep {
		out = append(out, sdk.ArtifactDecl{Name: fmt.Sprintf("sweep_%d", i), MediaType: ml.ModelMediaType,
			Description: fmt.Sprintf("merge with a sweep: the model merged at the sweep's weight number %d (see sweep_manifest).", i)})
	}
	for i := range maxPlantedModels {
		out = append(out, sdk.ArtifactDecl{Name: fmt.Sprintf("model_%d", i), MediaType: "application/vnd.safetensors",
			Description: fmt.Sprintf("generate: fine-tuned model %d, θ₀ + skill %d + noise.", i, i)})
	}
	return out
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(Config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "weights", Type: cty.List(cty.Number), Description: "merge: the weights used (without a sweep)."},
		{Name: "sweep_weights", Type: cty.List(cty.Number), Description: "merge: the swept weights of the last model, in artifact order."},
		{Name: "heuristic_weight", Type: cty.Number, Description: "merge: |D|/|G| when general_examples and skill_examples are set."},
		{Name: "distance", Type: cty.Number, Description: "merge with reference: ‖θ − θref‖/‖θref − θ₀‖ (without a sweep)."},
		{Name: "distances", Type: cty.List(cty.Number), Description: "merge with reference and a sweep: the distance of each swept model."},
		{Name: "tensors", Type: cty.Number, Description: "merge: tensors per checkpoint; generate: tensors written per checkpoint."},
		{Name: "parameters", Type: cty.Number, Description: "merge: floating-point values merged per output."},
		{Name: "baseline_general", Type: cty.Number, Description: "report: General of the general model alone (Tülu only)."},
		{Name: "baseline_skill", Type: cty.Number, Description: "report: the skill score of the general model alone."},
		{Name: "best_retrain", Type: cty.String, Description: "report: model_key of the best retraining run: best on the validation split where the table has one (science; Table 2's choice), else best on test."},
		{Name: "best_retrain_general", Type: cty.Number, Description: "report: its General."},
		{Name: "best_retrain_skill", Type: cty.Number, Description: "report: its skill score."},
		{Name: "best_merge", Type: cty.String, Description: "report: model_key of the best train-then-merge model: task arithmetic with the full skill data, the ω with the best skill score on test (Table 2's choice)."},
		{Name: "best_merge_general", Type: cty.Number, Description: "report: its General."},
		{Name: "best_merge_skill", Type: cty.Number, Description: "report: its skill score."},
		{Name: "best_merge_by_validation", Type: cty.String, Description: "report: the same choice made on the validation split (science; the others have none and fall back to test)."},
		{Name: "best_merge_by_validation_general", Type: cty.Number, Description: "report: its General."},
		{Name: "best_merge_by_validation_skill", Type: cty.Number, Description: "report: its skill score on test."},
		{Name: "rows", Type: cty.Number, Description: "report: models with the skill evaluated."},
		{Name: "train_steps", Type: cty.Number, Description: "train: optimizer steps of this step."},
		{Name: "total_steps", Type: cty.Number, Description: "train: optimizer steps from scratch (the init model's plus this step's)."},
		{Name: "final_loss", Type: cty.Number, Description: "train: training loss of the last step."},
		{Name: "general", Type: cty.Map(cty.Number), Description: "evaluate: General (mean exact match over general_tasks, %) per candidate."},
		{Name: "skill", Type: cty.Map(cty.Number), Description: "evaluate: skill score (mean exact match over skill_tasks, %) per candidate."},
		{Name: "task_vector_norm", Type: cty.Map(cty.Number), Description: "evaluate with base: ‖θ − θ₀‖/‖θ₀‖ per candidate (the base itself left out); the cosines are in the summary."},
		{Name: "steps", Type: cty.Map(cty.Number), Description: "evaluate: training steps spent on each candidate from scratch (a merge: the base's plus each input's own)."},
	},
	Artifacts: schemaArtifacts(),
}

// Metadata implements sdk.Plugin.
func (*Plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "merge", Version: sdk.BuildVersion(version), Backends: ml.Backends(),
		Description: "Model merging (Merge to Learn): streamed linear/task arithmetic/TIES/DARE/WiSE-FT, weight sweeps and the |D|/|G| heuristic; Table 2 report; planted checkpoints"}
}

// Schema implements sdk.Plugin.
func (*Plugin) Schema() sdk.Schema { return schema }

// Run implements sdk.Plugin: it picks the mode.
func (p *Plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg Config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	if diags := p.ValidateConfig(ctx, run.Config); diags.HasErrors() {
		return diags.Err()
	}
	switch cfg.Mode {
	case "report":
		return pipeline.RunReport(ctx, run, cfg.Results, cfg.Skill)
	case "generate":
		return pipeline.RunGenerate(ctx, run, planted.Config{Models: cfg.NModels, Tensors: cfg.Tensors, Rows: cfg.Rows, Cols: cfg.Cols,
			Density: cfg.PlantedDensity, Signal: cfg.PlantedSignal, Noise: cfg.PlantedNoise})
	case "train":
		return pipeline.RunTrain(ctx, run, sft.Options{Init: cfg.Init, Objective: cfg.Objective, Tasks: cfg.Tasks, Examples: cfg.Examples, Replay: cfg.Replay, Extra: cfg.extra(),
			Mixture: cfg.MixtureBytes, DModel: cfg.DModel, Heads: cfg.Heads, Layers: cfg.Layers, Seq: cfg.Seq, Steps: cfg.Steps,
			Batch: cfg.Batch, LR: cfg.LR, Warmup: cfg.Warmup}, sdk.BuildVersion(version))
	case "evaluate":
		return pipeline.RunEvaluate(ctx, run, pipeline.Evaluate{Candidates: cfg.Candidates, Tasks: cfg.Tasks,
			GeneralTasks: cfg.GeneralTasks, SkillTasks: cfg.SkillTasks, Examples: cfg.EvalExamples, Base: cfg.Base})
	default:
		return pipeline.RunMerge(ctx, run, cfg.merge(run.Seed))
	}
}

// merge is a merge step's settings: one spec per swept weight, or one.
func (cfg Config) merge(seed int64) pipeline.Merge {
	m := pipeline.Merge{Method: cfg.Method, Base: cfg.Base, Models: cfg.Models, Reference: cfg.Reference, Sweep: cfg.sweepWeights()}
	m.Heuristic, m.HasHeuristic = cfg.heuristic()
	for _, w := range m.Sweep {
		m.Specs = append(m.Specs, cfg.spec(seed, w))
	}
	if len(m.Sweep) == 0 {
		m.Specs = []operators.Spec{cfg.spec(seed, math.NaN())}
	}
	return m
}

// spec builds the operator spec with the method's default weights (or the
// heuristic) and normalisation; sweep, unless NaN, is the last model's weight.
func (cfg Config) spec(seed int64, sweep float64) operators.Spec {
	s := operators.Spec{Method: cfg.Method, Density: cfg.Density, DropRate: cfg.DropRate, Scale: cfg.Scale,
		Seed: uint64(seed), Normalize: cfg.Method == operators.TIES}
	if cfg.Normalize != nil {
		s.Normalize = *cfg.Normalize
	}
	n := len(cfg.Models)
	s.Weights = slices.Clone(cfg.Weights)
	if s.Weights == nil {
		switch cfg.Method {
		case operators.Linear:
			for range n {
				s.Weights = append(s.Weights, 1/float64(n))
			}
		case operators.WiSEFT:
			s.Weights = []float64{0.5}
		default:
			for range n {
				s.Weights = append(s.Weights, 1)
			}
			if h, ok := cfg.heuristic(); ok && n > 0 {
				s.Weights[n-1] = h
			}
		}
	}
	if !math.IsNaN(sweep) && len(s.Weights) > 0 {
		s.Weights[len(s.Weights)-1] = sweep
		if cfg.Method == operators.Linear && len(s.Weights) == 2 {
			s.Weights[0] = 1 - sweep
		}
	}
	return s
}

// heuristic is Merge to Learn's skill weight ω = |D|/|G|.
func (cfg Config) heuristic() (float64, bool) {
	if cfg.GeneralExamples <= 0 || cfg.SkillExamples <= 0 {
		return 0, false
	}
	return float64(cfg.SkillExamples) / float64(cfg.GeneralExamples), true
}

// sweepWeights is the sweep plus the heuristic weight when set and new.
func (cfg Config) sweepWeights() []float64 {
	ws := slices.Clone(cfg.Sweep)
	if h, ok := cfg.heuristic(); ok && len(ws) > 0 && !slices.Contains(ws, h) {
		ws = append(ws, h)
	}
	return ws
}

// ValidateConfig implements sdk.Plugin. Values that depend on other steps
// are unknown at validation time; each check runs only when the attributes
// it reads are known.
func (*Plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg Config
	if err := c.Decode(&cfg); err != nil {
		return sdk.Diagnostics{sdk.Errorf(nil, "Invalid config", err.Error())}
	}
	if !c.IsKnown("mode") {
		return nil // which checks apply depends on the mode
	}
	switch cfg.Mode {
	case "merge":
		return validateMerge(c, cfg)
	case "report":
		return validateReport(c, cfg)
	case "generate":
		return validateGenerate(c, cfg)
	case "train":
		return validateTrain(c, cfg)
	case "evaluate":
		return validateEvaluate(c, cfg)
	}
	return sdk.Diagnostics{sdk.Errorf(cty.GetAttrPath("mode"), "Unknown mode", fmt.Sprintf("mode is %q; use \"merge\", \"report\", \"generate\", \"train\" or \"evaluate\"", cfg.Mode))}
}

func attrPath(name string) cty.Path { return cty.GetAttrPath(name) }

func validateMerge(c sdk.Config, cfg Config) sdk.Diagnostics {
	var diags sdk.Diagnostics
	errAt := func(p cty.Path, summary, detail string) { diags = append(diags, sdk.Errorf(p, summary, detail)) }
	known := c.IsKnown
	if !known("method") {
		return nil
	}
	if !slices.Contains(operators.Methods, cfg.Method) {
		errAt(attrPath("method"), "Unknown merge method", fmt.Sprintf("method is %q; use one of %v", cfg.Method, operators.Methods))
		return diags
	}
	modelsListKnown := listKnown(c, "models")
	if modelsListKnown && len(cfg.Models) == 0 {
		errAt(attrPath("models"), "No models to merge", "Give the fine-tuned checkpoints in models, e.g. [step.general.artifacts.model, step.skill.artifacts.model].")
	}
	usesBase := operators.UsesBase(cfg.Method)
	if usesBase && known("base") && cfg.Base == "" {
		errAt(attrPath("base"), "No base model", fmt.Sprintf("%s works on task vectors θᵢ − θ₀ and needs the base model θ₀ in base.", cfg.Method))
	}
	if known("density") && !(cfg.Density > 0 && cfg.Density <= 1) {
		errAt(attrPath("density"), "Density outside (0, 1]", fmt.Sprintf("got %v; TIES keeps this fraction of each task vector", cfg.Density))
	}
	if known("drop_rate") && !(cfg.DropRate >= 0 && cfg.DropRate < 1) {
		errAt(attrPath("drop_rate"), "Drop rate outside [0, 1)", fmt.Sprintf("got %v", cfg.DropRate))
	}
	if known("scale") && (math.IsNaN(cfg.Scale) || math.IsInf(cfg.Scale, 0)) {
		errAt(attrPath("scale"), "Invalid scale", fmt.Sprintf("got %v", cfg.Scale))
	}
	gKnown, sKnown := known("general_examples"), known("skill_examples")
	if gKnown && sKnown && (cfg.GeneralExamples > 0) != (cfg.SkillExamples > 0) {
		p := "skill_examples"
		if cfg.GeneralExamples <= 0 {
			p = "general_examples"
		}
		errAt(attrPath(p), "Heuristic weight needs both sizes", "Set general_examples (|G|) and skill_examples (|D|) both, as positive counts, or neither.")
	}
	if len(diags) > 0 || !modelsListKnown || len(cfg.Models) == 0 {
		return diags
	}
	// Weight rules, on every weight vector that will be merged.
	if known("weights") && known("sweep") && known("normalize") && gKnown && sKnown {
		if cfg.Weights != nil && len(cfg.Weights) != len(cfg.Models) {
			errAt(attrPath("weights"), "One weight per model", fmt.Sprintf("%d weights for %d models", len(cfg.Weights), len(cfg.Models)))
			return diags
		}
		sweep := cfg.sweepWeights()
		if len(sweep) > maxSweep {
			errAt(attrPath("sweep"), "Sweep too long", fmt.Sprintf("%d weights (with the heuristic); at most %d", len(sweep), maxSweep))
		}
		if cfg.Method == operators.Linear && len(sweep) > 0 && len(cfg.Models) != 2 {
			errAt(attrPath("sweep"), "Linear sweep needs two models", fmt.Sprintf("a linear sweep merges [1−ω, ω] of two models; got %d", len(cfg.Models)))
		}
		if len(diags) > 0 {
			return diags
		}
		if len(sweep) == 0 {
			sweep = []float64{math.NaN()}
		}
		for i, w := range sweep {
			if err := cfg.spec(0, w).Check(len(cfg.Models)); err != nil {
				p := attrPath("weights")
				switch {
				case !math.IsNaN(w) && i < len(cfg.Sweep):
					p = attrPath("sweep").IndexInt(i)
				case !math.IsNaN(w):
					p = attrPath("skill_examples")
				case cfg.Weights == nil && cfg.Method == operators.WiSEFT:
					p = attrPath("models")
				}
				errAt(p, "Weights do not fit the method", err.Error())
				break
			}
		}
	}
	if len(diags) > 0 {
		return diags
	}
	return checkFiles(c, cfg, usesBase)
}

// checkFiles opens the headers of the inputs that are known and checks
// that they are safetensors files of one architecture, so a mismatch is a
// config error at the offending attribute before anything runs.
func checkFiles(c sdk.Config, cfg Config, usesBase bool) sdk.Diagnostics {
	type input struct {
		path cty.Path
		file string
	}
	var ins []input
	if usesBase && c.IsKnown("base") {
		ins = append(ins, input{attrPath("base"), cfg.Base})
	}
	for i, m := range cfg.Models {
		if p := attrPath("models").IndexInt(i); c.Known(p) {
			ins = append(ins, input{p, m})
		}
	}
	if cfg.Reference != "" && c.IsKnown("reference") {
		ins = append(ins, input{attrPath("reference"), cfg.Reference})
	}
	var diags sdk.Diagnostics
	var ref *ml.SafetensorsFile
	for _, in := range ins {
		if _, err := os.Stat(in.file); err != nil {
			diags = append(diags, sdk.Errorf(in.path, "Model file not found", err.Error()))
			continue
		}
		f, err := ml.OpenSafetensors(in.file)
		if err != nil {
			diags = append(diags, sdk.Errorf(in.path, "Not a safetensors checkpoint", err.Error()))
			continue
		}
		if ref == nil {
			ref = f
			defer ref.Close()
			continue
		}
		if err := ml.SameTensors([]*ml.SafetensorsFile{ref, f}); err != nil {
			diags = append(diags, sdk.Errorf(in.path, "Models of different architecture", err.Error()))
		}
		f.Close()
	}
	return diags
}

// listKnown reports whether the list attribute itself is known (its
// elements may not be).
func listKnown(c sdk.Config, name string) bool {
	v := c.Value
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return true
	}
	return v.GetAttr(name).IsKnown()
}

func validateReport(c sdk.Config, cfg Config) sdk.Diagnostics {
	var diags sdk.Diagnostics
	if c.IsKnown("results") {
		if cfg.Results == "" {
			diags = append(diags, sdk.Errorf(attrPath("results"), "No results table", "report mode reads the authors' table: results = \"../shared/data/merge_to_learn/merge_results_consistent_mix.csv\"."))
		} else if _, err := os.Stat(cfg.Results); err != nil {
			diags = append(diags, sdk.Errorf(attrPath("results"), "Results table not found", err.Error()))
		}
	}
	if c.IsKnown("skill") && !slices.Contains([]string{"science", "safety", "coding"}, cfg.Skill) {
		diags = append(diags, sdk.Errorf(attrPath("skill"), "Unknown skill", fmt.Sprintf("skill is %q; use science, safety or coding", cfg.Skill)))
	}
	return diags
}

func validateGenerate(c sdk.Config, cfg Config) sdk.Diagnostics {
	var diags sdk.Diagnostics
	if c.IsKnown("n_models") && (cfg.NModels < 1 || cfg.NModels > maxPlantedModels) {
		diags = append(diags, sdk.Errorf(attrPath("n_models"), "Invalid n_models", fmt.Sprintf("got %d; 1 to %d", cfg.NModels, maxPlantedModels)))
	}
	for _, a := range []struct {
		name string
		v    int
	}{{"tensors", cfg.Tensors}, {"rows", cfg.Rows}, {"cols", cfg.Cols}} {
		if c.IsKnown(a.name) && a.v < 1 {
			diags = append(diags, sdk.Errorf(attrPath(a.name), "Invalid "+a.name, fmt.Sprintf("got %d; need ≥ 1", a.v)))
		}
	}
	if c.IsKnown("planted_density") && c.IsKnown("n_models") && !(cfg.PlantedDensity >= 0 && cfg.PlantedDensity*float64(cfg.NModels) <= 1) {
		diags = append(diags, sdk.Errorf(attrPath("planted_density"), "Skills cannot be disjoint", fmt.Sprintf("planted_density %v × %d models must be in [0, 1]", cfg.PlantedDensity, cfg.NModels)))
	}
	if c.IsKnown("planted_noise") && !(cfg.PlantedNoise >= 0) {
		diags = append(diags, sdk.Errorf(attrPath("planted_noise"), "Negative noise", fmt.Sprintf("got %v", cfg.PlantedNoise)))
	}
	return diags
}

func validateTrain(c sdk.Config, cfg Config) sdk.Diagnostics {
	var diags sdk.Diagnostics
	errAt := func(name, summary, detail string) { diags = append(diags, sdk.Errorf(attrPath(name), summary, detail)) }
	if c.IsKnown("objective") && cfg.Objective != "lm" && cfg.Objective != "sft" {
		errAt("objective", "Unknown objective", fmt.Sprintf("objective is %q; use \"lm\" or \"sft\"", cfg.Objective))
	}
	if c.IsKnown("objective") && c.IsKnown("tasks") && cfg.Objective == "sft" {
		if len(cfg.Tasks) == 0 {
			errAt("tasks", "No tasks to fine-tune on", "sft needs tasks, e.g. [\"A\", \"B\"]")
		}
		diags = append(diags, checkTasks("tasks", cfg.Tasks, false)...)
	}
	if c.IsKnown("init") && cfg.Init != "" {
		if _, _, err := ml.ReadModelInfo(cfg.Init); err != nil {
			errAt("init", "Not a model artifact", err.Error())
		}
	}
	for _, a := range []struct {
		name string
		v    int
		min  int
	}{{"steps", cfg.Steps, 1}, {"batch", cfg.Batch, 1}, {"examples", cfg.Examples, 1}, {"d_model", cfg.DModel, 1},
		{"heads", cfg.Heads, 1}, {"layers", cfg.Layers, 1}, {"seq", cfg.Seq, 12}, {"warmup", cfg.Warmup, 0}, {"replay", cfg.Replay, 0}, {"mixture_bytes", cfg.MixtureBytes, 1000}} {
		if c.IsKnown(a.name) && a.v < a.min {
			errAt(a.name, "Invalid "+a.name, fmt.Sprintf("got %d; need ≥ %d", a.v, a.min))
		}
	}
	if c.IsKnown("d_model") && c.IsKnown("heads") && cfg.Heads > 0 && cfg.DModel%cfg.Heads != 0 {
		errAt("heads", "d_model not divisible by heads", fmt.Sprintf("%d %% %d != 0", cfg.DModel, cfg.Heads))
	}
	if c.IsKnown("lr") && !(cfg.LR > 0 && cfg.LR < 1) {
		errAt("lr", "Learning rate outside (0, 1)", fmt.Sprintf("got %v", cfg.LR))
	}
	return diags
}

// checkTasks checks task names; notation (a, b, c: the pre-training
// notation) is allowed where only scoring reads them.
func checkTasks(attr string, tasks []string, notation bool) sdk.Diagnostics {
	var diags sdk.Diagnostics
	for i, t := range tasks {
		_, ok := skills.Tasks[t]
		if notation {
			_, ok = skills.Lookup(t)
		}
		if !ok {
			diags = append(diags, sdk.Errorf(attrPath(attr).IndexInt(i), "Unknown task", fmt.Sprintf("task %q; the tasks are %v (to score, also a, b, c: the pre-training notation)", t, skills.Names)))
		}
	}
	return diags
}

func validateEvaluate(c sdk.Config, cfg Config) sdk.Diagnostics {
	var diags sdk.Diagnostics
	if listKnown(c, "candidates") && len(cfg.Candidates) == 0 {
		diags = append(diags, sdk.Errorf(attrPath("candidates"), "No models to evaluate", "Give candidates = {label = model artifact, …}."))
	}
	for name, path := range cfg.Candidates {
		p := attrPath("candidates").Index(cty.StringVal(name))
		if !c.Known(p) {
			continue
		}
		if _, _, err := ml.ReadModelInfo(path); err != nil {
			diags = append(diags, sdk.Errorf(p, "Not a model artifact", err.Error()))
		}
	}
	if c.IsKnown("base") && cfg.Base != "" {
		if _, _, err := ml.ReadModelInfo(cfg.Base); err != nil {
			diags = append(diags, sdk.Errorf(attrPath("base"), "Not a model artifact", err.Error()))
		}
	}
	for _, a := range []string{"tasks", "general_tasks", "skill_tasks"} {
		if c.IsKnown(a) {
			diags = append(diags, checkTasks(a, map[string][]string{"tasks": cfg.Tasks, "general_tasks": cfg.GeneralTasks, "skill_tasks": cfg.SkillTasks}[a], true)...)
		}
	}
	if c.IsKnown("eval_examples") && cfg.EvalExamples < 1 {
		diags = append(diags, sdk.Errorf(attrPath("eval_examples"), "Invalid eval_examples", fmt.Sprintf("got %d; need ≥ 1", cfg.EvalExamples)))
	}
	return diags
}

// extra is the extra pre-training tasks extra_tags asks for.
func (c Config) extra() []skills.Task {
	if c.ExtraTags {
		return skills.Extra
	}
	return nil
}

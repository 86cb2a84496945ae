package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/copybench/internal/pipeline"
	"github.com/shammie-ml/shammie/plugins/copybench/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file; unstamped builds
// report sdk.DevVersion.
var version string

// Config is the step's config block (= the schema).
type Config struct {
	Mode string `cty:"mode" doc:"planted: train a tiny model on synthetic books and measure its copying on trained and held-out books. evaluate: a model artifact on the real CopyBench files."`

	// planted
	Books       int `cty:"books" default:"6" doc:"planted: books the model is trained on."`
	HeldOut     int `cty:"held_out" default:"3" doc:"planted: books it never sees (copying should stay near 0)."`
	PrefixWords int `cty:"prefix_words" default:"8" doc:"planted: words of a literal prompt's prefix."`
	ContWords   int `cty:"continuation_words" default:"10" doc:"planted: words of the continuation to copy (the real items have about 50)."`
	Events      int `cty:"events" default:"5" doc:"planted: events per book; the first three name its three characters. Event copying needs 5 supported events, so with fewer only literal and character copying can occur (a shorter, faster setting)."`

	// model and training (planted): layers, d_model, heads, seq (bytes of
	// prompt + reply), batch, steps, lr, warmup, min_lr_ratio, weight_decay,
	// clip, accum_steps.
	ml.Settings

	// evaluate
	Model    string   `cty:"model" optional:"true" doc:"evaluate: the model artifact (e.g. step.planted.artifacts.model, or another plugin's)."`
	Data     string   `cty:"data" optional:"true" doc:"evaluate: the copybench directory (data/ and prompts/), e.g. \"../shared/data/copybench\"."`
	Tasks    []string `cty:"tasks" optional:"true" doc:"evaluate: tasks of literal, nonliteral, qa (default all three)."`
	Format   int      `cty:"format" default:"1" doc:"evaluate: prompt format 1–3 of the reference (qa has only 1)."`
	Shots    int      `cty:"shots" default:"0" doc:"evaluate: in-context demos, the config's first N (the reference samples N with random.sample)."`
	MaxItems int      `cty:"max_items" default:"0" doc:"evaluate: per task, the first N items (0: all)."`

	// decoding (both modes): greedy, stop on "\n\n\n", as the reference
	MaxNew     int     `cty:"max_new_tokens" default:"96" doc:"Longest generation (tokens; bytes for a byte-level model)."`
	RepPenalty float64 `cty:"repetition_penalty" default:"1.1" doc:"Repetition penalty of greedy decoding (the reference: 1.1)."`
	GenBatch   int     `cty:"generate_batch" default:"16" doc:"Prompts decoded together (mixed lengths in one batch)."`
}

// Plugin implements sdk.Plugin.
type Plugin struct{}

var _ sdk.Plugin = (*Plugin)(nil)

// Metadata implements sdk.Plugin.
func (*Plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "copybench", Version: sdk.BuildVersion(version), Backends: ml.Backends(),
		Description: "CopyBench: literal and non-literal (character, event) copying and fact recall of a language model"}
}

var rateDecls = []sdk.OutputDecl{
	{Name: "literal_rate", Type: cty.Number, Description: "Share of literal items whose output has ROUGE-L >= 0.8 with the reference (planted: trained books)."},
	{Name: "character_rate", Type: cty.Number, Description: "Share of non-literal items naming >= 3 of the book's characters (planted: trained books)."},
	{Name: "event_rate", Type: cty.Number, Description: "Share of non-literal items supporting >= 5 reference events, lexical proxy (planted: trained books)."},
	{Name: "mean_rouge_l", Type: cty.Number, Description: "Mean ROUGE-L of the literal items (planted: trained books)."},
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(Config{}),
	Outputs: append(append([]sdk.OutputDecl{}, rateDecls...),
		sdk.OutputDecl{Name: "held_out_literal_rate", Type: cty.Number, Description: "planted: literal_rate on held-out books."},
		sdk.OutputDecl{Name: "held_out_character_rate", Type: cty.Number, Description: "planted: character_rate on held-out books."},
		sdk.OutputDecl{Name: "held_out_event_rate", Type: cty.Number, Description: "planted: event_rate on held-out books."},
		sdk.OutputDecl{Name: "held_out_mean_rouge_l", Type: cty.Number, Description: "planted: mean_rouge_l on held-out books."},
		sdk.OutputDecl{Name: "final_loss", Type: cty.Number, Description: "planted: training loss of the last step."},
		sdk.OutputDecl{Name: "qa_f1", Type: cty.Number, Description: "evaluate: mean SQuAD F1 of the QA items (fact recall)."},
		sdk.OutputDecl{Name: "qa_em", Type: cty.Number, Description: "evaluate: exact-match rate of the QA items."},
	),
	Artifacts: []sdk.ArtifactDecl{
		{Name: "model", MediaType: ml.ModelMediaType, Description: "planted: the trained model (one safetensors file)."},
		{Name: "report", MediaType: "application/json", Description: "Rates and per-item scores by id; planted also shows sample generations (synthetic text). evaluate never writes excerpts or generations."},
	},
}

// Schema implements sdk.Plugin.
func (*Plugin) Schema() sdk.Schema { return schema }

var taskNames = []string{"literal", "nonliteral", "qa"}

// ValidateConfig implements sdk.Plugin; checks of unknown values (the
// artifacts of steps not run yet) wait for the host's second call.
func (*Plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg Config
	v := sdk.NewValidator(c, &cfg)
	if !v.Known("mode") {
		return v.Diagnostics()
	}
	v.Range("max_new_tokens", float64(cfg.MaxNew), 1, 4096)
	v.Range("repetition_penalty", cfg.RepPenalty, 1, 10)
	v.Range("generate_batch", float64(cfg.GenBatch), 1, 1024)
	switch cfg.Mode {
	case "planted":
		v.Range("books", float64(cfg.Books), 1, 200)
		v.Range("held_out", float64(cfg.HeldOut), 1, 200)
		v.Range("prefix_words", float64(cfg.PrefixWords), 1, 100)
		v.Range("continuation_words", float64(cfg.ContWords), 1, 100)
		v.Range("events", float64(cfg.Events), 3, 50)
		cfg.Settings.Check(v)
		if v.Known("seq", "max_new_tokens") {
			v.CheckAll(cfg.MaxNew < cfg.Seq, []string{"max_new_tokens", "seq"}, "The generation must fit the model's context",
				fmt.Sprintf("max_new_tokens %d must be below seq %d.", cfg.MaxNew, cfg.Seq))
		}
	case "evaluate":
		if v.Known("model") {
			checkPath(v, "model", cfg.Model, false, "Give the model artifact: model = step.<name>.artifacts.model.")
		}
		if v.Known("data") {
			checkPath(v, "data", cfg.Data, true, "Give the copybench directory: data = \"../shared/data/copybench\".")
		}
		if v.Known("tasks") {
			for _, t := range cfg.Tasks {
				v.OneOf("tasks", t, taskNames...)
			}
		}
		v.Range("format", float64(cfg.Format), 1, 3)
		v.Range("shots", float64(cfg.Shots), 0, 32)
		v.Min("max_items", float64(cfg.MaxItems), 0)
	default:
		v.OneOf("mode", cfg.Mode, "planted", "evaluate")
	}
	return v.Diagnostics()
}

// checkPath requires a path attribute to name an existing file (or, with
// dir, a directory holding data/ and prompts/).
func checkPath(v *sdk.Validator, attr, path string, dir bool, hint string) {
	if path == "" {
		v.Check(false, attr, fmt.Sprintf("The %s attribute is required here", attr), hint)
		return
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		v.Check(false, attr, "File not found", err.Error())
	case dir && !fi.IsDir():
		v.Check(false, attr, "Not a directory", path)
	case dir:
		_, e1 := os.Stat(filepath.Join(path, "data"))
		_, e2 := os.Stat(filepath.Join(path, "prompts"))
		v.Check(e1 == nil && e2 == nil, attr, "Not a CopyBench directory", "It must hold data/ and prompts/ (see its PROVENANCE.md).")
	}
}

// Run implements sdk.Plugin: it picks the mode.
func (*Plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg Config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	d := pipeline.Decoding{MaxNew: cfg.MaxNew, RepetitionPenalty: cfg.RepPenalty, Batch: cfg.GenBatch}
	if cfg.Mode == "planted" {
		pc := planted.Config{Books: cfg.Books, HeldOut: cfg.HeldOut, PrefixWords: cfg.PrefixWords,
			ContWords: cfg.ContWords, Events: cfg.Events, Seed: uint64(run.Seed)}
		return pipeline.RunPlanted(ctx, run, pc, cfg.Settings, d, sdk.BuildVersion(version))
	}
	tasks := cfg.Tasks
	if len(tasks) == 0 {
		tasks = taskNames
	}
	return pipeline.RunEvaluate(run, cfg.Model, pipeline.EvalOptions{Data: cfg.Data, Tasks: tasks, Format: cfg.Format,
		Shots: cfg.Shots, MaxItems: cfg.MaxItems, Decoding: d})
}

package main

import (
	"context"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/examples/linreg/internal/logreg"
	"github.com/shammie-ml/shammie/examples/linreg/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file:
//
//	go build -ldflags "-X main.version=$(cat VERSION)"
//
// (`make build` and plugintest.Build do it). The host shows it and matches
// it against the spec's `version` constraint; unstamped builds report
// sdk.DevVersion.
var version string

// Config is the step's `config { ... }` block. The same struct is the schema
// (sdk.BlockOf reads the tags) and the decoding target (Config.Decode).
type Config struct {
	Samples      int     `cty:"samples" default:"2000" doc:"Number of generated examples."`
	Features     int     `cty:"features" default:"8" doc:"Number of input features."`
	Separation   float64 `cty:"separation" default:"2.0" doc:"Scale of the true weights: larger is easier."`
	TestFraction float64 `cty:"test_fraction" default:"0.25" doc:"Share of examples held out to measure accuracy."`
	Steps        int     `cty:"steps" default:"300" doc:"Gradient descent steps (full batch)."`
	LR           float64 `cty:"lr" default:"0.5" doc:"Learning rate."`
	CheckpointEv int     `cty:"checkpoint_every" default:"50" doc:"Steps between checkpoints in the state dir (0: never)."`
}

// Plugin implements sdk.Plugin.
type Plugin struct{}

var _ sdk.Plugin = (*Plugin)(nil)

// Metadata implements sdk.Plugin.
func (*Plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Name:        "linreg",
		Version:     sdk.BuildVersion(version),
		Description: "Example plugin: logistic regression by gradient descent on seeded synthetic data",
		Backends:    ml.Backends(),
	}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(Config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "final_loss", Type: cty.Number, Description: "Training loss (mean log loss) after the last step."},
		{Name: "accuracy", Type: cty.Number, Description: "Accuracy on the held-out examples."},
		{Name: "oracle_accuracy", Type: cty.Number, Description: "Held-out accuracy of the true weights: the best one can expect."},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "weights", MediaType: "application/json", Description: "Learned and true weights."},
		{Name: "loss_curve_png", MediaType: "image/png", Description: "Training loss per step."},
		{Name: "loss_curve_svg", MediaType: "image/svg+xml", Description: "Training loss per step."},
	},
}

// Schema implements sdk.Plugin.
func (*Plugin) Schema() sdk.Schema { return schema }

// ValidateConfig checks what the schema's types cannot. Each diagnostic
// names its attribute, so the host can point at the line in the spec.
// Values from steps not run yet are unknown: the Validator skips the checks
// that read them (the host validates again on the full config, and the SDK
// refuses to call Run with a config that fails).
func (*Plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg Config
	v := sdk.NewValidator(c, &cfg)
	v.Check(cfg.Samples >= 10, "samples", "At least 10 samples are needed", "")
	v.Check(cfg.Features >= 1, "features", "At least one feature is needed", "")
	v.Check(cfg.TestFraction > 0 && cfg.TestFraction < 1, "test_fraction", "The test fraction must be between 0 and 1 (exclusive)", "")
	v.Check(cfg.Steps >= 1, "steps", "At least one step is needed", "")
	v.Check(cfg.LR > 0, "lr", "The learning rate must be positive", "")
	v.Check(cfg.CheckpointEv >= 0, "checkpoint_every", "The checkpoint interval must not be negative", "")
	v.Check(cfg.Separation >= 0, "separation", "The separation must not be negative", "")
	if cfg.Samples >= 10 && cfg.TestFraction > 0 && cfg.TestFraction < 1 {
		nTest := int(float64(cfg.Samples) * cfg.TestFraction)
		v.CheckAll(nTest >= 1 && cfg.Samples-nTest >= 1, []string{"test_fraction", "samples"},
			"The test fraction leaves no training or no test examples", "")
	}
	return v.Diagnostics()
}

// Run generates the data, trains, evaluates and writes the artifacts. A
// plugin with several modes only picks the mode here; the work is in the
// internal packages.
func (*Plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg Config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	data := planted.Generate(planted.Config{Samples: cfg.Samples, Features: cfg.Features,
		Separation: cfg.Separation, TestFraction: cfg.TestFraction}, run.Seed)

	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()

	res, err := logreg.Train(ctx, backend, data, logreg.Options{Steps: cfg.Steps, LR: cfg.LR, CheckpointEvery: cfg.CheckpointEv}, run.StateDir, run)
	if err != nil {
		return err
	}
	if err := run.WriteArtifact("weights", "weights.json", func(path string) error {
		return logreg.WriteWeights(path, data, res)
	}); err != nil {
		return err
	}
	if err := run.WritePlot("loss_curve", []string{"loss_curve_png", "loss_curve_svg"}, func(base string) ([]string, error) {
		return logreg.PlotLoss(base, res.Losses)
	}); err != nil {
		return err
	}
	oracle := logreg.Accuracy(data.TestX, data.TestY, data.TrueW, data.TrueB, cfg.Features)
	run.Logf("trained %d steps: loss %.4f, held-out accuracy %.3f (true weights: %.3f)", cfg.Steps, res.FinalLoss, res.Accuracy, oracle)
	return run.Outputs(map[string]cty.Value{
		"final_loss":      cty.NumberFloatVal(res.FinalLoss),
		"accuracy":        cty.NumberFloatVal(res.Accuracy),
		"oracle_accuracy": cty.NumberFloatVal(oracle),
	})
}

package main

import (
	"context"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Version of this plugin; the host shows it and matches it against the
// spec's `version` constraint.
const Version = "0.1.0"

// Config is the step's `config { ... }` block. The same struct is the schema
// (sdk.BlockOf reads the tags) and the decoding target (Config.Decode).
type Config struct {
	Samples      int     `cty:"samples" default:"2000" doc:"number of generated examples"`
	Features     int     `cty:"features" default:"8" doc:"number of input features"`
	Separation   float64 `cty:"separation" default:"2.0" doc:"scale of the true weights: larger is easier"`
	TestFraction float64 `cty:"test_fraction" default:"0.25" doc:"share of examples held out to measure accuracy"`
	Steps        int     `cty:"steps" default:"300" doc:"gradient descent steps (full batch)"`
	LR           float64 `cty:"lr" default:"0.5" doc:"learning rate"`
	CheckpointEv int     `cty:"checkpoint_every" default:"50" doc:"steps between checkpoints in the state dir (0: never)"`
}

// Plugin implements sdk.Plugin.
type Plugin struct{}

var _ sdk.Plugin = (*Plugin)(nil)

func (*Plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Name:        "linreg",
		Version:     Version,
		Description: "Example plugin: logistic regression by gradient descent on seeded synthetic data",
		Backends:    ml.Backends(),
	}
}

func (*Plugin) Schema() sdk.Schema {
	return sdk.Schema{
		Config: sdk.MustBlockOf(Config{}),
		Outputs: []sdk.OutputDecl{
			{Name: "final_loss", Type: cty.Number, Description: "training loss (mean log loss) after the last step"},
			{Name: "accuracy", Type: cty.Number, Description: "accuracy on the held-out examples"},
			{Name: "oracle_accuracy", Type: cty.Number, Description: "held-out accuracy of the true weights: the best one can expect"},
		},
		Artifacts: []sdk.ArtifactDecl{
			{Name: "weights", MediaType: "application/json", Description: "learned and true weights"},
			{Name: "loss_curve_png", MediaType: "image/png", Description: "training loss per step"},
			{Name: "loss_curve_svg", MediaType: "image/svg+xml", Description: "training loss per step"},
		},
	}
}

// ValidateConfig checks what the schema's types cannot. Each diagnostic
// names its attribute, so the host can point at the line in the spec.
func (*Plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	// Values from steps not run yet are unknown: Decode leaves them at
	// zero and check skips them, so only the known attributes are judged
	// (the host validates again on the full config before Run).
	var cfg Config
	if err := c.Decode(&cfg); err != nil {
		return sdk.Diagnostics{sdk.Errorf(nil, "Invalid config", err.Error())}
	}
	var diags sdk.Diagnostics
	check := func(ok bool, attr, summary string) {
		if !ok && c.IsKnown(attr) {
			diags = append(diags, sdk.Errorf(cty.GetAttrPath(attr), summary, ""))
		}
	}
	check(cfg.Samples >= 10, "samples", "At least 10 samples are needed")
	check(cfg.Features >= 1, "features", "At least one feature is needed")
	check(cfg.TestFraction > 0 && cfg.TestFraction < 1, "test_fraction", "test_fraction must be between 0 and 1 (exclusive)")
	check(cfg.Steps >= 1, "steps", "At least one step is needed")
	check(cfg.LR > 0, "lr", "The learning rate must be positive")
	check(cfg.CheckpointEv >= 0, "checkpoint_every", "checkpoint_every must not be negative")
	check(cfg.Separation >= 0, "separation", "separation must not be negative")
	if c.IsKnown("samples") && cfg.Samples >= 10 && cfg.TestFraction > 0 && cfg.TestFraction < 1 {
		nTest := int(float64(cfg.Samples) * cfg.TestFraction)
		check(nTest >= 1 && cfg.Samples-nTest >= 1, "test_fraction", "test_fraction leaves no training or no test examples")
	}
	return diags
}

// Run generates the data, trains, evaluates and writes the artifacts.
func (*Plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg Config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	data := Generate(cfg, run.Seed)

	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()

	res, err := Train(ctx, backend, data, cfg, run.StateDir, run)
	if err != nil {
		return err
	}

	if err := writeWeights(run.Path("weights.json"), data, res); err != nil {
		return err
	}
	if err := run.Artifact("weights", "weights.json", "application/json"); err != nil {
		return err
	}
	if err := plotLoss(run.Path("loss_curve"), res.Losses); err != nil {
		return err
	}
	if err := run.Artifact("loss_curve_png", "loss_curve.png", "image/png"); err != nil {
		return err
	}
	if err := run.Artifact("loss_curve_svg", "loss_curve.svg", "image/svg+xml"); err != nil {
		return err
	}

	oracle := Accuracy(data.TestX, data.TestY, data.TrueW, data.TrueB, cfg.Features)
	run.Logf("trained %d steps: loss %.4f, held-out accuracy %.3f (true weights: %.3f)", cfg.Steps, res.FinalLoss, res.Accuracy, oracle)
	for name, v := range map[string]float64{"final_loss": res.FinalLoss, "accuracy": res.Accuracy, "oracle_accuracy": oracle} {
		if err := run.Output(name, cty.NumberFloatVal(v)); err != nil {
			return err
		}
	}
	return nil
}

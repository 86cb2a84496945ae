package pipeline

import (
	gocontext "context"
	"encoding/json"
	"os"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/copybench/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

func writeJSON(run *sdk.Run, name, rel string, v any) error {
	return run.WriteArtifact(name, rel, func(p string) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(p, append(b, '\n'), 0o644)
	})
}

func rateOutputs(prefix string, r Rates) map[string]cty.Value {
	return map[string]cty.Value{
		prefix + "literal_rate":   cty.NumberFloatVal(r.LiteralRate),
		prefix + "character_rate": cty.NumberFloatVal(r.CharRate),
		prefix + "event_rate":     cty.NumberFloatVal(r.EventRate),
		prefix + "mean_rouge_l":   cty.NumberFloatVal(r.MeanRouge),
	}
}

// RunPlanted is the planted mode: synthetic books, a tiny model trained on
// some, copying measured on trained and held-out books.
func RunPlanted(ctx gocontext.Context, run *sdk.Run, c planted.Config, s ml.Settings, d Decoding, version string) error {
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	books := planted.Make(c)
	model := run.Path("model.safetensors")
	r, err := Planted(ctx, backend, books, s, d, model, version, run)
	if err != nil {
		return err
	}
	if err := run.Artifact("model", "model.safetensors", ml.ModelMediaType); err != nil {
		return err
	}
	if err := writeJSON(run, "report", "report.json", r); err != nil {
		return err
	}
	out := rateOutputs("", r.Trained)
	for k, v := range rateOutputs("held_out_", r.HeldOut) {
		out[k] = v
	}
	out["final_loss"] = cty.NumberFloatVal(r.FinalLoss)
	return run.Outputs(out)
}

// RunEvaluate is the evaluate mode: a model artifact on the real CopyBench
// files. Its report holds item ids and scores, never the excerpts or the
// generations (which may copy them).
func RunEvaluate(run *sdk.Run, model string, o EvalOptions) error {
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	r, err := Evaluate(backend, model, o, run)
	if err != nil {
		return err
	}
	if err := writeJSON(run, "report", "report.json", r); err != nil {
		return err
	}
	out := rateOutputs("", r.Rates)
	out["qa_f1"] = cty.NumberFloatVal(r.Rates.QAF1)
	out["qa_em"] = cty.NumberFloatVal(r.Rates.QAExactMatch)
	return run.Outputs(out)
}

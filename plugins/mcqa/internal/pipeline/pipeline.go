// Package pipeline is the mcqa plugin's method, one function per mode:
// Planted trains the planted model (answer routed through one layer's
// last-position attention) and probes it; Probe loads a model artifact and
// probes it on the Colors task or planted questions. Both report the
// logit lens, activation patching, the layer that decides and the plots.
package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/mcqa/internal/colors"
	"github.com/shammie-ml/shammie/plugins/mcqa/internal/planted"
	"github.com/shammie-ml/shammie/plugins/mcqa/internal/probe"
	"github.com/shammie-ml/shammie/plugins/mcqa/internal/task"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Prompting says which prompts the probes run on.
type Prompting struct {
	Task    string // "colors" or "planted"
	Data    string // colors: memory_colors.csv
	Items   int    // planted: questions; colors: first N rows (0: all)
	Symbols string // "AB" or "CD"
	Layout  task.Layout
	Shots   int // in-context examples (taken from the items not probed)
	Ways    int // 2 or 4 options
}

// PlantedOptions of the planted mode.
type PlantedOptions struct {
	Layer   int
	Penalty float64
	Model   ml.Config
	Train   ml.TrainConfig
	Batch   int
	Prompt  Prompting
	Version string
}

// Planted trains the planted model, writes it and probes it.
func Planted(ctx context.Context, run *sdk.Run, o PlantedOptions) error {
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	gctx := gomlxctx.New()
	run.Logf("planted model: %d layers, d_model %d; the last position's attention output is kept only at layer L* = %d", o.Model.NumLayers, o.Model.DModel, o.Layer)
	m, loss, err := planted.Train(ctx, backend, gctx, planted.Options{Layer: o.Layer, Penalty: o.Penalty, Model: o.Model, Train: o.Train, Batch: o.Batch, Seed: run.Seed, Report: run})
	if err != nil {
		return err
	}
	if err := run.WriteArtifact("model", "model.safetensors", func(path string) error {
		return ml.SaveModel(path, gctx, m, ml.ByteTokenizer{}, map[string]string{"plugin": "mcqa " + o.Version, planted.MetaKey: fmt.Sprint(o.Layer)})
	}); err != nil {
		return err
	}
	// The probes run the model as saved: no mask.
	return probeModel(run, probe.Model{M: m, Ctx: gctx, Backend: backend}, o.Prompt, map[string]cty.Value{
		"final_loss": cty.NumberFloatVal(loss), "planted_layer": cty.NumberIntVal(int64(o.Layer))})
}

// Probe loads a model artifact and probes it.
func Probe(run *sdk.Run, modelPath string, p Prompting) error {
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	gctx := gomlxctx.New()
	lm, err := ml.LoadModel(backend, modelPath, gctx)
	if err != nil {
		return err
	}
	if lm.Transformer.Config.PrefixVocab > 0 {
		return fmt.Errorf("%s: models with a conditioning prefix are not supported", modelPath)
	}
	if _, ok := lm.Tokenizer.(ml.ByteTokenizer); !ok {
		return fmt.Errorf("%s: the probes need a byte tokenizer (the symbol is the next single byte)", modelPath)
	}
	return probeModel(run, probe.Model{M: lm.Transformer, Ctx: gctx, Backend: backend}, p, map[string]cty.Value{})
}

// items returns the questions probed, the in-context examples and each
// example's correct slot. Colors follows the reference's order (colors.Split);
// planted questions are drawn from the seed, examples first, their slots
// alternating.
func items(p Prompting, seed int64, ways int) (probed, shots []task.Item, slots []int, err error) {
	if p.Task == "planted" {
		its := planted.Items(uint64(seed)+7919, p.Items+p.Shots, p.Ways)
		for i := range p.Shots {
			slots = append(slots, i%ways)
		}
		return its[p.Shots:], its[:p.Shots], slots, nil
	}
	rows, err := colors.Load(p.Data)
	if err != nil {
		return nil, nil, nil, err
	}
	probed, shots, slots, err = colors.Split(colors.Items(rows), p.Shots)
	if err != nil {
		return nil, nil, nil, err
	}
	if p.Items > 0 && p.Items < len(probed) {
		probed = probed[:p.Items]
	}
	return probed, shots, slots, nil
}

// Report is the analysis artifact.
type Report struct {
	Task           string             `json:"task"`
	Symbols        string             `json:"symbols"`
	Shots          int                `json:"shots"`
	Patching       probe.PatchSummary `json:"patching"`
	LensProb       map[string]probe.LayerCurve
	LensOther      map[string]probe.LayerCurve
	LensLogit      map[string]probe.LayerCurve
	LensRR         map[string]probe.LayerCurve
	LensAccuracy   map[string]probe.LayerCurve
	HeadAccuracy   [][]float64
	HeadLogitDiff  [][]float64
	DecisiveLayer  int `json:"decisive_layer"`
	ResidFlipLayer int `json:"resid_flip_layer"`
	LensLayer      int `json:"lens_layer"`
}

func probeModel(run *sdk.Run, pm probe.Model, p Prompting, outs map[string]cty.Value) error {
	syms := task.SymbolsAB
	if p.Symbols == "CD" {
		syms = task.SymbolsCD
	}
	if p.Ways == 4 {
		syms = task.SymbolsABCD
	}
	its, examples, slots, err := items(p, run.Seed, len(syms))
	if err != nil {
		return err
	}
	var shots []task.Prompt
	for i, it := range examples {
		it.Distractors = it.Distractors[:len(syms)-1]
		s, err := task.Render(it, task.Rotate(len(syms), slots[i]), syms, p.Layout, nil)
		if err != nil {
			return err
		}
		shots = append(shots, s)
	}
	pairs, err := task.Pairs(its, syms, p.Layout, shots)
	if err != nil {
		return err
	}
	for _, pr := range pairs {
		if n := len(pr.Base.Text); n > pm.M.Config.MaxSeqLen {
			return fmt.Errorf("prompt of %d bytes exceeds the model's max_seq_len %d (train it with a larger seq): %q", n, pm.M.Config.MaxSeqLen, pr.Base.Text)
		}
	}
	L, H := pm.M.Config.NumLayers, pm.M.Config.NumHeads
	run.Logf("probing %d base/contrast pairs (%s task, symbols %s, %d-shot), e.g. %q", len(pairs), p.Task, p.Symbols, p.Shots, pairs[0].Base.Text)
	run.Progress("patching", 0, 2, "stages")
	prs, err := probe.Patch(pm, pairs)
	if err != nil {
		return err
	}
	ps := probe.SummarisePatching(prs, L)
	run.Progress("logit lens", 1, 2, "stages")
	var prompts []task.Prompt
	var answers []int
	for _, pr := range pairs {
		prompts, answers = append(prompts, pr.Base, pr.Contrast), append(answers, pr.Base.Answer, pr.Contrast.Answer)
	}
	lrs, err := probe.Lens(pm, prompts)
	if err != nil {
		return err
	}
	ls := probe.SummariseLens(lrs, L, H, answers)
	run.Progress("logit lens", 2, 2, "stages")
	rep := Report{Task: p.Task, Symbols: p.Symbols, Shots: p.Shots, Patching: ps,
		LensProb: ls.ProbCorrect, LensOther: ls.ProbOther, LensLogit: ls.LogitCorrect, LensRR: ls.RRCorrect, LensAccuracy: ls.Accuracy,
		HeadAccuracy: ls.HeadAccuracy, HeadLogitDiff: ls.HeadLogitDiff,
		DecisiveLayer: ps.DecisiveLayer(), ResidFlipLayer: ps.FirstAbove(probe.Resid, 0.5), LensLayer: ls.SeparationLayer(0.9)}
	run.Logf("decisive layer %d (attention patching %.2f); residual patching flips (≥ 0.5) from layer %d; lens separates from layer %d; accuracy %.2f, swap consistency %.2f",
		rep.DecisiveLayer, ps.NormLD[probe.Attn][rep.DecisiveLayer], rep.ResidFlipLayer, rep.LensLayer, ps.Accuracy, ps.Consistency)
	if err := run.WriteArtifact("analysis", "analysis.json", func(path string) error {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o644)
	}); err != nil {
		return err
	}
	if err := writePlots(run, ps, ls); err != nil {
		return err
	}
	nums := func(v []float64) cty.Value {
		out := make([]cty.Value, len(v))
		for i, x := range v {
			out[i] = cty.NumberFloatVal(x)
		}
		return cty.ListVal(out)
	}
	outs["decisive_layer"] = cty.NumberIntVal(int64(rep.DecisiveLayer))
	outs["resid_flip_layer"] = cty.NumberIntVal(int64(rep.ResidFlipLayer))
	outs["lens_layer"] = cty.NumberIntVal(int64(rep.LensLayer))
	outs["accuracy"] = cty.NumberFloatVal(ps.Accuracy)
	outs["swap_consistency"] = cty.NumberFloatVal(ps.Consistency)
	outs["patch_resid"] = nums(ps.NormLD[probe.Resid])
	outs["patch_attn"] = nums(ps.NormLD[probe.Attn])
	outs["patch_mlp"] = nums(ps.NormLD[probe.MLP])
	return run.Outputs(outs)
}

func writePlots(run *sdk.Run, ps probe.PatchSummary, ls probe.LensSummary) error {
	if err := run.WritePlot("plots/patching", []string{"plot_patching", "plot_patching_svg"}, func(base string) ([]string, error) {
		return plotPatching(ps, base)
	}); err != nil {
		return err
	}
	if err := run.WritePlot("plots/lens", []string{"plot_lens", "plot_lens_svg"}, func(base string) ([]string, error) {
		return plotHeat(lensGrid(ls), "Logit lens at the last token: p(correct) − p(other)", "0 resid · 1 attn · 2 mlp", base)
	}); err != nil {
		return err
	}
	return run.WritePlot("plots/lens_heads", []string{"plot_lens_heads", "plot_lens_heads_svg"}, func(base string) ([]string, error) {
		return plotHeat(headGrid(ls), "Per-head logit lens: logit(correct) − logit(other)", "head", base)
	})
}

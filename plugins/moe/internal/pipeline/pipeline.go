// Package pipeline is the moe plugin's method, one function per mode:
// Generate writes the planted two-domain corpus, Train trains the MoE LM on
// domain files and writes the model, the analyses and the plots. Each
// reports through the step's sdk.Run.
package pipeline

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/moe/internal/analysis"
	"github.com/shammie-ml/shammie/plugins/moe/internal/corpus"
	"github.com/shammie-ml/shammie/plugins/moe/internal/experiment"
	"github.com/shammie-ml/shammie/plugins/moe/internal/report"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Generate writes the planted corpus: bytesPerDomain bytes per domain.
func Generate(run *sdk.Run, bytesPerDomain int) error {
	data := corpus.Planted(run.Seed, bytesPerDomain)
	for _, name := range []string{"low", "high"} {
		if err := run.WriteArtifact(name, name+".bin", func(path string) error {
			return os.WriteFile(path, data[name], 0o644)
		}); err != nil {
			return err
		}
	}
	run.Logf("planted corpus: 2 domains × %d bytes (Markov chains over bytes 0–127 and 128–255, local move probability %.2f)", bytesPerDomain, corpus.PlantedLocal)
	return nil
}

// TrainOptions of the train mode.
type TrainOptions struct {
	Domains       map[string]string // domain name → text file
	MaxBytes      int               // per domain, 0: all
	EvalFrac      float64
	Reference     string // OLMoE's table, "" for none
	VocabMinCount int
	Experiment    experiment.Options
	Version       string // the plugin's, recorded in the model file
}

// Train trains the MoE LM and reports the analyses.
func Train(ctx context.Context, run *sdk.Run, o TrainOptions) error {
	domains, err := readDomains(o)
	if err != nil {
		return err
	}
	var ref analysis.Reference
	if o.Reference != "" {
		r, err := analysis.ParseReference(o.Reference)
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
	eo := o.Experiment
	run.Logf("MoE LM: %d layers, d_model %d, E=%d experts (hidden %d), top-%d, %d steps of %d×%d bytes on %d domains, backend %s",
		eo.Layers, eo.DModel, eo.MoE.Experts, eo.MoE.Hidden, eo.MoE.TopK, eo.Train.Steps, eo.Batch, eo.Seq, len(domains), run.Backend)
	res, err := experiment.Run(ctx, backend, domains, eo, run.StateDir, run)
	if err != nil {
		return err
	}
	sum, err := report.Analyse(res, o.VocabMinCount)
	if err != nil {
		return err
	}
	holds, hasPattern := false, false
	if text, h, ok := sum.OLMoEPattern(); ok {
		sum.Pattern, holds, hasPattern = text, h, true
	}
	files, err := report.Write(run.WorkDir, sum, ref)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := run.Artifact(f.Name, f.Rel, f.MediaType); err != nil {
			return err
		}
	}
	if err := run.WriteArtifact("model", "model.safetensors", func(path string) error {
		return ml.SaveModel(path, res.Ctx, res.Model, ml.ByteTokenizer{}, map[string]string{"plugin": "moe " + o.Version})
	}); err != nil {
		return err
	}
	run.Logf("%s", sum.Table(ref))

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
	return run.Outputs(outs)
}

// readDomains reads and splits the domain files, in name order.
func readDomains(o TrainOptions) ([]corpus.Domain, error) {
	names := make([]string, 0, len(o.Domains))
	for n := range o.Domains {
		names = append(names, n)
	}
	sort.Strings(names)
	minEval := o.Experiment.Seq * 2
	var domains []corpus.Domain
	for _, n := range names {
		data, err := os.ReadFile(o.Domains[n])
		if err != nil {
			return nil, fmt.Errorf("domain %q: %w", n, err)
		}
		if o.MaxBytes > 0 && len(data) > o.MaxBytes {
			data = data[:o.MaxBytes]
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("domain %q: %s is empty", n, o.Domains[n])
		}
		d, err := corpus.Split(n, o.Domains[n], data, o.EvalFrac, minEval)
		if err != nil {
			return nil, err
		}
		domains = append(domains, d)
	}
	return domains, nil
}

// Package pipeline is the merge plugin's modes: streamed merges of
// checkpoints (one per swept weight), planted checkpoints with a known
// ideal merge, Merge to Learn's Table 2 from the authors' results, and the
// planted train-then-merge experiment (train, evaluate). plugin.go decodes
// and validates the config and hands each mode its settings.
package pipeline

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/merge/internal/merging"
	"github.com/shammie-ml/shammie/plugins/merge/internal/operators"
	"github.com/shammie-ml/shammie/plugins/merge/internal/planted"
	"github.com/shammie-ml/shammie/plugins/merge/internal/report"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Merge is a merge step: the inputs and one operator spec per output.
type Merge struct {
	Method       string
	Base         string // θ₀; "" for methods without one
	Models       []string
	Reference    string           // "" for none; else every output's distance to it is measured
	Specs        []operators.Spec // one per output
	Sweep        []float64        // the swept weight of each spec; nil: one merge, artifact "model"
	Heuristic    float64          // ω = |D|/|G|, reported when HasHeuristic
	HasHeuristic bool
}

// RunMerge merges once (artifact model) or once per swept weight
// (artifacts sweep_<i> and sweep_manifest).
func RunMerge(ctx context.Context, run *sdk.Run, cfg Merge) error {
	type result struct {
		Weight   *float64  `json:"weight,omitempty"`
		Weights  []float64 `json:"weights"`
		Artifact string    `json:"artifact"`
		File     string    `json:"file"`
		Distance *float64  `json:"distance,omitempty"`
	}
	sweep := cfg.Sweep
	var extra map[string]string
	if operators.UsesBase(cfg.Method) {
		var err error
		if extra, err = mergedSteps(cfg.Base, cfg.Models); err != nil {
			return err
		}
	}
	var results []result
	var tensors int
	var params int64
	start := time.Now()
	points := cfg.Specs
	for i, spec := range points {
		name, file := "model", "model.safetensors"
		if len(sweep) > 0 {
			name, file = fmt.Sprintf("sweep_%d", i), fmt.Sprintf("sweep_%d.safetensors", i)
		}
		stage := fmt.Sprintf("merge %s (%d/%d)", name, i+1, len(points))
		job := merging.Job{Base: cfg.Base, Models: cfg.Models, Spec: spec, Out: run.Path(file), Metadata: extra,
			Progress: func(done, total int64) { run.Progress(stage, done>>20, total>>20, "MiB") }}
		st, err := merging.Run(ctx, job)
		if err != nil {
			return err
		}
		tensors, params = st.Tensors, st.Parameters
		r := result{Weights: spec.Weights, Artifact: name, File: file}
		if len(sweep) > 0 {
			r.Weight = &sweep[i]
		}
		if cfg.Reference != "" {
			d, err := merging.Distance(ctx, job.Out, cfg.Reference, cfg.Base)
			if err != nil {
				return err
			}
			r.Distance = &d
		}
		if err := run.Artifact(name, file, ml.ModelMediaType); err != nil {
			return err
		}
		run.Logf("%s: %s weights %v → %s (%d tensors, %.1f MiB read)%s", name, spec.Method, spec.Weights, file, st.Tensors,
			float64(st.BytesRead)/(1<<20), distanceNote(r.Distance))
		results = append(results, r)
	}
	var outs []error
	if cfg.HasHeuristic {
		outs = append(outs, run.Output("heuristic_weight", cty.NumberFloatVal(cfg.Heuristic)))
	}
	if len(sweep) == 0 {
		outs = append(outs, run.Output("weights", sdk.NumberList(results[0].Weights)))
		if d := results[0].Distance; d != nil {
			outs = append(outs, run.Output("distance", cty.NumberFloatVal(*d)))
		}
	} else {
		outs = append(outs, run.Output("sweep_weights", sdk.NumberList(sweep)))
		if cfg.Reference != "" {
			var ds []float64
			for _, r := range results {
				ds = append(ds, *r.Distance)
			}
			outs = append(outs, run.Output("distances", sdk.NumberList(ds)))
		}
		manifest := map[string]any{"method": cfg.Method, "base": cfg.Base, "models": cfg.Models, "results": results,
			"seconds": time.Since(start).Seconds()}
		if err := writeJSON(run.Path("sweep_manifest.json"), manifest); err != nil {
			return err
		}
		outs = append(outs, run.Artifact("sweep_manifest", "sweep_manifest.json", "application/json"))
	}
	outs = append(outs, run.Output("tensors", cty.NumberIntVal(int64(tensors))), run.Output("parameters", cty.NumberIntVal(params)))
	return errors.Join(outs...)
}

func distanceNote(d *float64) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf(", distance to reference %.4f", *d)
}

// RunGenerate writes planted checkpoints (pc's sizes; its directory, seed
// and progress are the run's) and their ideal merge.
func RunGenerate(ctx context.Context, run *sdk.Run, pc planted.Config) error {
	pc.Dir, pc.Seed = run.WorkDir, uint64(run.Seed)
	pc.Progress = func(done, total int64) { run.Progress("generate", done>>10, total>>10, "KiB") }
	set, err := planted.Generate(ctx, pc)
	if err != nil {
		return err
	}
	outs := []error{run.Artifact("base", "base.safetensors", "application/vnd.safetensors"),
		run.Artifact("ideal", "ideal.safetensors", "application/vnd.safetensors")}
	for i := range set.Models {
		outs = append(outs, run.Artifact(fmt.Sprintf("model_%d", i), fmt.Sprintf("model_%d.safetensors", i), "application/vnd.safetensors"))
	}
	run.Logf("planted %d skills (density %v, magnitude %v) with noise %v in %d tensors [%d, %d]: %.1f MiB per checkpoint",
		pc.Models, pc.Density, pc.Signal, pc.Noise, pc.Tensors, pc.Rows, pc.Cols, float64(set.Bytes)/(1<<20))
	outs = append(outs, run.Output("tensors", cty.NumberIntVal(int64(pc.Tensors))))
	return errors.Join(outs...)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// RunReport writes Table 2 and the trade-off plot of one skill (science,
// safety or coding) from the authors' results table.
func RunReport(ctx context.Context, run *sdk.Run, results, skill string) error {
	rows, err := report.Load(results, skill)
	if err != nil {
		return err
	}
	s, err := report.Summarize(rows, skill)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, _, err := report.Plot(rows, s, run.Path("tradeoff")); err != nil {
		return err
	}
	if err := writeTable(run.Path("table.csv"), rows); err != nil {
		return err
	}
	if err := writeJSON(run.Path("summary.json"), map[string]any{"summary": s, "results": results}); err != nil {
		return err
	}
	for name, c := range s.Paper {
		run.Logf("paper Table 2, %s: %s → General %.1f, %s %.1f", name, c.Key, c.General, skill, c.Skill)
	}
	for _, c := range s.Picks {
		run.Logf("%s: %s → General %.1f, %s %.1f", c.Rule, c.Key, c.General, skill, c.Skill)
	}
	for _, d := range s.Disagreements {
		run.Warnf("%s", d)
	}
	outs := []error{
		run.Artifact("summary", "summary.json", "application/json"),
		run.Artifact("table", "table.csv", "text/csv"),
		run.Artifact("plot_png", "tradeoff.png", "image/png"),
		run.Artifact("plot_svg", "tradeoff.svg", "image/svg+xml"),
		run.Output("rows", cty.NumberIntVal(int64(s.Rows))),
		run.Output("baseline_general", cty.NumberFloatVal(s.Baseline.General)),
		run.Output("baseline_skill", cty.NumberFloatVal(s.Baseline.Skill)),
	}
	for _, o := range []struct {
		name string
		c    report.Choice
	}{{"best_retrain", s.BestRT}, {"best_merge", s.BestMerge}, {"best_merge_by_validation", s.BestMergeVal}} {
		outs = append(outs, run.Output(o.name, cty.StringVal(o.c.Key)),
			run.Output(o.name+"_general", cty.NumberFloatVal(o.c.General)),
			run.Output(o.name+"_skill", cty.NumberFloatVal(o.c.Skill)))
	}
	return errors.Join(outs...)
}

func writeTable(path string, rows []report.Row) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"model_key", "recipe", "merge_method", "domain_model", "amount", "general_weight", "skill_weight", "general", "skill", "validation"})
	f := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', 4, 64)
	}
	for _, r := range rows {
		w.Write([]string{r.Key, r.Class, r.Method, r.Domain, strconv.Itoa(r.Amount), f(r.GeneralWeight), f(r.SkillWeight), f(r.General), f(r.Skill), f(r.Validation)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

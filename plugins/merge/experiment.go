package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/merge/internal/sft"
	"github.com/shammie-ml/shammie/plugins/merge/internal/skills"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// runTrain trains one model of the planted experiment.
func runTrain(ctx context.Context, run *sdk.Run, cfg Config) error {
	backend, err := ml.OpenBackend(run.Backend)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	o := sft.Options{Init: cfg.Init, Objective: cfg.Objective, Tasks: cfg.Tasks, Examples: cfg.Examples, Mixture: cfg.MixtureBytes,
		DModel: cfg.DModel, Heads: cfg.Heads, Layers: cfg.Layers, Seq: cfg.Seq, Steps: cfg.Steps, Batch: cfg.Batch, LR: cfg.LR,
		Warmup: cfg.Warmup, Seed: run.Seed, Out: run.Path("model.safetensors"), StateDir: run.StateDir,
		Meta: map[string]string{"plugin": "merge " + sdk.BuildVersion(version), "train.tasks": strings.Join(cfg.Tasks, ",")}}
	res, err := sft.Train(ctx, backend, o, run)
	if err != nil {
		return err
	}
	run.Logf("%s on %v: %d steps (%d from scratch), final loss %.4f", cfg.Objective, cfg.Tasks, res.Steps, res.TotalSteps, res.FinalLoss)
	return errors.Join(
		run.Artifact("model", "model.safetensors", ml.ModelMediaType),
		run.Output("train_steps", cty.NumberIntVal(int64(res.Steps))),
		run.Output("total_steps", cty.NumberIntVal(int64(res.TotalSteps))),
		run.Output("final_loss", cty.NumberFloatVal(res.FinalLoss)),
	)
}

// mergedSteps is the training cost of a merge: the base's steps plus each
// model's own (its steps minus the base's), when every input records them.
func mergedSteps(base string, models []string) (map[string]string, error) {
	steps := func(path string) (int, bool, error) {
		f, err := ml.OpenSafetensors(path)
		if err != nil {
			return 0, false, err
		}
		defer f.Close()
		s, ok := f.Metadata[sft.StepsKey]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(s)
		return n, err == nil, nil
	}
	if base == "" {
		return nil, nil
	}
	b, ok, err := steps(base)
	if err != nil || !ok {
		return nil, err
	}
	total := b
	for _, m := range models {
		n, ok, err := steps(m)
		if err != nil || !ok {
			return nil, err
		}
		total += n - b
	}
	return map[string]string{sft.StepsKey: strconv.Itoa(total)}, nil
}

// runEvaluate scores every candidate and draws the trade-off plot.
func runEvaluate(ctx context.Context, run *sdk.Run, cfg Config) error {
	backend, err := ml.OpenBackend(run.Backend)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	tasks := cfg.Tasks
	if len(tasks) == 0 {
		tasks = skills.Names
	}
	general, skill := cfg.GeneralTasks, cfg.SkillTasks
	if len(general) == 0 {
		general = []string{"A", "B"}
	}
	if len(skill) == 0 {
		skill = []string{"C"}
	}
	for _, t := range append(slices.Clone(general), skill...) {
		if !slices.Contains(tasks, t) {
			tasks = append(tasks, t)
		}
	}
	labels := make([]string, 0, len(cfg.Candidates))
	for l := range cfg.Candidates {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	scores := map[string]sft.Score{}
	var points []sft.Point
	genOut, skillOut, stepsOut := map[string]cty.Value{}, map[string]cty.Value{}, map[string]cty.Value{}
	var table strings.Builder
	table.WriteString("model,steps," + strings.Join(tasks, ",") + ",general,skill\n")
	for i, l := range labels {
		if err := ctx.Err(); err != nil {
			return err
		}
		run.Progress("evaluate", int64(i), int64(len(labels)), "models")
		sc, err := sft.Evaluate(backend, cfg.Candidates[l], tasks, cfg.EvalExamples, uint64(run.Seed))
		if err != nil {
			return fmt.Errorf("candidate %q: %w", l, err)
		}
		scores[l] = sc
		pt := sft.Point{Label: l, General: mean(sc.Accuracy, general), Skill: mean(sc.Accuracy, skill), Steps: sc.Steps}
		points = append(points, pt)
		genOut[l], skillOut[l], stepsOut[l] = cty.NumberFloatVal(pt.General), cty.NumberFloatVal(pt.Skill), cty.NumberIntVal(int64(sc.Steps))
		table.WriteString(fmt.Sprintf("%s,%d", l, sc.Steps))
		for _, t := range tasks {
			table.WriteString(fmt.Sprintf(",%.2f", sc.Accuracy[t]))
		}
		table.WriteString(fmt.Sprintf(",%.2f,%.2f\n", pt.General, pt.Skill))
		run.Logf("%-14s %5d steps  General %5.1f  skill %5.1f  %v", l, sc.Steps, pt.General, pt.Skill, sc.Accuracy)
	}
	run.Progress("evaluate", int64(len(labels)), int64(len(labels)), "models")
	if _, _, err := sft.Plot(points, "Planted skills: General (A, B) vs skill (C)", run.Path("tradeoff")); err != nil {
		return err
	}
	if err := os.WriteFile(run.Path("table.csv"), []byte(table.String()), 0o644); err != nil {
		return err
	}
	if err := writeJSON(run.Path("summary.json"), map[string]any{"scores": scores, "general_tasks": general, "skill_tasks": skill,
		"eval_examples": cfg.EvalExamples, "candidates": cfg.Candidates}); err != nil {
		return err
	}
	return errors.Join(
		run.Artifact("summary", "summary.json", "application/json"),
		run.Artifact("table", "table.csv", "text/csv"),
		run.Artifact("plot_png", "tradeoff.png", "image/png"),
		run.Artifact("plot_svg", "tradeoff.svg", "image/svg+xml"),
		run.Output("general", cty.MapVal(genOut)),
		run.Output("skill", cty.MapVal(skillOut)),
		run.Output("steps", cty.MapVal(stepsOut)),
	)
}

func mean(acc map[string]float64, tasks []string) float64 {
	if len(tasks) == 0 {
		return math.NaN()
	}
	var s float64
	for _, t := range tasks {
		s += acc[t]
	}
	return s / float64(len(tasks))
}

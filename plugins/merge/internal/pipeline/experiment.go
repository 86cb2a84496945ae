package pipeline

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

	"github.com/shammie-ml/shammie/plugins/merge/internal/merging"
	"github.com/shammie-ml/shammie/plugins/merge/internal/sft"
	"github.com/shammie-ml/shammie/plugins/merge/internal/skills"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// RunTrain trains one model of the planted experiment: o without its
// seed, output, state directory and metadata, which are the run's;
// version is the plugin's, recorded in the model.
func RunTrain(ctx context.Context, run *sdk.Run, o sft.Options, version string) error {
	backend, err := ml.OpenBackend(run.Backend)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	o.Seed, o.Out, o.StateDir = run.Seed, run.Path("model.safetensors"), run.StateDir
	o.Meta = map[string]string{"plugin": "merge " + version, "train.tasks": strings.Join(o.Tasks, ",")}
	res, err := sft.Train(ctx, backend, o, run)
	if err != nil {
		return err
	}
	run.Logf("%s on %v: %d steps (%d from scratch), final loss %.4f", o.Objective, o.Tasks, res.Steps, res.TotalSteps, res.FinalLoss)
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

// Evaluate is an evaluate step.
type Evaluate struct {
	Candidates   map[string]string // label → model artifact
	Tasks        []string          // scored (default all), plus every general and skill task
	GeneralTasks []string          // averaged into General (default A, B)
	SkillTasks   []string          // averaged into the skill score (default C)
	Examples     int               // held-out examples per task
	// Base, if set, is θ₀: every candidate's task vector θ − θ₀ is measured
	// (its norm relative to ‖θ₀‖, the cosine between every two).
	Base string
}

// RunEvaluate scores every candidate and draws the trade-off plot.
func RunEvaluate(ctx context.Context, run *sdk.Run, cfg Evaluate) error {
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
		sc, err := sft.Evaluate(backend, cfg.Candidates[l], tasks, cfg.Examples, uint64(run.Seed))
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
	summary := map[string]any{"scores": scores, "general_tasks": general, "skill_tasks": skill,
		"eval_examples": cfg.Examples, "candidates": cfg.Candidates}
	var outs []error
	if cfg.Base != "" {
		tv, err := taskVectors(ctx, run, cfg.Base, labels, cfg.Candidates)
		if err != nil {
			return err
		}
		summary["task_vectors"] = tv
		outs = append(outs, run.Output("task_vector_norm", tv.normsValue()))
	}
	if err := writeJSON(run.Path("summary.json"), summary); err != nil {
		return err
	}
	return errors.Join(append(outs,
		run.Artifact("summary", "summary.json", "application/json"),
		run.Artifact("table", "table.csv", "text/csv"),
		run.Artifact("plot_png", "tradeoff.png", "image/png"),
		run.Artifact("plot_svg", "tradeoff.svg", "image/svg+xml"),
		run.Output("general", cty.MapVal(genOut)),
		run.Output("skill", cty.MapVal(skillOut)),
		run.Output("steps", cty.MapVal(stepsOut)),
	)...)
}

// vectorReport is the task vectors of an evaluate step's candidates.
type vectorReport struct {
	Base     string                        `json:"base"`
	BaseNorm float64                       `json:"base_norm"`
	Relative map[string]float64            `json:"relative_norm"` // ‖θ − θ₀‖/‖θ₀‖
	Cosine   map[string]map[string]float64 `json:"cosine"`        // between task vectors
}

func (v vectorReport) normsValue() cty.Value {
	m := map[string]cty.Value{}
	for l, x := range v.Relative {
		m[l] = cty.NumberFloatVal(x)
	}
	if len(m) == 0 {
		return cty.MapValEmpty(cty.Number)
	}
	return cty.MapVal(m)
}

// taskVectors measures every candidate's task vector against base and
// logs the norms and the general/skill cosine (Merge to Learn's premise:
// small, nearly orthogonal task vectors add without interfering).
func taskVectors(ctx context.Context, run *sdk.Run, base string, labels []string, cands map[string]string) (vectorReport, error) {
	var ls, paths []string
	for _, l := range labels {
		if cands[l] != base {
			ls, paths = append(ls, l), append(paths, cands[l])
		}
	}
	st, err := merging.TaskVectors(ctx, base, paths)
	if err != nil {
		return vectorReport{}, fmt.Errorf("task vectors: %w", err)
	}
	v := vectorReport{Base: base, BaseNorm: st.BaseNorm, Relative: map[string]float64{}, Cosine: map[string]map[string]float64{}}
	for i, l := range ls {
		v.Relative[l] = st.Norms[i] / st.BaseNorm
		v.Cosine[l] = map[string]float64{}
		for j, m := range ls {
			v.Cosine[l][m] = st.Cosine[i][j]
		}
		run.Logf("task vector %-14s ‖θ − θ₀‖/‖θ₀‖ = %.4f", l, v.Relative[l])
	}
	if c, ok := v.Cosine["general"]["skill"]; ok {
		run.Logf("cos(general − base, skill − base) = %.4f", c)
	}
	return v, nil
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

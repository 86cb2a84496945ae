package main

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

func TestMetadataAndSchema(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	md := h.Metadata()
	if md.Name != "merge" || md.Version != sdk.BuildVersion(version) || !slices.Contains(md.Backends, "go") {
		t.Errorf("metadata %+v", md)
	}
	s := h.Schema()
	for _, a := range s.Config.Attributes {
		if a.Description == "" {
			t.Errorf("attribute %s has no description", a.Name)
		}
	}
	if len(s.Outputs) == 0 || len(s.Artifacts) != 8+maxSweep+maxPlantedModels {
		t.Errorf("%d outputs, %d artifacts declared", len(s.Outputs), len(s.Artifacts))
	}
}

// checkpoints writes small checkpoints: base, two fine-tuned models, and
// models that do not fit them.
func checkpoints(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	write := func(name string, ts ...ml.NamedTensor) {
		p := filepath.Join(dir, name+".safetensors")
		if err := ml.WriteSafetensors(p, ts, nil); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	f32 := func(name string, v []float32, dims ...int) ml.NamedTensor {
		return ml.NamedTensor{Name: name, Tensor: tensors.FromFlatDataAndDimensions(v, dims...)}
	}
	write("base", f32("w", []float32{1, 1, 1, 1}, 2, 2), f32("g", []float32{1, 1}, 2))
	write("a", f32("w", []float32{2, 0, 1, 4}, 2, 2), f32("g", []float32{1, 2}, 2))
	write("b", f32("w", []float32{0, 3, 1, 2}, 2, 2), f32("g", []float32{3, 1}, 2))
	write("wide", f32("w", []float32{1, 1, 1, 1, 1, 1}, 2, 3), f32("g", []float32{1, 1}, 2))
	write("missing", f32("w", []float32{1, 1, 1, 1}, 2, 2))
	write("f64", f32("w", []float32{1, 1, 1, 1}, 2, 2), ml.NamedTensor{Name: "g", Tensor: tensors.FromFlatDataAndDimensions([]float64{1, 1}, 2)})
	p := filepath.Join(dir, "junk.safetensors")
	os.WriteFile(p, []byte("not a checkpoint"), 0o644)
	out["junk"] = p
	return out
}

func TestValidateConfig(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	c := checkpoints(t)
	ab := []string{c["a"], c["b"]}
	tests := []struct {
		name string
		cfg  map[string]any
		want []string // attribute paths of the errors, in order
	}{
		{"task arithmetic", map[string]any{"base": c["base"], "models": ab, "weights": []float64{1, 0.6}}, nil},
		{"linear, default weights", map[string]any{"method": "linear", "models": ab}, nil},
		{"ties sweep and heuristic", map[string]any{"method": "ties", "base": c["base"], "models": ab, "sweep": []float64{0.2, 0.5}, "general_examples": 1000, "skill_examples": 220}, nil},
		{"unknown method", map[string]any{"method": "slerp", "models": ab}, []string{"method"}},
		{"no models", map[string]any{"base": c["base"], "models": []string{}}, []string{"models"}},
		{"no base", map[string]any{"models": ab}, []string{"base"}},
		{"different architecture", map[string]any{"base": c["base"], "models": []string{c["a"], c["wide"]}}, []string{"models[1]"}},
		{"missing tensor", map[string]any{"base": c["base"], "models": []string{c["missing"], c["b"]}}, []string{"models[0]"}},
		{"dtype mismatch", map[string]any{"base": c["f64"], "models": ab}, []string{"models[0]", "models[1]"}},
		{"not safetensors", map[string]any{"base": c["junk"], "models": ab}, []string{"base"}},
		{"file not found", map[string]any{"base": c["base"], "models": []string{c["a"], c["a"] + ".nope"}}, []string{"models[1]"}},
		{"linear weights do not sum to 1", map[string]any{"method": "linear", "models": ab, "weights": []float64{0.5, 0.6}}, []string{"weights"}},
		{"weights count", map[string]any{"base": c["base"], "models": ab, "weights": []float64{1}}, []string{"weights"}},
		{"wise_ft two models", map[string]any{"method": "wise_ft", "base": c["base"], "models": ab}, []string{"models"}},
		{"wise_ft alpha", map[string]any{"method": "wise_ft", "base": c["base"], "models": []string{c["a"]}, "weights": []float64{1.5}}, []string{"weights"}},
		{"wise_ft sweep value", map[string]any{"method": "wise_ft", "base": c["base"], "models": []string{c["a"]}, "sweep": []float64{0.5, 1.2}}, []string{"sweep[1]"}},
		{"linear sweep of three", map[string]any{"method": "linear", "models": []string{c["a"], c["b"], c["base"]}, "sweep": []float64{0.5}}, []string{"sweep"}},
		{"density", map[string]any{"method": "ties", "base": c["base"], "models": ab, "density": 0}, []string{"density"}},
		{"drop rate", map[string]any{"method": "dare", "base": c["base"], "models": ab, "drop_rate": 1}, []string{"drop_rate"}},
		{"heuristic half set", map[string]any{"base": c["base"], "models": ab, "skill_examples": 10}, []string{"general_examples"}},
		{"report", map[string]any{"mode": "report", "results": c["a"]}, nil},
		{"report, no table", map[string]any{"mode": "report"}, []string{"results"}},
		{"report, bad skill", map[string]any{"mode": "report", "results": c["a"], "skill": "poetry"}, []string{"skill"}},
		{"generate", map[string]any{"mode": "generate"}, nil},
		{"generate, too many models", map[string]any{"mode": "generate", "n_models": 5}, []string{"n_models"}},
		{"generate, dense skills", map[string]any{"mode": "generate", "planted_density": 0.5}, []string{"planted_density"}},
		{"train lm", map[string]any{"mode": "train", "objective": "lm"}, nil},
		{"train sft without tasks", map[string]any{"mode": "train"}, []string{"tasks"}},
		{"train unknown task", map[string]any{"mode": "train", "tasks": []string{"A", "Z"}}, []string{"tasks[1]"}},
		{"train notation task", map[string]any{"mode": "train", "tasks": []string{"a"}}, []string{"tasks[0]"}},
		{"train replay", map[string]any{"mode": "train", "tasks": []string{"A"}, "replay": -1}, []string{"replay"}},
		{"train init not a model", map[string]any{"mode": "train", "tasks": []string{"A"}, "init": c["a"]}, []string{"init"}},
		{"train heads", map[string]any{"mode": "train", "objective": "lm", "d_model": 30, "heads": 4}, []string{"heads"}},
		{"train lr", map[string]any{"mode": "train", "objective": "lm", "lr": 0}, []string{"lr"}},
		{"train unknown init", map[string]any{"mode": "train", "tasks": []string{"C"}, "init": cty.UnknownVal(cty.String), "steps": 0}, []string{"steps"}},
		{"evaluate no candidates", map[string]any{"mode": "evaluate"}, []string{"candidates"}},
		{"evaluate base not a model", map[string]any{"mode": "evaluate", "base": c["a"], "candidates": map[string]any{"x": cty.UnknownVal(cty.String)}}, []string{"base"}},
		{"evaluate notation tasks", map[string]any{"mode": "evaluate", "tasks": []string{"a", "C", "q"}, "candidates": map[string]any{"x": cty.UnknownVal(cty.String)}}, []string{"tasks[2]"}},
		{"evaluate not a model", map[string]any{"mode": "evaluate", "candidates": map[string]any{"x": c["a"]}}, []string{`candidates["x"]`}},
		{"evaluate unknown candidate", map[string]any{"mode": "evaluate", "candidates": map[string]any{"x": cty.UnknownVal(cty.String)}, "skill_tasks": []string{"D"}}, []string{"skill_tasks[0]"}},
		{"mode", map[string]any{"mode": "guess"}, []string{"mode"}},
		// Values from steps not run yet are unknown: their checks wait.
		{"unknown model", map[string]any{"base": c["base"], "models": []any{c["a"], cty.UnknownVal(cty.String)}}, nil},
		{"unknown model, wide other", map[string]any{"base": c["base"], "models": []any{cty.UnknownVal(cty.String), c["wide"]}}, []string{"models[1]"}},
		{"unknown models list", map[string]any{"base": c["base"], "models": cty.UnknownVal(cty.List(cty.String)), "density": 2, "method": "ties"}, []string{"density"}},
		{"unknown weights", map[string]any{"method": "linear", "models": ab, "weights": cty.UnknownVal(cty.List(cty.Number))}, nil},
		{"unknown base", map[string]any{"base": cty.UnknownVal(cty.String), "models": []string{c["a"], c["wide"]}}, []string{"models[1]"}},
		{"unknown method", map[string]any{"method": cty.UnknownVal(cty.String), "models": []string{}}, nil},
		{"unknown mode", map[string]any{"mode": cty.UnknownVal(cty.String), "n_models": 9}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range h.Validate(tc.cfg) {
				if d.Severity == sdk.SeverityError {
					got = append(got, sdk.FormatPath(d.Path))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error paths (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBadInputWritesNothing: a run with models of different architecture
// fails before anything is written.
func TestBadInputWritesNothing(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	c := checkpoints(t)
	work := t.TempDir()
	res := h.Run(map[string]any{"base": c["base"], "models": []string{c["a"], c["wide"]}}, plugintest.WithWorkDir(work))
	if res.Succeeded() {
		t.Fatal("merging models of different architecture succeeded")
	}
	if msg := res.Status.Message; !strings.Contains(msg, "models[1]") || !strings.Contains(msg, `"w"`) {
		t.Errorf("error %q should name the attribute and the tensor", msg)
	}
	ents, _ := os.ReadDir(work)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".safetensors") || strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("%s written", e.Name())
		}
	}
}

func TestMergeRun(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	c := checkpoints(t)
	res := h.Run(map[string]any{"base": c["base"], "models": []string{c["a"], c["b"]}, "weights": []float64{1, 0.5}})
	res.RequireSuccess(t)
	got, meta, err := ml.ReadSafetensors(res.Artifact(t, "model").Path)
	if err != nil {
		t.Fatal(err)
	}
	// θ₀ + δ_a + 0.5·δ_b: w = [1.5 1 1 4.5], g = [1 1] + [0 1] + 0.5·[2 0].
	if diff := cmp.Diff([]float32{1.5, 1, 1, 4.5}, tensors.MustCopyFlatData[float32](got["w"])); diff != "" {
		t.Errorf("w (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float32{2, 2}, tensors.MustCopyFlatData[float32](got["g"])); diff != "" {
		t.Errorf("g (-want +got):\n%s", diff)
	}
	if meta["merge.method"] != "task_arithmetic" {
		t.Errorf("metadata %v", meta)
	}
	if w := res.Output(t, "weights"); !w.Equals(cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberFloatVal(0.5)})).True() {
		t.Errorf("weights output %#v", w)
	}
	// The |D|/|G| heuristic: 250 skill examples against 1000 general ones
	// give the skill weight 0.25 when no weights are given.
	heur := h.Run(map[string]any{"base": c["base"], "models": []string{c["a"], c["b"]}, "general_examples": 1000, "skill_examples": 250})
	heur.RequireSuccess(t)
	if hw := heur.Float(t, "heuristic_weight"); hw != 0.25 {
		t.Errorf("heuristic weight %v", hw)
	}
	got, _, err = ml.ReadSafetensors(heur.Artifact(t, "model").Path)
	if err != nil {
		t.Fatal(err)
	}
	// θ₀ + δ_a + 0.25·δ_b = [1 1 1 1] + [1 −1 0 3] + 0.25·[−1 2 0 1].
	if diff := cmp.Diff([]float32{1.75, 0.5, 1, 4.25}, tensors.MustCopyFlatData[float32](got["w"])); diff != "" {
		t.Errorf("heuristic merge w (-want +got):\n%s", diff)
	}
}

// TestPlantedSweep is specs/merge.hcl's planted part in small: generate
// three skills, merge with task arithmetic over a weight sweep and with
// TIES; distances to the ideal merge are smallest at weight 1 for task
// arithmetic and smaller still with TIES.
func TestPlantedSweep(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	gen := h.Run(map[string]any{"mode": "generate", "n_models": 3, "tensors": 4, "rows": 32, "cols": 32, "planted_noise": 0.1}, plugintest.WithSeed(2))
	gen.RequireSuccess(t)
	base, ideal := gen.Artifact(t, "base").Path, gen.Artifact(t, "ideal").Path
	models := []string{gen.Artifact(t, "model_0").Path, gen.Artifact(t, "model_1").Path, gen.Artifact(t, "model_2").Path}

	ta := h.Run(map[string]any{"base": base, "models": models, "sweep": []float64{0, 0.5, 1, 1.5}, "reference": ideal})
	ta.RequireSuccess(t)
	var ds []float64
	for _, v := range ta.Output(t, "distances").AsValueSlice() {
		f, _ := v.AsBigFloat().Float64()
		ds = append(ds, f)
	}
	if len(ds) != 4 || slices.Index(ds, slices.Min(ds)) != 2 {
		t.Errorf("task arithmetic distances %v: the planted weight 1 should be best", ds)
	}
	var manifest struct {
		Results []struct {
			Weight   float64
			Artifact string
			Weights  []float64
		}
	}
	b, _ := os.ReadFile(ta.Artifact(t, "sweep_manifest").Path)
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Results) != 4 || manifest.Results[3].Artifact != "sweep_3" || !slices.Equal(manifest.Results[3].Weights, []float64{1, 1, 1.5}) {
		t.Errorf("manifest %s", b)
	}
	ties := h.Run(map[string]any{"method": "ties", "base": base, "models": models, "normalize": false, "reference": ideal})
	ties.RequireSuccess(t)
	if d := ties.Float(t, "distance"); !(d < ds[2]) {
		t.Errorf("TIES distance %v, task arithmetic at weight 1: %v", d, ds[2])
	}
	dare := h.Run(map[string]any{"method": "dare", "base": base, "models": models, "drop_rate": 0.5, "reference": ideal}, plugintest.WithSeed(9))
	dare.RequireSuccess(t)
	again := h.Run(map[string]any{"method": "dare", "base": base, "models": models, "drop_rate": 0.5, "reference": ideal}, plugintest.WithSeed(9))
	again.RequireSuccess(t)
	if d1, d2 := dare.Float(t, "distance"), again.Float(t, "distance"); d1 != d2 || math.IsNaN(d1) {
		t.Errorf("DARE with one seed gave distances %v and %v", d1, d2)
	}
}

// TestReportRun: report mode on the authors' table (skipped without it).
func TestReportRun(t *testing.T) {
	dir := shareddata.Path(t, "merge_to_learn")
	h := plugintest.New(t, &Plugin{})
	res := h.Run(map[string]any{"mode": "report", "results": filepath.Join(dir, "merge_results_consistent_mix.csv")})
	res.RequireSuccess(t)
	round1 := func(name string) float64 { return math.Round(res.Float(t, name)*10) / 10 }
	got := [6]float64{round1("baseline_general"), round1("baseline_skill"), round1("best_retrain_general"), round1("best_retrain_skill"),
		round1("best_merge_general"), round1("best_merge_skill")}
	if want := [6]float64{49.9, 27.9, 50.6, 37.8, 47.1, 38.2}; got != want {
		t.Errorf("Table 2 %v, paper %v", got, want)
	}
	if k := res.Output(t, "best_merge_by_validation").AsString(); !strings.HasSuffix(k, "science_2500_0.5") {
		t.Errorf("best merge by validation %s", k)
	}
	f, err := os.Open(res.Artifact(t, "plot_png").Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("plot_png: %v", err)
	}
}

// TestPlantedExperimentPlumbing is specs/merge.hcl's planted experiment at
// toy size (a few steps, so no skill is learnt): models travel between
// steps as artifacts, a merge of trained models loads as a model, its
// training cost is the base's steps plus each input's own, and evaluate
// scores every candidate and plots them.
func TestPlantedExperimentPlumbing(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	small := map[string]any{"d_model": 16, "heads": 2, "layers": 1, "seq": 12, "batch": 4, "warmup": 0}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{"mode": "train"}
		for k, v := range small {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	base := h.Run(with(map[string]any{"objective": "lm", "steps": 3, "mixture_bytes": 4000}), plugintest.WithSeed(1))
	base.RequireSuccess(t)
	b := base.Artifact(t, "model").Path
	general := h.Run(with(map[string]any{"init": b, "tasks": []string{"A", "B"}, "steps": 2, "examples": 50, "replay": 10}), plugintest.WithSeed(1))
	general.RequireSuccess(t)
	skill := h.Run(with(map[string]any{"init": b, "tasks": []string{"C"}, "steps": 4, "examples": 50}), plugintest.WithSeed(1))
	skill.RequireSuccess(t)
	if s := skill.Float(t, "total_steps"); s != 7 {
		t.Errorf("skill total_steps %v, want 3 + 4", s)
	}
	g, s := general.Artifact(t, "model").Path, skill.Artifact(t, "model").Path
	merged := h.Run(map[string]any{"base": b, "models": []string{g, s}, "sweep": []float64{0.5, 1}})
	merged.RequireSuccess(t)
	ev := h.Run(map[string]any{"mode": "evaluate", "eval_examples": 4, "base": b, "tasks": []string{"A", "c"}, "candidates": map[string]any{
		"base": b, "general": g, "skill": s, "merge_0.5": merged.Artifact(t, "sweep_0").Path, "merge_1": merged.Artifact(t, "sweep_1").Path}})
	ev.RequireSuccess(t)
	steps := ev.Output(t, "steps").AsValueMap()
	got := map[string]float64{}
	for k, v := range steps {
		got[k], _ = v.AsBigFloat().Float64()
	}
	if diff := cmp.Diff(map[string]float64{"base": 3, "general": 5, "skill": 7, "merge_0.5": 9, "merge_1": 9}, got); diff != "" {
		t.Errorf("training steps (-want +got):\n%s", diff)
	}
	norms := ev.Output(t, "task_vector_norm").AsValueMap()
	if _, ok := norms["base"]; ok || len(norms) != 4 {
		t.Errorf("task vector norms of %v, want every candidate but the base", norms)
	}
	for k, v := range norms {
		if f, _ := v.AsBigFloat().Float64(); !(f > 0 && f < 1) {
			t.Errorf("%s: ‖θ − θ₀‖/‖θ₀‖ = %v, want in (0, 1) after a few steps", k, f)
		}
	}
	for _, v := range ev.Output(t, "general").AsValueMap() {
		if f, _ := v.AsBigFloat().Float64(); f < 0 || f > 100 {
			t.Errorf("General %v outside [0, 100]", f)
		}
	}
	if _, err := os.Stat(ev.Artifact(t, "plot_png").Path); err != nil {
		t.Error(err)
	}
	// A merge of a model artifact with a checkpoint of another shape is a
	// config error at the offending model.
	wide := h.Run(with(map[string]any{"objective": "lm", "steps": 1, "d_model": 32, "mixture_bytes": 4000}))
	wide.RequireSuccess(t)
	var paths []string
	for _, d := range h.Validate(map[string]any{"base": b, "models": []string{g, wide.Artifact(t, "model").Path}}) {
		paths = append(paths, sdk.FormatPath(d.Path))
	}
	if !slices.Equal(paths, []string{"models[1]"}) {
		t.Errorf("diagnostics at %v, want models[1]", paths)
	}
}

package sft

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shammie-ml/shammie/plugins/merge/internal/merging"
	"github.com/shammie-ml/shammie/plugins/merge/internal/operators"
	"github.com/shammie-ml/shammie/plugins/merge/internal/skills"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

func envI(k string, d int) int {
	if v := os.Getenv(k); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", k, v, err))
		}
		return n
	}
	return d
}
func envF(k string, d float64) float64 {
	if v := os.Getenv(k); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", k, v, err))
		}
		return n
	}
	return d
}

// TestReducedExperiment is specs/merge.hcl's part 2 without the host, for
// trying settings quickly: MERGE_EXPERIMENT names a directory (models are
// kept there and reused by name, so variants can share a base); BASE, GS,
// CS, RS (steps of base, general, skill, retraining; defaults as the spec), BLR, LR, CLR
// (learning rates), REPLAY, D, L, MIX, WU, EVAL and TAG (a suffix naming a
// variant's models) override the defaults; EXTRA=1 adds skills.Extra to pre-training and replay (model "base_extra"; EXTRA=IPL only those); CONT=1 adds continued
// fine-tuning and retraining. It prints task-vector norms and cosine and
// every model's exact match on A, B, C and the notation tasks a, b, c.
// Not part of make test (minutes even at these sizes).
//
//	MERGE_EXPERIMENT=/tmp/m CLR=1e-4 TAG=slow go test -run TestReducedExperiment -v ./internal/sft
func TestReducedExperiment(t *testing.T) {
	dir := os.Getenv("MERGE_EXPERIMENT")
	if dir == "" {
		t.Skip("set MERGE_EXPERIMENT to a directory to run the reduced planted experiment")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := envI("D", 64)
	start := time.Now()
	train := func(name, init string, obj string, tasks []string, steps int, lr float64, seed int64) string {
		out := filepath.Join(dir, name+".safetensors")
		if _, err := os.Stat(out); err == nil {
			return out
		}
		t0 := time.Now()
		o := Options{Init: init, Objective: obj, Tasks: tasks, Examples: 2000, Mixture: envI("MIX", 200000), DModel: d, Heads: 4,
			Layers: envI("L", 2), Seq: 16, Steps: steps, Batch: 32, LR: lr, Warmup: envI("WU", 20), Seed: seed, Out: out, Replay: envI("REPLAY", 1000), Extra: extraEnv()}
		res, err := Train(ctx, backend, o, sdk.Discard)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%s: %d steps loss %.4f in %v\n", name, res.Steps, res.FinalLoss, time.Since(t0).Round(time.Second))
		return out
	}
	tag := os.Getenv("TAG")
	bname := "base"
	if os.Getenv("EXTRA") != "" {
		bname = "base_extra"
		if e := os.Getenv("EXTRA"); e != "1" {
			bname += e
		}
	}
	if b := os.Getenv("BASE"); b != "" {
		bname += b
	}
	base := train(bname, "", "lm", nil, envI("BASE", 1200), envF("BLR", 3e-3), 1)
	slr := envF("LR", 3e-4)
	g := train("general"+tag, base, "sft", []string{"A", "B"}, envI("GS", 150), slr, 2)
	c := train("skill"+tag, base, "sft", []string{"C"}, envI("CS", 150), envF("CLR", slr), 3)
	st, err := merging.TaskVectors(ctx, base, []string{g, c})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("|θ0| %.2f |δG| %.3f (%.4f) |δC| %.3f (%.4f) cos %.3f\n", st.BaseNorm, st.Norms[0], st.Norms[0]/st.BaseNorm, st.Norms[1], st.Norms[1]/st.BaseNorm, st.Cosine[0][1])
	cands := map[string]string{"base": base, "general": g, "skill": c}
	order := []string{"base", "general", "skill"}
	for _, lam := range []float64{0.5, 0.75, 1, 1.25} {
		name := fmt.Sprintf("ta_%.2g", lam) + tag
		out := filepath.Join(dir, name+".safetensors")
		if _, err := merging.Run(ctx, merging.Job{Base: base, Models: []string{g, c}, Out: out,
			Spec: operators.Spec{Method: "task_arithmetic", Weights: []float64{1, lam}, Scale: 1}}); err != nil {
			t.Fatal(err)
		}
		cands[name] = out
		order = append(order, name)
	}
	for _, sp := range []operators.Spec{{Method: "ties", Weights: []float64{1, 1}, Density: 0.2, Scale: 1, Normalize: true},
		{Method: "ties", Weights: []float64{1, 1}, Density: 0.5, Scale: 1, Normalize: false},
		{Method: "dare", Weights: []float64{1, 1}, DropRate: 0.5, Scale: 1, Seed: 1}} {
		name := fmt.Sprintf("%s_%v_%v_%v", sp.Method, sp.Density, sp.DropRate, sp.Normalize) + tag
		out := filepath.Join(dir, name+".safetensors")
		if _, err := merging.Run(ctx, merging.Job{Base: base, Models: []string{g, c}, Out: out, Spec: sp}); err != nil {
			t.Fatal(err)
		}
		cands[name] = out
		order = append(order, name)
	}
	if os.Getenv("CONT") != "" {
		cands["continued"] = train("continued"+tag, g, "sft", []string{"C"}, envI("CS", 150), slr, 3)
		cands["retrain"] = train("retrain"+tag, base, "sft", []string{"A", "B", "C"}, envI("RS", 225), slr, 4)
		order = append(order, "continued", "retrain")
	}
	for _, n := range order {
		sc, err := Evaluate(backend, cands[n], evalTasks(), envI("EVAL", 64), 9)
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%-22s", n)
		for _, task := range evalTasks() {
			line += fmt.Sprintf(" %s %5.1f", task, sc.Accuracy[task])
		}
		fmt.Println(line)
	}
	fmt.Println("total", time.Since(start).Round(time.Second))
}

func evalTasks() []string {
	tasks := []string{"A", "B", "C", "a", "b", "c"}
	for _, t := range extraEnv() {
		tasks = append(tasks, t.Name)
	}
	return tasks
}

// extraEnv is EXTRA's tasks: 1 for all of skills.Extra, or their names
// (EXTRA=IPL leaves M out).
func extraEnv() []skills.Task {
	e := os.Getenv("EXTRA")
	var out []skills.Task
	for _, t := range skills.Extra {
		if e == "1" || strings.Contains(e, t.Name) {
			out = append(out, t)
		}
	}
	return out
}

// TestOutputConfusion tells what wrong answers are: for each model in
// MERGE_OUTPUTS ("name=path,name=path…") it decodes EVAL held-out prompts
// of A, B and C and counts how many outputs equal each task's
// transformation of the prompt's word (upper, reverse, shift), the word
// itself (copy), shift∘reverse (both at once), or none of these.
//
//	MERGE_OUTPUTS=skill=/tmp/m/skill.safetensors,ta1=/tmp/m/ta_1.safetensors go test -run TestOutputConfusion -v ./internal/sft
func TestOutputConfusion(t *testing.T) {
	spec := os.Getenv("MERGE_OUTPUTS")
	if spec == "" {
		t.Skip("set MERGE_OUTPUTS to name=model.safetensors,… to classify models' outputs")
	}
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	kinds := []struct {
		name string
		f    func(string) string
	}{
		{"upper", skills.Tasks["A"].Answer}, {"reverse", skills.Tasks["B"].Answer}, {"shift", skills.Tasks["C"].Answer},
		{"copy", func(w string) string { return w }},
		{"shift∘rev", func(w string) string { return skills.Tasks["C"].Answer(skills.Tasks["B"].Answer(w)) }},
	}
	for _, item := range strings.Split(spec, ",") {
		name, path, ok := strings.Cut(item, "=")
		if !ok {
			t.Fatalf("MERGE_OUTPUTS item %q is not name=path", item)
		}
		outs, _, err := Outputs(backend, path, skills.Names, envI("EVAL", 64), 9)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range skills.Names {
			counts := make([]int, len(kinds)+1)
			var others []string
			for _, o := range outs[task] {
				k := 0
				for k < len(kinds) && !(o.Stopped && o.Output == kinds[k].f(o.Word)) {
					k++
				}
				counts[k]++
				if k == len(kinds) && len(others) < 4 {
					others = append(others, fmt.Sprintf("%s→%q", o.Prompt, o.Output))
				}
			}
			line := fmt.Sprintf("%-12s %s:", name, task)
			for k, kd := range kinds {
				line += fmt.Sprintf(" %s %d", kd.name, counts[k])
			}
			fmt.Printf("%s other %d of %d %v\n", line, counts[len(kinds)], len(outs[task]), others)
			// Per output position: the letter of which transformation
			// (a letter can match several: a word's own repeats).
			pos := fmt.Sprintf("%-12s %s by position:", name, task)
			for i := 0; i < skills.WordLen; i++ {
				pos += fmt.Sprintf(" [%d", i)
				for _, kd := range kinds[:4] {
					n := 0
					for _, o := range outs[task] {
						if len(o.Output) > i && o.Output[i] == kd.f(o.Word)[i] {
							n++
						}
					}
					pos += fmt.Sprintf(" %s %d", kd.name, n)
				}
				pos += "]"
			}
			fmt.Println(pos)
		}
	}
}

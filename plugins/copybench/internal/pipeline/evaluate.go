package pipeline

import (
	"fmt"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/copybench/internal/benchdata"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// EvalOptions select the real-data evaluation.
type EvalOptions struct {
	Data     string   // the copybench directory (data/, prompts/)
	Tasks    []string // literal, nonliteral, qa
	Format   int      // prompt format (1–3; qa has only 1)
	Shots    int      // in-context demos: the config's first Shots (the reference samples them)
	MaxItems int      // per task, the first MaxItems (0: all)
	Decoding Decoding
}

// EvalResult is the evaluate mode's report: rates and per-item scores (ids
// and numbers only).
type EvalResult struct {
	Rates Rates       `json:"rates"`
	Items []ItemScore `json:"items"`
}

func first[T any](xs []T, n int) []T {
	if n > 0 && n < len(xs) {
		return xs[:n]
	}
	return xs
}

// Evaluate generates with the model artifact at modelPath on the real
// CopyBench items and scores the outputs.
func Evaluate(backend backends.Backend, modelPath string, o EvalOptions, rep sdk.Reporter) (EvalResult, error) {
	ctx := context.New()
	m, err := ml.LoadModel(backend, modelPath, ctx)
	if err != nil {
		return EvalResult{}, err
	}
	g, err := newGenerator(backend, ctx, m.Transformer, m.Tokenizer, o.Decoding)
	if err != nil {
		return EvalResult{}, err
	}
	var r EvalResult
	for _, t := range o.Tasks {
		format := o.Format
		if t == "qa" {
			format = 1
		}
		pc, err := benchdata.ReadPromptConfig(filepath.Join(o.Data, "prompts", fmt.Sprintf("prompts.%s.format%d.json", t, format)))
		if err != nil {
			return r, err
		}
		demos := first(pc.Demos, o.Shots)
		if o.Shots == 0 {
			demos = nil
		}
		file := filepath.Join(o.Data, "data", "data."+t+".json")
		var prompts []string
		var score func(i int, out string) ItemScore
		switch t {
		case "literal":
			items, err := benchdata.ReadLiteral(file)
			if err != nil {
				return r, err
			}
			items = first(items, o.MaxItems)
			for _, it := range items {
				prompts = append(prompts, pc.Prompt(it.Input, demos))
			}
			score = func(i int, out string) ItemScore { return literalScore(items[i], out) }
		case "nonliteral":
			items, err := benchdata.ReadNonLiteral(file)
			if err != nil {
				return r, err
			}
			items = first(items, o.MaxItems)
			for _, it := range items {
				prompts = append(prompts, pc.Prompt(it.Input, demos))
			}
			score = func(i int, out string) ItemScore { return nonLiteralScore(items[i], out) }
		case "qa":
			items, err := benchdata.ReadQA(file)
			if err != nil {
				return r, err
			}
			items = first(items, o.MaxItems)
			for _, it := range items {
				prompts = append(prompts, pc.Prompt(it.Input, demos))
			}
			score = func(i int, out string) ItemScore { return qaScore(items[i], out) }
		default:
			return r, fmt.Errorf("unknown task %q", t)
		}
		outs, err := g.generate(prompts, rep, t)
		if err != nil {
			return r, err
		}
		for i, out := range outs {
			r.Items = append(r.Items, score(i, out))
		}
	}
	r.Rates = aggregate(r.Items)
	return r, nil
}

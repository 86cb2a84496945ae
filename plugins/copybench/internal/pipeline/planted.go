package pipeline

import (
	gocontext "context"
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/copybench/internal/benchdata"
	"github.com/shammie-ml/shammie/plugins/copybench/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// The planted mode's short zero-shot prompts: the reference's literal task
// prompt (format1) without the instruction, and a shortened non-literal one
// ("Continue the text to compose an original story about 500 words in
// length:" would not fit a tiny byte-level model's context).
const (
	literalTask    = "Complete the prefix:\n${input} "
	nonLiteralTask = "Continue the story:\n${input}"
)

var tokenizer = ml.ByteTokenizer{WithEOS: true}

func task(tmpl, input string) string {
	pc := benchdata.PromptConfig{TaskPrompt: tmpl, DemoPrompt: tmpl}
	return pc.TaskOnly(input)
}

// PlantedResult is the planted mode's report: rates on trained and
// held-out books and per-item scores.
type PlantedResult struct {
	Trained   Rates       `json:"trained"`
	HeldOut   Rates       `json:"held_out"`
	Items     []ItemScore `json:"items"`
	FinalLoss float64     `json:"final_loss"`
	Samples   []Sample    `json:"samples"`
}

// Sample is a generation on a synthetic book (planted text, safe to show).
type Sample struct {
	ID, Task, Output string
	Trained          bool
}

// Planted trains a tiny model on the trained books (each literal prompt
// followed by its continuation, each story opening followed by its events,
// both ending with the stop sequence), saves it to modelPath and measures
// its copying on trained and held-out books.
func Planted(goctx gocontext.Context, backend backends.Backend, books []planted.Book, s ml.Settings,
	d Decoding, modelPath, version string, rep sdk.Reporter) (PlantedResult, error) {
	var examples []ml.SFTExample
	need := 0
	for _, b := range books {
		if !b.Trained {
			continue
		}
		for _, pr := range [][2]string{
			{task(literalTask, b.Literal.Input), b.Literal.Reference + benchdata.Stop},
			{task(nonLiteralTask, b.Story.Input), " " + b.StoryText + benchdata.Stop},
		} {
			ex, err := ml.EncodeSFT(tokenizer, pr[0], pr[1], 0)
			if err != nil {
				return PlantedResult{}, err
			}
			examples = append(examples, ex)
			need = max(need, len(ex.Prompt)+len(ex.Response)+1)
		}
	}
	cfg := s.ModelConfig(tokenizer.VocabSize())
	cfg.MaxSeqLen = s.Seq + 1
	m, err := ml.NewTransformer(cfg)
	if err != nil {
		return PlantedResult{}, err
	}
	batches, err := ml.NewSFTBatches(examples, ml.SFTOptions{Batch: s.Batch, Seq: s.Seq, EOS: tokenizer.EOS(),
		VocabSize: cfg.VocabSize, Seed: 1})
	if err != nil {
		return PlantedResult{}, err
	}
	if n := batches.Truncated(); n > 0 {
		return PlantedResult{}, fmt.Errorf("%d planted examples do not fit seq %d: raise seq to %d", n, s.Seq, need)
	}
	ctx := context.New()
	ml.SetInitSeed(ctx, 1)
	loss := func(ctx *context.Context, b []*graph.Node) *graph.Node { return m.LMLoss(ctx, b[0], b[1], nil) }
	tr, err := ml.NewTrainer(backend, ctx, loss, s.TrainConfig(), rep)
	if err != nil {
		return PlantedResult{}, err
	}
	res, err := tr.Train(goctx, batches, nil)
	if err != nil {
		return PlantedResult{}, err
	}
	if err := ml.SaveModel(modelPath, ctx, m, tokenizer, map[string]string{"plugin": "copybench " + version}); err != nil {
		return PlantedResult{}, err
	}
	g, err := newGenerator(backend, ctx, m, tokenizer, d)
	if err != nil {
		return PlantedResult{}, err
	}
	var prompts []string
	for _, b := range books {
		prompts = append(prompts, task(literalTask, b.Literal.Input), task(nonLiteralTask, b.Story.Input))
	}
	outs, err := g.generate(prompts, rep, "generate")
	if err != nil {
		return PlantedResult{}, err
	}
	r := PlantedResult{FinalLoss: res.FinalLoss}
	var trained, held []ItemScore
	for i, b := range books {
		tr := b.Trained
		lit, non := literalScore(b.Literal, outs[2*i]), nonLiteralScore(b.Story, outs[2*i+1])
		lit.Trained, non.Trained = &tr, &tr
		r.Items = append(r.Items, lit, non)
		if tr {
			trained = append(trained, lit, non)
		} else {
			held = append(held, lit, non)
		}
		if i == 0 || i == len(books)-1 {
			r.Samples = append(r.Samples, Sample{b.Literal.ID, "literal", outs[2*i], tr},
				Sample{b.Story.ID, "nonliteral", outs[2*i+1], tr})
		}
	}
	r.Trained, r.HeldOut = aggregate(trained), aggregate(held)
	return r, nil
}

// Package sft trains and scores the planted experiment's models with the
// sdk/ml kit: a byte-level transformer pre-trained on the skills mixture,
// fine-tuned on prompt/response pairs of some tasks (ml.SFTBatches), passed
// between steps as one-file model artifacts (ml.SaveModel/LoadModel), and
// scored by exact match under greedy decoding (ml.Decoder.Generate, mixed
// prompt lengths in one batch, stopping at EOS).
//
// Every model records in its metadata the optimizer steps spent to make
// it, from scratch ("train.steps"), so recipes can be compared by cost.
package sft

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	gctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/merge/internal/skills"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// StepsKey is the metadata key holding a model's total training steps.
const StepsKey = "train.steps"

// Options is one training run.
type Options struct {
	Init      string   // model artifact to start from; "" trains a fresh model
	Objective string   // "lm": the pre-training mixture; "sft": prompt/response pairs of Tasks
	Tasks     []string // sft: task names (skills.Tasks)
	Examples  int      // sft: training examples per task
	// Replay, sft: examples of each of the three tasks in the pre-training
	// notation (skills.Task.Notation) mixed in, so fine-tuning cannot
	// forget the tags it does not train (a tag-specific, small change).
	Replay int
	// Extra (e.g. skills.Extra): lm, the mixture also holds these tasks
	// under their own capital tags; sft, the replay holds them too (Replay
	// examples each).
	Extra   []skills.Task
	Mixture int // lm: bytes of mixture text
	// Fresh model only.
	DModel, Heads, Layers, Seq int
	Steps, Batch               int
	LR                         float64
	Warmup                     int
	Seed                       int64
	Out                        string // model artifact written
	StateDir                   string // checkpoints (resume); "" for none
	Meta                       map[string]string
}

// Result of a training run.
type Result struct {
	Steps      int // this run's optimizer steps
	TotalSteps int // from scratch: the initial model's plus this run's
	FinalLoss  float64
}

// Train trains and writes o.Out.
func Train(goctx context.Context, backend backends.Backend, o Options, rep sdk.Reporter) (Result, error) {
	ctx := gctx.New()
	ml.SetInitSeed(ctx, o.Seed)
	tok := ml.ByteTokenizer{WithEOS: true}
	var m *ml.Transformer
	prior := 0
	if o.Init != "" {
		lm, err := ml.LoadModel(backend, o.Init, ctx)
		if err != nil {
			return Result{}, err
		}
		m = lm.Transformer
		if s, ok := lm.Meta[StepsKey]; ok {
			if prior, err = strconv.Atoi(s); err != nil {
				return Result{}, fmt.Errorf("%s: metadata %s = %q is not a step count", o.Init, StepsKey, s)
			}
		}
	} else {
		var err error
		m, err = ml.NewTransformer(ml.Config{VocabSize: tok.VocabSize(), DModel: o.DModel, NumHeads: o.Heads, NumLayers: o.Layers,
			MaxSeqLen: o.Seq + 1, QKNorm: true})
		if err != nil {
			return Result{}, err
		}
	}
	seq := m.Config.MaxSeqLen - 1
	batches, err := batchesFor(o, tok, seq)
	if err != nil {
		return Result{}, err
	}
	tc := ml.TrainConfig{Steps: o.Steps, LR: o.LR, WarmupSteps: o.Warmup, ClipNorm: 1, ModelConfig: m.Config}
	if o.StateDir != "" {
		tc.CheckpointDir = filepath.Join(o.StateDir, "checkpoints")
		tc.CheckpointEvery = max(o.Steps/4, 1)
	}
	tr, err := ml.NewTrainer(backend, ctx, func(ctx *gctx.Context, b []*graph.Node) *graph.Node {
		if len(b) > 1 {
			return m.LMLoss(ctx, b[0], b[1], nil)
		}
		return m.LMLoss(ctx, b[0], nil, nil)
	}, tc, rep)
	if err != nil {
		return Result{}, err
	}
	res, err := tr.Train(goctx, batches, nil)
	if err != nil {
		return Result{}, err
	}
	meta := map[string]string{StepsKey: strconv.Itoa(prior + res.Steps), "train.objective": o.Objective}
	for k, v := range o.Meta {
		meta[k] = v
	}
	if err := ml.SaveModel(o.Out, ctx, m, tok, meta); err != nil {
		return Result{}, err
	}
	return Result{Steps: res.Steps, TotalSteps: prior + res.Steps, FinalLoss: res.FinalLoss}, nil
}

func batchesFor(o Options, tok ml.ByteTokenizer, seq int) (ml.Batches, error) {
	if o.Objective == "lm" {
		ids, err := Pack(tok, skills.Documents(o.Mixture, uint64(o.Seed), o.Extra...), seq)
		if err != nil {
			return nil, err
		}
		return ml.NewLMWindows(ids, o.Batch, seq, o.Seed)
	}
	type part struct {
		t skills.Task
		n int
	}
	var parts []part
	for _, name := range o.Tasks {
		t, ok := skills.Tasks[name]
		if !ok {
			return nil, fmt.Errorf("unknown task %q", name)
		}
		parts = append(parts, part{t, o.Examples})
	}
	if o.Replay > 0 {
		for _, name := range skills.Names {
			parts = append(parts, part{skills.Tasks[name].Notation(), o.Replay})
		}
		for _, t := range o.Extra {
			parts = append(parts, part{t, o.Replay})
		}
	}
	var exs []ml.SFTExample
	for _, p := range parts {
		for _, e := range skills.Examples(p.t, p.n, false, uint64(o.Seed)) {
			ex, err := ml.EncodeSFT(tok, e.Prompt, e.Answer, 0)
			if err != nil {
				return nil, err
			}
			exs = append(exs, ex)
		}
	}
	return ml.NewSFTBatches(exs, ml.SFTOptions{Batch: o.Batch, Seq: seq, EOS: tok.EOS(), VocabSize: tok.VocabSize(), Seed: o.Seed})
}

// Pack encodes documents, each followed by EOS, into blocks of seq tokens
// that start at a document (the rest of a block is EOS), so every
// ml.LMWindows window (seq+1 tokens from a multiple of seq) begins a
// document, as every fine-tuning example begins its prompt.
func Pack(tok ml.ByteTokenizer, docs []string, seq int) ([]int32, error) {
	eos := tok.EOS()
	var ids, block []int32
	flush := func() {
		for len(block) < seq {
			block = append(block, eos)
		}
		ids, block = append(ids, block...), block[:0]
	}
	for _, d := range docs {
		e, err := tok.Encode(d)
		if err != nil {
			return nil, err
		}
		e = append(e, eos)
		if len(e) > seq {
			return nil, fmt.Errorf("document %q: %d tokens with EOS do not fit a window of %d", d, len(e), seq)
		}
		if len(block)+len(e) > seq {
			flush()
		}
		block = append(block, e...)
	}
	if len(block) > 0 {
		flush()
	}
	return append(ids, eos), nil
}

// Score is a model's exact-match accuracy per task and its training cost.
type Score struct {
	Accuracy map[string]float64 `json:"accuracy"`
	Steps    int                `json:"steps"`
}

// Evaluate loads a model artifact and scores it on n held-out examples of
// each task, decoding greedily until EOS.
func Evaluate(backend backends.Backend, path string, tasks []string, n int, seed uint64) (Score, error) {
	outs, steps, err := Outputs(backend, path, tasks, n, seed)
	if err != nil {
		return Score{}, err
	}
	sc := Score{Accuracy: map[string]float64{}, Steps: steps}
	for _, name := range tasks {
		right := 0
		for _, o := range outs[name] {
			if o.Stopped && o.Output == o.Answer {
				right++
			}
		}
		sc.Accuracy[name] = float64(right) / float64(len(outs[name])) * 100
	}
	return sc, nil
}

// Output is one held-out prompt, its answer and what the model wrote.
type Output struct {
	Prompt, Word, Answer, Output string
	Stopped                      bool // the model ended its answer with EOS
}

// Outputs loads a model artifact and decodes n held-out prompts of each
// task greedily until EOS, keyed by task name; it also returns the model's
// training steps. Evaluate scores them; the reduced experiment inspects
// what a wrong answer is instead (another task's transformation?).
func Outputs(backend backends.Backend, path string, tasks []string, n int, seed uint64) (map[string][]Output, int, error) {
	ctx := gctx.New()
	m, err := ml.LoadModel(backend, path, ctx)
	if err != nil {
		return nil, 0, err
	}
	steps := 0
	if s, ok := m.Meta[StepsKey]; ok {
		steps, _ = strconv.Atoi(s)
	}
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		return nil, 0, err
	}
	eos := m.Tokenizer.EOS()
	out := map[string][]Output{}
	for _, name := range tasks {
		t, ok := skills.Lookup(name)
		if !ok {
			return nil, 0, fmt.Errorf("unknown task %q", name)
		}
		exs := skills.Examples(t, n, true, seed)
		prompts := make([][]int32, len(exs))
		for i, e := range exs {
			if prompts[i], err = m.Tokenizer.Encode(e.Prompt); err != nil {
				return nil, 0, err
			}
		}
		gens, err := dec.Generate(prompts, ml.DecodeOptions{MaxNewTokens: skills.WordLen + 1, Stop: [][]int32{{eos}}})
		if err != nil {
			return nil, 0, fmt.Errorf("%s, task %s: %w", path, name, err)
		}
		for i, g := range gens {
			e := exs[i]
			out[name] = append(out[name], Output{Prompt: e.Prompt, Word: e.Prompt[2 : len(e.Prompt)-1], Answer: e.Answer,
				Output: m.Tokenizer.Decode(g.Tokens), Stopped: g.Stop != nil})
		}
	}
	return out, steps, nil
}

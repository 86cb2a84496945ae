// Package videoqa is the plugin's small video-QA interface: a Model answers
// Queries (the reference's prompt plus sampled frames) with text, and
// Evaluate runs the ActionAtlas protocol over it — sample frames, render
// the prompt, ask in batches, parse, score, bootstrap. The tiny GoMLX model
// (tiny.go) is one Model; tests use a stub that returns strings.
package videoqa

import (
	"context"
	"fmt"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/clip"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/protocol"
)

// Query is one question as a model receives it.
type Query struct {
	ID         string
	System     string    // the reference's system message
	Prompt     string    // protocol.Frames + the rendered template
	Frames     clip.Clip // the sampled frames
	Indices    []int     // their indices in the clip
	ClipFrames int       // the clip's length
	Choices    []string  // the choice names ("N. " cut)
}

// Times are the frames' relative times in their clip (0 … 1; a one-frame
// clip is 0.5).
func (q Query) Times() []float64 {
	out := make([]float64, len(q.Indices))
	for i, ix := range q.Indices {
		if q.ClipFrames > 1 {
			out[i] = float64(ix) / float64(q.ClipFrames-1)
		} else {
			out[i] = 0.5
		}
	}
	return out
}

// Model answers queries with free text, one response per query.
type Model interface {
	Answer(ctx context.Context, qs []Query) ([]string, error)
}

// Sampling picks frames: Frames > 0 by count (linspace; the middle frame
// for 1), else FPS > 0 by rate with the MaxFrames cap.
type Sampling struct {
	Frames    int
	FPS       float64
	MaxFrames int
}

// Indices samples a clip of n frames at clipFPS.
func (s Sampling) Indices(n int, clipFPS float64) ([]int, error) {
	if s.Frames > 0 {
		return protocol.SampleByCount(n, s.Frames)
	}
	return protocol.SampleByFPS(n, clipFPS, s.FPS, s.MaxFrames)
}

// Item is a question with its clip, loaded when asked.
type Item struct {
	Record protocol.Record
	Clip   func() (clip.Clip, error)
}

// Options of an evaluation.
type Options struct {
	Format   protocol.Format
	Sampling Sampling
	Batch    int    // queries per Answer call (default 16)
	Samples  int    // bootstrap resamples (default 1000)
	Seed     uint64 // bootstrap seed
	Progress func(done, total int)
}

// ItemResult is one question's outcome.
type ItemResult struct {
	ID       string `json:"id"`
	Answer   string `json:"gt_answer"`
	Response string `json:"response"`
	Parsed   string `json:"parsed"`
	Correct  bool   `json:"correct"`
	Frames   int    `json:"n_frames"`
}

// Result of an evaluation.
type Result struct {
	Items    []ItemResult      `json:"items"`
	Interval protocol.Interval `json:"interval"`
}

// Evaluate runs the protocol over items. A clip that cannot be read, or a
// model error, fails the evaluation (naming the item): the reference
// instead records such items as wrong and goes on.
func Evaluate(ctx context.Context, m Model, items []Item, o Options) (Result, error) {
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Samples <= 0 {
		o.Samples = protocol.BootstrapSamples
	}
	res := Result{Items: make([]ItemResult, 0, len(items))}
	var correct []bool
	for start := 0; start < len(items); start += o.Batch {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		batch := items[start:min(start+o.Batch, len(items))]
		qs := make([]Query, len(batch))
		choices := make([]string, len(batch))
		for i, it := range batch {
			q, ch, err := query(it, o)
			if err != nil {
				return Result{}, fmt.Errorf("question %s: %w", it.Record.ID, err)
			}
			qs[i], choices[i] = q, ch
		}
		resp, err := m.Answer(ctx, qs)
		if err != nil {
			return Result{}, fmt.Errorf("questions %s…: %w", batch[0].Record.ID, err)
		}
		if len(resp) != len(qs) {
			return Result{}, fmt.Errorf("the model answered %d of %d questions", len(resp), len(qs))
		}
		for i, it := range batch {
			p := protocol.Parse(o.Format, resp[i], choices[i])
			ok := p == string(it.Record.Answer)
			correct = append(correct, ok)
			res.Items = append(res.Items, ItemResult{ID: string(it.Record.ID), Answer: string(it.Record.Answer),
				Response: resp[i], Parsed: p, Correct: ok, Frames: qs[i].Frames.T})
		}
		if o.Progress != nil {
			o.Progress(len(res.Items), len(items))
		}
	}
	if len(correct) == 0 {
		return Result{}, fmt.Errorf("no questions to evaluate")
	}
	iv, err := protocol.Bootstrap(correct, o.Samples, o.Seed)
	if err != nil {
		return Result{}, err
	}
	res.Interval = iv
	return res, nil
}

// query builds an item's query and its {choices} text.
func query(it Item, o Options) (Query, string, error) {
	r := it.Record
	choices, err := protocol.ChoicesText(r.ChoicesStr, r.Descriptions, o.Format.WithDescriptions())
	if err != nil {
		return Query{}, "", err
	}
	prompt, err := protocol.Render(o.Format, r.Question, choices)
	if err != nil {
		return Query{}, "", err
	}
	c, err := it.Clip()
	if err != nil {
		return Query{}, "", err
	}
	idx, err := o.Sampling.Indices(c.T, c.FPS)
	if err != nil {
		return Query{}, "", err
	}
	frames, err := c.Select(idx)
	if err != nil {
		return Query{}, "", err
	}
	return Query{ID: string(r.ID), System: protocol.System, Prompt: protocol.Frames + prompt, Frames: frames,
		Indices: idx, ClipFrames: c.T, Choices: r.Choices()}, choices, nil
}

package ml

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// SFTExample is one supervised fine-tuning pair as token ids: the model
// learns to produce Response (then EOS) after Prompt. Prefix is its
// conditioning id when the model has a prefix (Config.PrefixVocab > 0).
type SFTExample struct {
	Prompt, Response []int32
	Prefix           int32
}

// EncodeSFT tokenizes a prompt/response pair.
func EncodeSFT(tok Tokenizer, prompt, response string, prefix int32) (SFTExample, error) {
	p, err := tok.Encode(prompt)
	if err != nil {
		return SFTExample{}, fmt.Errorf("prompt: %w", err)
	}
	r, err := tok.Encode(response)
	if err != nil {
		return SFTExample{}, fmt.Errorf("response: %w", err)
	}
	return SFTExample{Prompt: p, Response: r, Prefix: prefix}, nil
}

// SFTOptions shape the batches of SFTBatches.
type SFTOptions struct {
	Batch int // windows per micro-batch
	Seq   int // windows hold Seq+1 tokens (inputs and targets), like LMWindows
	// EOS is appended after every response and trained on; required.
	EOS int32
	// Pad fills windows after EOS (its weight is 0). Default 0.
	Pad int32
	// VocabSize, if > 0, bounds every id (prompt, response, EOS, Pad).
	VocabSize int
	// WithPrefix adds the examples' Prefix ids as a third tensor [Batch].
	WithPrefix bool
	Seed       int64
}

// SFTBatches turns prompt/response pairs into fixed-shape training batches:
//
//	windows [Batch, Seq+1] int32: prompt ‖ response ‖ EOS ‖ Pad…
//	weights [Batch, Seq+1] float32: 1 on response tokens and EOS, 0 elsewhere
//	prefix  [Batch] int32 (WithPrefix only)
//
// ready for Transformer.LMLoss(ctx, windows, weights, prefix): the loss is
// the mean cross-entropy of the response and EOS given the prompt. A pair
// longer than Seq+1 tokens is truncated on the left (the prompt's start goes
// first), so the response and EOS — what is learnt — survive. Batch i is a
// pure function of (Seed, i), examples reshuffled every epoch exactly as
// ExampleIndices does, so resumed training sees the same batches.
type SFTBatches struct {
	o        SFTOptions
	windows  [][]int32 // per example, Seq+1 ids
	weights  [][]float32
	prefix   []int32
	shuffle  *epochShuffle
	truncCnt int
}

// NewSFTBatches builds every example's window once; errors name the
// example's index.
func NewSFTBatches(examples []SFTExample, o SFTOptions) (*SFTBatches, error) {
	if o.Batch <= 0 || o.Seq <= 0 {
		return nil, fmt.Errorf("sft: batch size (%d) and sequence length (%d) must be > 0", o.Batch, o.Seq)
	}
	if len(examples) == 0 {
		return nil, errors.New("sft: no examples")
	}
	if o.EOS < 0 || o.Pad < 0 {
		return nil, fmt.Errorf("sft: eos (%d) and pad (%d) must be ≥ 0", o.EOS, o.Pad)
	}
	if o.VocabSize > 0 && (int(o.EOS) >= o.VocabSize || int(o.Pad) >= o.VocabSize) {
		return nil, fmt.Errorf("sft: eos (%d) and pad (%d) must be < vocab size %d", o.EOS, o.Pad, o.VocabSize)
	}
	s := &SFTBatches{o: o, shuffle: newEpochShuffle(len(examples), o.Seed)}
	L := o.Seq + 1
	for i, ex := range examples {
		if len(ex.Response) == 0 {
			return nil, fmt.Errorf("sft: example %d: empty response", i)
		}
		if o.VocabSize > 0 {
			for _, part := range [][]int32{ex.Prompt, ex.Response} {
				for _, id := range part {
					if id < 0 || int(id) >= o.VocabSize {
						return nil, fmt.Errorf("sft: example %d: token id %d outside the vocabulary [0, %d)", i, id, o.VocabSize)
					}
				}
			}
		}
		if o.WithPrefix && ex.Prefix < 0 {
			return nil, fmt.Errorf("sft: example %d: negative prefix id %d", i, ex.Prefix)
		}
		tok := make([]int32, 0, len(ex.Prompt)+len(ex.Response)+1)
		tok = append(append(append(tok, ex.Prompt...), ex.Response...), o.EOS)
		w := make([]float32, len(tok))
		for j := len(ex.Prompt); j < len(tok); j++ {
			w[j] = 1
		}
		if len(tok) > L { // left truncation
			tok, w = tok[len(tok)-L:], w[len(w)-L:]
			s.truncCnt++
		}
		win := make([]int32, L)
		wts := make([]float32, L)
		copy(win, tok)
		copy(wts, w)
		for j := len(tok); j < L; j++ {
			win[j] = o.Pad
		}
		s.windows = append(s.windows, win)
		s.weights = append(s.weights, wts)
		s.prefix = append(s.prefix, ex.Prefix)
	}
	return s, nil
}

// Len is the number of examples (one epoch).
func (s *SFTBatches) Len() int { return len(s.windows) }

// Truncated is the number of examples cut on the left to fit Seq+1.
func (s *SFTBatches) Truncated() int { return s.truncCnt }

// Example returns example j's window and weights (not shuffled), e.g. for
// an evaluation set.
func (s *SFTBatches) Example(j int) ([]int32, []float32) { return s.windows[j], s.weights[j] }

// Batch implements Batches.
func (s *SFTBatches) Batch(i int) ([]*tensors.Tensor, error) {
	if i < 0 {
		return nil, errors.New("negative batch index")
	}
	idx := s.shuffle.indices(i, s.o.Batch)
	L := s.o.Seq + 1
	win := make([]int32, 0, len(idx)*L)
	wts := make([]float32, 0, len(idx)*L)
	pre := make([]int32, 0, len(idx))
	for _, j := range idx {
		win = append(win, s.windows[j]...)
		wts = append(wts, s.weights[j]...)
		pre = append(pre, s.prefix[j])
	}
	out := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(win, len(idx), L),
		tensors.FromFlatDataAndDimensions(wts, len(idx), L),
	}
	if s.o.WithPrefix {
		out = append(out, tensors.FromFlatDataAndDimensions(pre, len(idx)))
	}
	return out, nil
}

package ml

import (
	"errors"
	"fmt"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// PairExample is one preference pair as token ids: after Prompt, Chosen is
// preferred to Rejected. Prefix is its conditioning id when the model has a
// prefix (Config.PrefixVocab > 0).
type PairExample struct {
	Prompt, Chosen, Rejected []int32
	Prefix                   int32
}

// EncodePair tokenizes a preference pair.
func EncodePair(tok Tokenizer, prompt, chosen, rejected string, prefix int32) (PairExample, error) {
	var ex PairExample
	for _, f := range []struct {
		what string
		s    string
		dst  *[]int32
	}{{"prompt", prompt, &ex.Prompt}, {"chosen", chosen, &ex.Chosen}, {"rejected", rejected, &ex.Rejected}} {
		ids, err := tok.Encode(f.s)
		if err != nil {
			return PairExample{}, fmt.Errorf("%s: %w", f.what, err)
		}
		*f.dst = ids
	}
	ex.Prefix = prefix
	return ex, nil
}

// PairOptions shape the batches of PairBatches.
type PairOptions struct {
	Batch int // pairs per micro-batch (the graph sees 2·Batch rows)
	Seq   int // tokens per row: prompt ‖ response ‖ EOS ‖ Pad…
	// EOS is appended after every response and scored; required.
	EOS int32
	// Pad fills rows after EOS (never scored). Default 0.
	Pad int32
	// VocabSize, if > 0, bounds every id.
	VocabSize int
	// WithPrefix adds the pairs' Prefix ids as a fourth tensor [2·Batch].
	WithPrefix bool
	Seed       int64
}

// PairBatches turns preference pairs into fixed-shape DPO batches:
//
//	tokens [2B, Seq] int32:   rows 0..B-1 prompt‖chosen‖EOS‖Pad, rows B..2B-1 prompt‖rejected‖EOS‖Pad
//	mask   [2B, Seq] float32: 1 on response tokens and EOS, 0 on prompt and padding
//	ref    [2B] float32:      the reference model's log p(response‖EOS | prompt) of each row
//	prefix [2B] int32:        the pair's conditioning id, twice (WithPrefix only)
//
// ready for Transformer.DPOLoss. Chosen and rejected are stacked on the
// batch axis so that the policy runs once per step. A pair longer than Seq
// keeps the end of its prompt (the same cut for both responses) and, if the
// responses alone do not fit, keeps at least min(len(prompt), Seq/4) prompt
// tokens and cuts the responses on the right (they then lose their EOS).
//
// The reference log-probs come from ScoreReference, run once before
// training: the frozen reference needs no place in the training graph.
// Batch i is a pure function of (Seed, i) (examples reshuffled every epoch
// as ExampleIndices does), so resumed training sees the same batches.
type PairBatches struct {
	o      PairOptions
	rows   [2][][]int32 // [chosen|rejected][pair] → Seq ids
	masks  [2][][]float32
	lens   [2][]int // prompt length and used length of each row
	plen   []int
	ref    [2][]float32
	hasRef bool
	prefix []int32
	cut    int
	shuf   *epochShuffle
}

// NewPairBatches builds every pair's rows once; errors name the pair's index.
func NewPairBatches(examples []PairExample, o PairOptions) (*PairBatches, error) {
	if o.Batch <= 0 || o.Seq < 2 {
		return nil, fmt.Errorf("pairs: batch size (%d) must be > 0 and sequence length (%d) ≥ 2", o.Batch, o.Seq)
	}
	if len(examples) == 0 {
		return nil, errors.New("pairs: no examples")
	}
	if o.EOS < 0 || o.Pad < 0 || (o.VocabSize > 0 && (int(o.EOS) >= o.VocabSize || int(o.Pad) >= o.VocabSize)) {
		return nil, fmt.Errorf("pairs: eos (%d) and pad (%d) must be in [0, %d)", o.EOS, o.Pad, o.VocabSize)
	}
	p := &PairBatches{o: o, shuf: newEpochShuffle(len(examples), o.Seed)}
	for i, ex := range examples {
		if err := p.checkExample(ex); err != nil {
			return nil, fmt.Errorf("pairs: example %d: %w", i, err)
		}
		prompt, resp, cut := fitPair(ex.Prompt, [2][]int32{append(append([]int32(nil), ex.Chosen...), o.EOS),
			append(append([]int32(nil), ex.Rejected...), o.EOS)}, o.Seq)
		if cut {
			p.cut++
		}
		p.plen = append(p.plen, len(prompt))
		for k := range 2 {
			row := make([]int32, o.Seq)
			mask := make([]float32, o.Seq)
			n := copy(row, prompt)
			for j, t := range resp[k] {
				row[n+j], mask[n+j] = t, 1
			}
			used := n + len(resp[k])
			for j := used; j < o.Seq; j++ {
				row[j] = o.Pad
			}
			p.rows[k] = append(p.rows[k], row)
			p.masks[k] = append(p.masks[k], mask)
			p.lens[k] = append(p.lens[k], used)
			p.ref[k] = append(p.ref[k], 0)
		}
		p.prefix = append(p.prefix, ex.Prefix)
	}
	return p, nil
}

func (p *PairBatches) checkExample(ex PairExample) error {
	if len(ex.Prompt) == 0 {
		return errors.New("empty prompt (the first response token needs a context)")
	}
	if len(ex.Chosen) == 0 || len(ex.Rejected) == 0 {
		return errors.New("empty chosen or rejected response")
	}
	if p.o.WithPrefix && ex.Prefix < 0 {
		return fmt.Errorf("negative prefix id %d", ex.Prefix)
	}
	if p.o.VocabSize > 0 {
		for _, part := range [][]int32{ex.Prompt, ex.Chosen, ex.Rejected} {
			for _, id := range part {
				if id < 0 || int(id) >= p.o.VocabSize {
					return fmt.Errorf("token id %d outside the vocabulary [0, %d)", id, p.o.VocabSize)
				}
			}
		}
	}
	return nil
}

// fitPair cuts a prompt and two responses to fit seq tokens per row (see
// PairBatches). cut reports whether anything was dropped.
func fitPair(prompt []int32, resp [2][]int32, seq int) ([]int32, [2][]int32, bool) {
	longest := max(len(resp[0]), len(resp[1]))
	if len(prompt)+longest <= seq {
		return prompt, resp, false
	}
	keep := max(seq-longest, min(len(prompt), max(seq/4, 1)))
	prompt = prompt[len(prompt)-keep:]
	for k := range resp {
		if len(resp[k]) > seq-keep {
			resp[k] = resp[k][:seq-keep]
		}
	}
	return prompt, resp, true
}

// Len is the number of pairs (one epoch).
func (p *PairBatches) Len() int { return len(p.plen) }

// Truncated is the number of pairs cut to fit Seq.
func (p *PairBatches) Truncated() int { return p.cut }

// Reference returns pair j's reference log-probs (chosen, rejected).
func (p *PairBatches) Reference(j int) (chosen, rejected float32) { return p.ref[0][j], p.ref[1][j] }

// Row returns the prompt and response (with EOS unless cut) of pair j's
// chosen (k = 0) or rejected (k = 1) row, as scored.
func (p *PairBatches) Row(j, k int) (prompt, response []int32) {
	r := p.rows[k][j]
	return r[:p.plen[j]], r[p.plen[j]:p.lens[k][j]]
}

// Prefix returns pair j's conditioning id.
func (p *PairBatches) Prefix(j int) int32 { return p.prefix[j] }

// ScoreReference computes, once, the reference log-probs of every row with
// the scorer of the reference (SFT) model, in length buckets: rows are sorted
// by length and scored batch rows at a time, so each batch pads to little
// more than its own rows (the Scorer rounds lengths up to a multiple of 16
// and compiles one graph per batch size and padded length). progress, if
// not nil, is called after each batch with the rows done and the total.
func (p *PairBatches) ScoreReference(sc *Scorer, batch int, progress func(done, total int)) error {
	if batch <= 0 {
		return fmt.Errorf("pairs: reference batch size %d must be > 0", batch)
	}
	type rowID struct{ j, k int }
	ids := make([]rowID, 0, 2*p.Len())
	for j := range p.plen {
		ids = append(ids, rowID{j, 0}, rowID{j, 1})
	}
	sort.SliceStable(ids, func(a, b int) bool { return p.lens[ids[a].k][ids[a].j] < p.lens[ids[b].k][ids[b].j] })
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		prompts := make([][]int32, len(chunk))
		conts := make([][]int32, len(chunk))
		var pre []int32
		if p.o.WithPrefix {
			pre = make([]int32, len(chunk))
		}
		for i, id := range chunk {
			prompts[i], conts[i] = p.Row(id.j, id.k)
			if pre != nil {
				pre[i] = p.prefix[id.j]
			}
		}
		lp, err := sc.Score(prompts, conts, pre)
		if err != nil {
			return fmt.Errorf("pairs: reference log-probs: %w", err)
		}
		for i, id := range chunk {
			p.ref[id.k][id.j] = float32(lp[i])
		}
		if progress != nil {
			progress(start+len(chunk), len(ids))
		}
	}
	p.hasRef = true
	return nil
}

// SetReference sets the reference log-probs directly (chosen[j], rejected[j]
// per pair), e.g. when they were saved from an earlier ScoreReference.
func (p *PairBatches) SetReference(chosen, rejected []float32) error {
	if len(chosen) != p.Len() || len(rejected) != p.Len() {
		return fmt.Errorf("pairs: %d and %d reference log-probs for %d pairs", len(chosen), len(rejected), p.Len())
	}
	copy(p.ref[0], chosen)
	copy(p.ref[1], rejected)
	p.hasRef = true
	return nil
}

// Batch implements Batches. It fails until the reference log-probs are set:
// DPO against zeros would train silently towards the wrong objective.
func (p *PairBatches) Batch(i int) ([]*tensors.Tensor, error) {
	if i < 0 {
		return nil, errors.New("negative batch index")
	}
	return p.Gather(p.shuf.indices(i, p.o.Batch))
}

// Gather builds the batch of the given pairs (in order), e.g. for an
// evaluation set.
func (p *PairBatches) Gather(idx []int) ([]*tensors.Tensor, error) {
	if !p.hasRef {
		return nil, errors.New("pairs: reference log-probs not computed (call ScoreReference first)")
	}
	b, L := len(idx), p.o.Seq
	tok := make([]int32, 0, 2*b*L)
	mask := make([]float32, 0, 2*b*L)
	ref := make([]float32, 0, 2*b)
	pre := make([]int32, 0, 2*b)
	for k := range 2 {
		for _, j := range idx {
			tok = append(tok, p.rows[k][j]...)
			mask = append(mask, p.masks[k][j]...)
			ref = append(ref, p.ref[k][j])
			pre = append(pre, p.prefix[j])
		}
	}
	out := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(tok, 2*b, L),
		tensors.FromFlatDataAndDimensions(mask, 2*b, L),
		tensors.FromFlatDataAndDimensions(ref, 2*b),
	}
	if p.o.WithPrefix {
		out = append(out, tensors.FromFlatDataAndDimensions(pre, 2*b))
	}
	return out, nil
}

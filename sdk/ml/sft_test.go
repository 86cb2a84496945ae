package ml

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/google/go-cmp/cmp"
)

func sftBatch(t *testing.T, s *SFTBatches, i int) ([]int32, []float32, []int32) {
	t.Helper()
	b, err := s.Batch(i)
	if err != nil {
		t.Fatal(err)
	}
	var pre []int32
	if len(b) == 3 {
		pre = tensors.MustCopyFlatData[int32](b[2])
	}
	return tensors.MustCopyFlatData[int32](b[0]), tensors.MustCopyFlatData[float32](b[1]), pre
}

// TestSFTWindows checks the layout of each window: prompt, response, EOS,
// padding; weights on the response and EOS only; left truncation.
func TestSFTWindows(t *testing.T) {
	const eos, pad = 9, 7
	exs := []SFTExample{
		{Prompt: []int32{1, 2}, Response: []int32{3}, Prefix: 2},             // fits, padded
		{Prompt: []int32{1, 2, 3, 4, 5}, Response: []int32{6, 6}, Prefix: 1}, // 8 tokens: 2 cut on the left
		{Prompt: nil, Response: []int32{4, 4, 4, 4, 4, 4, 4}, Prefix: 0},     // response longer than the window
	}
	s, err := NewSFTBatches(exs, SFTOptions{Batch: 1, Seq: 5, EOS: eos, Pad: pad, WithPrefix: true, VocabSize: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Tok []int32
		W   []float32
	}
	want := []row{
		{[]int32{1, 2, 3, eos, pad, pad}, []float32{0, 0, 1, 1, 0, 0}},
		{[]int32{3, 4, 5, 6, 6, eos}, []float32{0, 0, 0, 1, 1, 1}},
		{[]int32{4, 4, 4, 4, 4, eos}, []float32{1, 1, 1, 1, 1, 1}},
	}
	for j := range exs {
		tok, w := s.Example(j)
		if diff := cmp.Diff(want[j], row{tok, w}); diff != "" {
			t.Errorf("example %d (-want +got):\n%s", j, diff)
		}
	}
	if s.Truncated() != 2 {
		t.Errorf("Truncated() = %d, want 2", s.Truncated())
	}
	// One epoch of batches of 1 visits each example once, prefix included.
	seen := map[int32]bool{}
	for i := range 3 {
		tok, w, pre := sftBatch(t, s, i)
		if len(pre) != 1 {
			t.Fatalf("prefix tensor %v, want one id", pre)
		}
		j := 2 - int(pre[0]) // prefixes were 2, 1, 0
		if diff := cmp.Diff(want[j], row{tok, w}); diff != "" {
			t.Errorf("batch %d with prefix %d (-want +got):\n%s", i, pre[0], diff)
		}
		seen[pre[0]] = true
	}
	if len(seen) != 3 {
		t.Errorf("one epoch saw prefixes %v, want all three", seen)
	}
}

// TestSFTBatchesArePure: batch i depends on (seed, i) alone, whatever the
// order of calls or the instance, and matches ExampleIndices.
func TestSFTBatchesArePure(t *testing.T) {
	var exs []SFTExample
	for k := range 10 {
		exs = append(exs, SFTExample{Prompt: []int32{int32(k)}, Response: []int32{int32(k), 1}})
	}
	o := SFTOptions{Batch: 3, Seq: 4, EOS: 11, Seed: 5}
	a, _ := NewSFTBatches(exs, o)
	b, _ := NewSFTBatches(exs, o)
	for _, i := range []int{6, 0, 3, 6, 1} {
		ta, wa, _ := sftBatch(t, a, i)
		tb, wb, _ := sftBatch(t, b, i)
		if !cmp.Equal(ta, tb) || !cmp.Equal(wa, wb) {
			t.Fatalf("batch %d differs between instances", i)
		}
		var firsts []int
		for r := range 3 {
			firsts = append(firsts, int(ta[r*5]))
		}
		if diff := cmp.Diff(ExampleIndices(i, 3, 10, 5), firsts); diff != "" {
			t.Errorf("batch %d disagrees with ExampleIndices (-want +got):\n%s", i, diff)
		}
	}
	if len(mustBatch(t, a, 0)) != 2 {
		t.Error("without WithPrefix a batch must hold windows and weights only")
	}
}

func mustBatch(t *testing.T, s *SFTBatches, i int) []*tensors.Tensor {
	b, err := s.Batch(i)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSFTLossCountsResponseOnly: LMLoss with SFT weights equals the mean
// negative log-probability of the response and EOS tokens alone.
func TestSFTLossCountsResponseOnly(t *testing.T) {
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	s, err := NewSFTBatches([]SFTExample{{Prompt: []int32{1, 2, 3}, Response: []int32{4, 5}}}, SFTOptions{Batch: 1, Seq: 7, EOS: 10, Pad: 0})
	if err != nil {
		t.Fatal(err)
	}
	batch := mustBatch(t, s, 0)
	e := context.MustNewExec(openGo(t), ctx, func(ctx *context.Context, win, w *graph.Node) []*graph.Node {
		return []*graph.Node{m.LMLoss(ctx, win, w, nil), m.SequenceLogProbs(ctx, win, nil)}
	})
	outs := e.MustExec(batch[0], batch[1])
	lp := flat64(outs[1])                // lp[t] = log p(win[t+1] | ...)
	want := -(lp[2] + lp[3] + lp[4]) / 3 // targets 4, 5, EOS at positions 3, 4, 5
	if got := flat64(outs[0])[0]; math.Abs(got-want) > 1e-12 {
		t.Fatalf("SFT loss %v, want %v (response and EOS only)", got, want)
	}
}

func TestSFTErrors(t *testing.T) {
	ok := []SFTExample{{Prompt: []int32{1}, Response: []int32{2}}}
	tests := []struct {
		name string
		exs  []SFTExample
		o    SFTOptions
		want string
	}{
		{"no examples", nil, SFTOptions{Batch: 1, Seq: 4}, "no examples"},
		{"zero seq", ok, SFTOptions{Batch: 1}, "must be > 0"},
		{"empty response", []SFTExample{ok[0], {Prompt: []int32{1}}}, SFTOptions{Batch: 1, Seq: 4}, "example 1: empty response"},
		{"id out of vocab", []SFTExample{{Prompt: []int32{12}, Response: []int32{2}}}, SFTOptions{Batch: 1, Seq: 4, VocabSize: 10}, "example 0: token id 12"},
		{"eos out of vocab", ok, SFTOptions{Batch: 1, Seq: 4, EOS: 10, VocabSize: 10}, "eos (10)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSFTBatches(tc.exs, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

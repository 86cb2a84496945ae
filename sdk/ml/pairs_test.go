package ml

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/google/go-cmp/cmp"
)

func TestPairBatchesLayout(t *testing.T) {
	pb, err := NewPairBatches(tinyPairs(), PairOptions{Batch: 2, Seq: 7, EOS: 10, Pad: 0, VocabSize: 11, WithPrefix: true, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.Batch(0); err == nil || !strings.Contains(err.Error(), "ScoreReference") {
		t.Fatalf("batch before the reference: err = %v, want one naming ScoreReference", err)
	}
	if err := pb.SetReference([]float32{-1, -2, -3}, []float32{-4, -5, -6}); err != nil {
		t.Fatal(err)
	}
	got, err := pb.Gather([]int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	tok := tensors.MustCopyFlatData[int32](got[0])
	mask := tensors.MustCopyFlatData[float32](got[1])
	// Pair 2 needs 5 + 3 tokens: the prompt loses its first token.
	wantTok := []int32{
		1, 2, 3, 4, 5, 10, 0,
		3, 1, 5, 2, 6, 2, 10,
		1, 2, 3, 6, 10, 0, 0,
		3, 1, 5, 2, 5, 8, 10,
	}
	wantMask := []float32{
		0, 0, 0, 1, 1, 1, 0,
		0, 0, 0, 0, 1, 1, 1,
		0, 0, 0, 1, 1, 0, 0,
		0, 0, 0, 0, 1, 1, 1,
	}
	if d := cmp.Diff(wantTok, tok); d != "" {
		t.Errorf("tokens (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantMask, mask); d != "" {
		t.Errorf("mask (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]float32{-1, -3, -4, -6}, tensors.MustCopyFlatData[float32](got[2])); d != "" {
		t.Errorf("ref (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int32{1, 2, 1, 2}, tensors.MustCopyFlatData[int32](got[3])); d != "" {
		t.Errorf("prefix (-want +got):\n%s", d)
	}
	if pb.Truncated() != 1 {
		t.Errorf("truncated %d pairs, want 1", pb.Truncated())
	}
	// Pure function of (seed, index).
	again, _ := NewPairBatches(tinyPairs(), PairOptions{Batch: 2, Seq: 7, EOS: 10, VocabSize: 11, WithPrefix: true, Seed: 5})
	_ = again.SetReference([]float32{-1, -2, -3}, []float32{-4, -5, -6})
	for i := range 4 {
		a, _ := pb.Batch(i)
		b, _ := again.Batch(i)
		if d := cmp.Diff(tensors.MustCopyFlatData[int32](a[0]), tensors.MustCopyFlatData[int32](b[0])); d != "" {
			t.Fatalf("batch %d differs between two identical PairBatches:\n%s", i, d)
		}
	}
}

func TestFitPairKeepsSomePrompt(t *testing.T) {
	prompt := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	p, r, cut := fitPair(prompt, [2][]int32{{9, 9, 9, 9, 9, 9, 9, 10}, {9, 10}}, 8)
	if !cut || len(p) != 2 || len(r[0]) != 6 || len(r[1]) != 2 || p[0] != 7 {
		t.Errorf("fitPair: prompt %v, responses %v, cut %v; want the last 2 prompt tokens and the long response cut to 6", p, r, cut)
	}
}

func TestPairBatchesErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ex   PairExample
		want string
	}{
		{"empty prompt", PairExample{Chosen: []int32{1}, Rejected: []int32{2}}, "example 0: empty prompt"},
		{"empty response", PairExample{Prompt: []int32{1}, Chosen: []int32{1}}, "example 0: empty chosen or rejected"},
		{"vocab", PairExample{Prompt: []int32{1}, Chosen: []int32{11}, Rejected: []int32{2}}, "token id 11 outside"},
	} {
		_, err := NewPairBatches([]PairExample{tc.ex}, PairOptions{Batch: 1, Seq: 8, EOS: 10, VocabSize: 11})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestScoreReferenceMatchesSingleRows: bucketed reference scoring gives each
// row what scoring it alone gives.
func TestScoreReferenceMatchesSingleRows(t *testing.T) {
	backend := openGo(t)
	cfg := Config{VocabSize: 11, DModel: 16, NumHeads: 2, NumLayers: 1, MaxSeqLen: 32, PrefixVocab: 3}
	m, ctx := newModel(t, cfg)
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := NewPairBatches(tinyPairs(), PairOptions{Batch: 2, Seq: 9, EOS: 10, VocabSize: 11, WithPrefix: true})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := pb.ScoreReference(sc, 4, func(done, total int) { calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("6 rows in batches of 4: %d progress calls, want 2", calls)
	}
	for j := range pb.Len() {
		c, r := pb.Reference(j)
		for k, got := range []float32{c, r} {
			p, resp := pb.Row(j, k)
			want, err := sc.Score([][]int32{p}, [][]int32{resp}, []int32{pb.Prefix(j)})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(got)-want[0]) > 1e-4 {
				t.Errorf("pair %d row %d: bucketed %g, alone %g", j, k, got, want[0])
			}
		}
	}
}

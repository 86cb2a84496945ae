package ml

import (
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/google/go-cmp/cmp"
)

// TestBatchingIsDeterministic: batches are a pure function of (seed, index),
// every window appears once per epoch, and another seed shuffles differently.
func TestBatchingIsDeterministic(t *testing.T) {
	tokens := make([]int32, 10*4+1)
	for i := range tokens {
		tokens[i] = int32(i)
	}
	w, err := NewLMWindows(tokens, 2, 4, 42)
	if err != nil {
		t.Fatal(err)
	}
	firstTokens := func(w *LMWindows, i int) []int32 {
		b, err := w.Batch(i)
		if err != nil {
			t.Fatal(err)
		}
		flat := tensors.MustCopyFlatData[int32](b[0])
		return []int32{flat[0], flat[5]}
	}
	var epoch []int32
	for i := range 5 {
		epoch = append(epoch, firstTokens(w, i)...)
	}
	sorted := slices.Clone(epoch)
	slices.Sort(sorted)
	if diff := cmp.Diff([]int32{0, 4, 8, 12, 16, 20, 24, 28, 32, 36}, sorted); diff != "" {
		t.Fatalf("one epoch does not visit every window once (-want +got):\n%s", diff)
	}
	// Out-of-order access (as after a resume) gives the same batches.
	w2, _ := NewLMWindows(tokens, 2, 4, 42)
	for _, i := range []int{7, 3, 0, 12} {
		if diff := cmp.Diff(firstTokens(w, i), firstTokens(w2, i)); diff != "" {
			t.Errorf("batch %d differs between instances (-a +b):\n%s", i, diff)
		}
		if diff := cmp.Diff(ExampleIndices(i, 2, 10, 42), []int{int(firstTokens(w, i)[0] / 4), int(firstTokens(w, i)[1] / 4)}); diff != "" {
			t.Errorf("batch %d disagrees with ExampleIndices (-want +got):\n%s", i, diff)
		}
	}
	w3, _ := NewLMWindows(tokens, 2, 4, 43)
	var other []int32
	for i := range 5 {
		other = append(other, firstTokens(w3, i)...)
	}
	if slices.Equal(epoch, other) {
		t.Error("seeds 42 and 43 give the same order")
	}
}

package sft

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// TestPack: documents end in EOS, blocks of seq tokens start at a
// document and are filled with EOS, one EOS closes the stream (the last
// window's target), and a document longer than a block is an error.
func TestPack(t *testing.T) {
	tok := ml.ByteTokenizer{WithEOS: true}
	const E = 256
	got, err := Pack(tok, []string{"ab", "cde", "fghi", "j"}, 6)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{'a', 'b', E, E, E, E, 'c', 'd', 'e', E, E, E, 'f', 'g', 'h', 'i', E, E, 'j', E, E, E, E, E, E}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packed (-want +got):\n%s", diff)
	}
	if _, err := Pack(tok, []string{"abcdef"}, 6); err == nil {
		t.Error("a 7-token document fit a block of 6")
	}
}

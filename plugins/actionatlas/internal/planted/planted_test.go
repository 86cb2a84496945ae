package planted

import (
	"slices"
	"testing"
)

// bright lists the pixels of frame t whose red channel is the square's.
func bright(it Item, t int) []int {
	var out []int
	f := it.Clip.Frame(t)
	for p := range it.Clip.H * it.Clip.W {
		if f[3*p] >= 160 {
			out = append(out, p)
		}
	}
	return out
}

// TestOnlyOrderDiffers: every class shows the square at the centre in the
// middle, first and last frames, and visits each quadrant exactly once in
// between; classes differ in the order only.
func TestOnlyOrderDiffers(t *testing.T) {
	items, err := Generate(3, 200, 8)
	if err != nil {
		t.Fatal(err)
	}
	centre := []int{27, 28, 35, 36} // (3,3)-(4,4) of 8×8
	seen := map[int]int{}
	for i, it := range items {
		seen[it.Class]++
		for _, f := range []int{0, 7, 8, 15} {
			if got := bright(it, f); !slices.Equal(got, centre) {
				t.Fatalf("item %d (class %d) frame %d: square at %v, want the centre %v", i, it.Class, f, got, centre)
			}
		}
		quads := map[int]bool{}
		for _, f := range []int{2, 5, 10, 13} {
			px := bright(it, f)
			if len(px) != 4 {
				t.Fatalf("item %d frame %d: %d square pixels", i, f, len(px))
			}
			x, y := px[0]%8, px[0]/8
			quads[2*(y/4)+x/4] = true
		}
		if len(quads) != 4 {
			t.Errorf("item %d visits quadrants %v, want all four", i, quads)
		}
		if it.Choices[it.Answer] != it.Class {
			t.Errorf("item %d: answer %d is choice %d, class %d", i, it.Answer, it.Choices[it.Answer], it.Class)
		}
	}
	if len(seen) != 5 {
		t.Errorf("classes drawn: %v", seen)
	}
	if _, err := Generate(1, 1, 5); err == nil {
		t.Error("an odd size was accepted")
	}
	r := Record(7, items[0], "clips.safetensors#clip00007")
	if r.ID != "7" || r.Answer == "" || len(r.Choices()) != 5 || len(r.Descriptions) != 5 || r.Check() != nil {
		t.Errorf("record %+v", r)
	}
	if got := r.Choices()[items[0].Answer]; got != ClassNames[items[0].Class] {
		t.Errorf("answer names %q, class is %q", got, ClassNames[items[0].Class])
	}
}

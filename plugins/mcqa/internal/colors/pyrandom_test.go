package colors

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Reference values computed with CPython 3 here:
//
//	random.seed(10); [random.getrandbits(32) for _ in range(5)]
//	random.seed(10); [random.choice(range(n)) for n in [2,3,5,7,10,11,100,1000]]
//	random.seed(10); l = list(range(108)); random.shuffle(l); l[:6], l[-3:]
func TestPyRandomMatchesCPython(t *testing.T) {
	r := NewPyRandom(10)
	var got []uint32
	for range 5 {
		got = append(got, r.Uint32())
	}
	if d := cmp.Diff([]uint32{2454155475, 139951793, 1842064464, 2072586604, 2482883256}, got); d != "" {
		t.Errorf("getrandbits(32) after seed(10) (-python +go):\n%s", d)
	}
	r = NewPyRandom(10)
	var ch []int
	for _, n := range []int{2, 3, 5, 7, 10, 11, 100, 1000} {
		ch = append(ch, r.Choice(n))
	}
	if d := cmp.Diff([]int{0, 1, 3, 4, 0, 3, 59, 832}, ch); d != "" {
		t.Errorf("choice after seed(10) (-python +go):\n%s", d)
	}
	p := NewPyRandom(10).Shuffle(108)
	if d := cmp.Diff([]int{102, 29, 69, 18, 67, 71}, p[:6]); d != "" {
		t.Errorf("shuffle after seed(10), first 6 (-python +go):\n%s", d)
	}
	if d := cmp.Diff([]int{54, 4, 73}, p[105:]); d != "" {
		t.Errorf("shuffle after seed(10), last 3 (-python +go):\n%s", d)
	}
}

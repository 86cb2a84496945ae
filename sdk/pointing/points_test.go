package pointing

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestParseFormats(t *testing.T) {
	for _, tc := range []struct {
		text  string
		want  []Point
		label string
	}{
		{`<point x="31.2" y="70.0" alt="cat">cat</point>`, []Point{{31.2, 70}}, "cat"},
		{`Here: <points x1="10.0" y1="20.0" x2="55.5" y2="60.0" alt="two cats">two cats</points>.`, []Point{{10, 20}, {55.5, 60}}, "two cats"},
		{`<point x="0" y="100">dog</point> and <point y="5.5" x="1.0" alt="dog">dog</point>`, []Point{{0, 100}, {1, 5.5}}, "dog"},
		{`There are none.`, nil, ""},
		{`no tags <pointless words`, nil, ""},
		{`<point x="1.0" y="2.0" alt="a &amp; b">a &amp; b</point>`, []Point{{1, 2}}, "a & b"},
	} {
		got, err := Parse(tc.text)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.text, err)
			continue
		}
		if !reflect.DeepEqual(got.Points, tc.want) || got.Label != tc.label {
			t.Errorf("Parse(%q) = %+v, want %v %q", tc.text, got, tc.want, tc.label)
		}
	}
	for _, bad := range []string{
		`<point x="31.2" alt="cat">cat</point>`,            // no y
		`<point x="31.2" y="170.0">cat</point>`,            // > 100
		`<point x="-1" y="1">cat</point>`,                  // < 0
		`<point x="abc" y="1">cat</point>`,                 // not a number
		`<point x="NaN" y="1">cat</point>`,                 // NaN
		`<point x="1" y="1">cat</points>`,                  // tags disagree
		`<point x="1" y="1">cat`,                           // unclosed
		`<points x1="1" y1="2" x2="3">c</points>`,          // incomplete pair
		`<points x1="1" y1="2" x3="3" y3="4">c</points>`,   // gap
		`<points alt="c">c</points>`,                       // no points
		`<point x="1" y="1" x="2">cat</point>`,             // repeated attribute
		`ok <point x="1" y="1">a</point> then <point x=1>`, // trailing malformed
		`</point> <point x="1" y="1">a</point>`,            // stray close
		`<point x="1" y="1" junk>a</point>`,                // bare attribute
	} {
		if a, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", bad, a)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	if got := Format([]Point{{31.24, 69.96}}, "cat"); got != `<point x="31.2" y="70.0" alt="cat">cat</point>` {
		t.Errorf("Format one: %s", got)
	}
	if got := Format([]Point{{10, 20}, {55.55, 60}}, "cats"); got != `<points x1="10.0" y1="20.0" x2="55.6" y2="60.0" alt="cats">cats</points>` {
		t.Errorf("Format two: %s", got)
	}
	if got := Format(nil, "cats"); got != "There are none." {
		t.Errorf("Format none: %s", got)
	}
	pts := []Point{{1.5, 2.5}, {99.9, 0}, {50, 50}}
	a, err := Parse(Format(pts, `a "quoted" <label>`))
	if err != nil || !reflect.DeepEqual(a.Points, pts) || a.Label != `a "quoted" <label>` {
		t.Errorf("round trip: %+v %v", a, err)
	}
}

func TestCounting(t *testing.T) {
	pts := []Point{{10, 10}, {20, 20}, {30, 30}}
	s := FormatCount(pts, "stars")
	if s != `Counting the <points x1="10.0" y1="10.0" x2="20.0" y2="20.0" x3="30.0" y3="30.0" alt="stars">stars</points> shows a total of 3.` {
		t.Errorf("FormatCount: %s", s)
	}
	for _, tc := range []struct {
		text string
		n    int
		ok   bool
	}{
		{s, 3, true},
		{FormatCount(nil, "stars"), 0, true},
		{`<points x1="1" y1="1" x2="2" y2="2">a</points>`, 2, true},
		{"I see 4 circles.", 4, true},
		{"There are two.", 2, true},
		{"no idea", 0, false},
		{`<point x="1">a</point>`, 0, false},
	} {
		n, ok := ParseCount(tc.text)
		if n != tc.n || ok != tc.ok {
			t.Errorf("ParseCount(%q) = %d %v, want %d %v", tc.text, n, ok, tc.n, tc.ok)
		}
	}
}

// box is a w×h mask with the rectangle [x0,x1]×[y0,y1] (inclusive) set.
func box(w, h, x0, y0, x1, y1 int) []bool {
	m := make([]bool, w*h)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			m[y*w+x] = true
		}
	}
	return m
}

func TestPointingEval(t *testing.T) {
	const W, H = 20, 10
	objs := []Object{{Mask: box(W, H, 2, 2, 4, 4)}, {Mask: box(W, H, 14, 5, 17, 8)}}
	// Pixel = percent·size/100: x 15% of 20 = 3, y 30% of 10 = 3.
	hitA := Point{15, 30}
	hitB := Point{77.5, 65} // (15.5, 6.5) → rounds to (16, 7)
	miss := Point{50, 50}
	for _, tc := range []struct {
		name    string
		answer  string
		objs    []Object
		p, r, f float64
		valid   bool
	}{
		{"both", Format([]Point{hitA, hitB}, "o"), objs, 1, 1, 1, true},
		{"both, other order", Format([]Point{hitB, hitA}, "o"), objs, 1, 1, 1, true},
		{"one", Format([]Point{hitA}, "o"), objs, 1, 0.5, 2.0 / 3, true},
		{"one hit one miss", Format([]Point{hitA, miss}, "o"), objs, 0.5, 0.5, 0.5, true},
		{"extra", Format([]Point{hitA, hitB, miss}, "o"), objs, 2.0 / 3, 1, 0.8, true},
		{"nothing predicted", "There are none.", objs, 0, 0, 0, true},
		{"empty truth, none", "There are none.", nil, 1, 1, 1, true},
		{"empty truth, a point", Format([]Point{miss}, "o"), nil, 0, 0, 0, true},
		{"invalid", `<point x="15">o</point>`, objs, 0, 0, 0, false},
		{"invalid, empty truth", `<point x="15">o</point>`, nil, 0, 0, 0, false},
		// Rounding: x 12.4% of 20 = 2.48 → 2 (inside); 11.0% → 2.2 → 2; 10.0% → 2.0; 9.9% → 1.98 → 2; 7.4% → 1.48 → 1 (outside).
		{"rounding inside", `<point x="9.9" y="30.0">o</point>`, objs[:1], 1, 1, 1, true},
		{"rounding outside", `<point x="7.4" y="30.0">o</point>`, objs[:1], 0, 0, 0, true},
		{"edge of image", `<point x="100.0" y="100.0">o</point>`, []Object{{Mask: box(W, H, 0, 0, W-1, H-1)}}, 0, 0, 0, true},
	} {
		s, err := ScoreAnswer(tc.answer, W, H, tc.objs)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(s.Precision-tc.p) > 1e-9 || math.Abs(s.Recall-tc.r) > 1e-9 || math.Abs(s.F1-tc.f) > 1e-9 || s.Valid != tc.valid {
			t.Errorf("%s: %+v, want P %.3f R %.3f F1 %.3f valid %v", tc.name, s, tc.p, tc.r, tc.f, tc.valid)
		}
	}
	// Matching is one-to-one and global: both points near object A's
	// reference would each claim A greedily; the Hungarian assignment gives
	// the second to B (where it misses), so only one hit counts.
	near := []Object{{Mask: box(W, H, 2, 2, 4, 4), RefX: 3, RefY: 3, HasRef: true}, {Mask: box(W, H, 14, 5, 17, 8), RefX: 15, RefY: 6, HasRef: true}}
	s, _ := ScoreAnswer(Format([]Point{{15, 30}, {20, 40}}, "o"), W, H, near)
	if s.Hits != 1 || s.Precision != 0.5 || s.Recall != 0.5 {
		t.Errorf("one-to-one matching: %+v", s)
	}
	if _, err := ScoreAnswer("x", W, H, []Object{{Mask: make([]bool, 3)}}); err == nil {
		t.Error("a mask of the wrong size was accepted")
	}
	m := Mean([]Score{{Precision: 1, Recall: 1, F1: 1}, {}})
	if m.F1 != 0.5 || m.Precision != 0.5 {
		t.Errorf("Mean: %+v", m)
	}
}

// TestHungarianMatchesBruteForce on random rectangular matrices.
func TestHungarianMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n, m := 1+r.IntN(5), 1+r.IntN(5)
		cost := make([][]float64, n)
		for i := range cost {
			cost[i] = make([]float64, m)
			for j := range cost[i] {
				cost[i][j] = float64(r.IntN(20))
			}
		}
		got := Hungarian(cost)
		total, used, pairs := 0.0, map[int]bool{}, 0
		for i, j := range got {
			if j < 0 {
				continue
			}
			if used[j] {
				t.Fatalf("trial %d: column %d used twice", trial, j)
			}
			used[j] = true
			total += cost[i][j]
			pairs++
		}
		if pairs != min(n, m) {
			t.Fatalf("trial %d: %d pairs, want %d", trial, pairs, min(n, m))
		}
		if best := bruteAssign(cost, 0, map[int]bool{}, min(n, m)); math.Abs(total-best) > 1e-9 {
			t.Fatalf("trial %d %v: total %v, optimum %v", trial, cost, total, best)
		}
	}
}

// bruteAssign is the least cost of matching need more rows from row i on.
func bruteAssign(cost [][]float64, i int, used map[int]bool, need int) float64 {
	if need == 0 {
		return 0
	}
	if len(cost)-i < need {
		return math.Inf(1)
	}
	best := bruteAssign(cost, i+1, used, need) // skip row i
	for j := range cost[i] {
		if !used[j] {
			used[j] = true
			best = min(best, cost[i][j]+bruteAssign(cost, i+1, used, need-1))
			delete(used, j)
		}
	}
	return best
}

// FuzzParse: Parse never panics, and what it accepts survives Format.
func FuzzParse(f *testing.F) {
	f.Add(`<point x="31.2" y="70.0" alt="cat">cat</point>`)
	f.Add(`<points x1="10.0" y1="20.0" x2="55.5" y2="60.0" alt="cats">cats</points>`)
	f.Add(`Counting the <points x1="1" y1="1">a</points> shows a total of 1.`)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		ParseCount(s)
		if err != nil {
			return
		}
		b, err := Parse(Format(a.Points, a.Label))
		if err != nil {
			t.Fatalf("Format of %+v does not parse: %v", a, err)
		}
		if len(b.Points) != len(a.Points) {
			t.Fatalf("round trip of %q: %d points, want %d", s, len(b.Points), len(a.Points))
		}
		for i := range a.Points {
			if math.Abs(a.Points[i].X-b.Points[i].X) > 0.05+1e-9 || math.Abs(a.Points[i].Y-b.Points[i].Y) > 0.05+1e-9 {
				t.Fatalf("round trip of %q: %v → %v", s, a.Points[i], b.Points[i])
			}
		}
	})
}

// Package planted generates the vlm plugin's planted data: coloured shapes
// on noise with their exact masks, and for each image a caption, pointing
// questions and a counting question whose answers are in Molmo's formats
// (sdk/pointing). The truth (masks, counts) is known, so pointing and
// counting can be scored exactly.
package planted

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/shammie-ml/shammie/sdk/pointing"
)

// Options of the generator.
type Options struct {
	Images     int // images in all
	Size       int // side in pixels (square images)
	MinObjects int // objects per image, drawn uniformly in [MinObjects, MaxObjects]
	MaxObjects int
	Shapes     []string // of circle, square, triangle
	Colors     []string // of red, green, blue, yellow, white
	Radius     float64  // object radius as a fraction of the side
	Noise      float64  // background noise amplitude, 0–1
	TestShare  float64  // share of images held out
	Seed       int64
}

// Object is one shape of an image.
type Object struct {
	Shape  string  `json:"shape"`
	Color  string  `json:"color"`
	X      float64 `json:"x"` // centre, pixels
	Y      float64 `json:"y"`
	Radius float64 `json:"radius"`
	Mask   int     `json:"mask"` // index into the bundle's masks
}

// Label is "red circle".
func (o Object) Label() string { return o.Color + " " + o.Shape }

// Scene is one image's truth.
type Scene struct {
	Index   int      `json:"index"`
	Split   string   `json:"split"` // train | test
	Objects []Object `json:"objects"`
}

// Example is one question about an image (a line of the examples JSONL).
type Example struct {
	Image   int      `json:"image"`
	Split   string   `json:"split"`
	Task    string   `json:"task"` // caption | point | count
	Prompt  string   `json:"prompt"`
	Answer  string   `json:"answer"`
	Label   string   `json:"label,omitempty"`
	Masks   []int    `json:"masks"` // the objects the answer points at (point, count)
	Count   int      `json:"count"` // count: the true count
	Objects []Object `json:"objects,omitempty"`
}

var palette = map[string][3]uint8{"red": {220, 40, 40}, "green": {40, 190, 60}, "blue": {50, 80, 230},
	"yellow": {230, 210, 40}, "white": {245, 245, 245}}

// KnownShapes and KnownColors are what Options may name.
var (
	KnownShapes = []string{"circle", "square", "triangle"}
	KnownColors = []string{"red", "green", "blue", "yellow", "white"}
)

// Data is a generated set.
type Data struct {
	Size     int
	Pixels   []uint8  // [N, Size, Size, 3]
	Masks    [][]bool // per object, Size×Size
	Scenes   []Scene
	Examples []Example
}

// Generate draws the data set.
func Generate(o Options) (*Data, error) {
	if o.Images <= 0 || o.Size < 8 || o.MinObjects < 0 || o.MaxObjects < max(1, o.MinObjects) {
		return nil, fmt.Errorf("planted: need images > 0, size ≥ 8 and 0 ≤ min_objects ≤ max_objects, max_objects ≥ 1")
	}
	for _, s := range o.Shapes {
		if !contains(KnownShapes, s) {
			return nil, fmt.Errorf("planted: unknown shape %q (known: %s)", s, strings.Join(KnownShapes, ", "))
		}
	}
	for _, c := range o.Colors {
		if _, ok := palette[c]; !ok {
			return nil, fmt.Errorf("planted: unknown colour %q (known: %s)", c, strings.Join(KnownColors, ", "))
		}
	}
	if len(o.Shapes) == 0 || len(o.Colors) == 0 {
		return nil, fmt.Errorf("planted: need at least one shape and one colour")
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), 0x766c6d))
	n := o.Size
	d := &Data{Size: n, Pixels: make([]uint8, o.Images*n*n*3)}
	nTest := int(math.Round(o.TestShare * float64(o.Images)))
	for i := range o.Images {
		split := "train"
		if i >= o.Images-nTest {
			split = "test"
		}
		pix := d.Pixels[i*n*n*3 : (i+1)*n*n*3]
		for k := range pix {
			pix[k] = uint8(128 + (r.Float64()*2-1)*127*o.Noise)
		}
		sc := Scene{Index: i, Split: split}
		count := o.MinObjects + r.IntN(o.MaxObjects-o.MinObjects+1)
		rad := o.Radius * float64(n)
		for range count {
			obj, ok := place(r, sc.Objects, n, rad)
			if !ok {
				break
			}
			obj.Shape, obj.Color = o.Shapes[r.IntN(len(o.Shapes))], o.Colors[r.IntN(len(o.Colors))]
			mask := drawMask(obj, n)
			col := palette[obj.Color]
			for p, in := range mask {
				if in {
					copy(pix[p*3:p*3+3], col[:])
				}
			}
			obj.Mask = len(d.Masks)
			d.Masks = append(d.Masks, mask)
			sc.Objects = append(sc.Objects, obj)
		}
		d.Scenes = append(d.Scenes, sc)
		d.Examples = append(d.Examples, Questions(sc, n, r, o.Shapes)...)
	}
	return d, nil
}

// place finds a centre whose object does not overlap the others.
func place(r *rand.Rand, others []Object, n int, rad float64) (Object, bool) {
	for range 200 {
		x, y := rad+r.Float64()*(float64(n)-2*rad), rad+r.Float64()*(float64(n)-2*rad)
		ok := true
		for _, o := range others {
			if math.Hypot(o.X-x, o.Y-y) < 2.2*rad {
				ok = false
				break
			}
		}
		if ok {
			return Object{X: x, Y: y, Radius: rad}, true
		}
	}
	return Object{}, false
}

// drawMask rasterises an object (pixel centres at +0.5).
func drawMask(o Object, n int) []bool {
	m := make([]bool, n*n)
	for y := range n {
		for x := range n {
			dx, dy := float64(x)+0.5-o.X, float64(y)+0.5-o.Y
			var in bool
			switch o.Shape {
			case "circle":
				in = dx*dx+dy*dy <= o.Radius*o.Radius
			case "square":
				s := o.Radius * 0.9
				in = math.Abs(dx) <= s && math.Abs(dy) <= s
			case "triangle": // apex up, base at +radius
				h := o.Radius
				in = dy >= -h && dy <= h && math.Abs(dx) <= (dy+h)/2
			}
			m[y*n+x] = in
		}
	}
	return m
}

// where names a point's third of the image: "top left", "centre", ….
func where(x, y float64, n int) string {
	v := []string{"top", "middle", "bottom"}[min(2, int(3*y/float64(n)))]
	h := []string{"left", "centre", "right"}[min(2, int(3*x/float64(n)))]
	if v == "middle" && h == "centre" {
		return "centre"
	}
	return v + " " + h
}

// pct is an object's reference point in percent: the centroid of its mask
// (the shape's centre for circles and squares).
func pct(o Object, n int) pointing.Point {
	return pointing.Point{X: 100 * o.X / float64(n), Y: 100 * o.Y / float64(n)}
}

// Questions are the image's caption, pointing questions (each distinct
// label, each shape) and one counting question (a shape, or all objects).
func Questions(sc Scene, n int, r *rand.Rand, shapes []string) []Example {
	base := Example{Image: sc.Index, Split: sc.Split}
	var out []Example
	var parts []string
	for _, o := range sc.Objects {
		parts = append(parts, fmt.Sprintf("a %s at the %s", o.Label(), where(o.X, o.Y, n)))
	}
	cap := "There is nothing on the noise."
	if len(parts) > 0 {
		cap = "There is " + strings.Join(parts, ", ") + "."
	}
	e := base
	e.Task, e.Prompt, e.Answer = "caption", "Describe the image.", cap
	out = append(out, e)
	byLabel := map[string][]Object{}
	var labels []string
	for _, o := range sc.Objects {
		if _, ok := byLabel[o.Label()]; !ok {
			labels = append(labels, o.Label())
		}
		byLabel[o.Label()] = append(byLabel[o.Label()], o)
	}
	point := func(label string, objs []Object) {
		e := base
		e.Task, e.Label, e.Prompt = "point", label, "Point to the "+label+"."
		objs = append([]Object{}, objs...)
		sortReading(objs)
		var pts []pointing.Point
		for _, o := range objs {
			pts = append(pts, pct(o, n))
			e.Masks = append(e.Masks, o.Mask)
		}
		e.Answer, e.Count, e.Objects = pointing.Format(pts, label), len(objs), objs
		out = append(out, e)
	}
	for _, l := range labels {
		point(l, byLabel[l])
	}
	// Counting: the objects of one shape (possibly none), in reading order.
	shape := shapes[r.IntN(len(shapes))]
	var objs []Object
	for _, o := range sc.Objects {
		if o.Shape == shape {
			objs = append(objs, o)
		}
	}
	sortReading(objs)
	e = base
	plural := shape + "s"
	e.Task, e.Label, e.Prompt = "count", plural, "How many "+plural+" are there?"
	var pts []pointing.Point
	for _, o := range objs {
		pts = append(pts, pct(o, n))
		e.Masks = append(e.Masks, o.Mask)
	}
	e.Answer, e.Count, e.Objects = pointing.FormatCount(pts, plural), len(objs), objs
	out = append(out, e)
	return out
}

// sortReading orders objects top to bottom, then left to right (Molmo's
// annotators point in reading order; a fixed order makes the answer a
// function of the image).
func sortReading(objs []Object) {
	for i := 1; i < len(objs); i++ {
		for j := i; j > 0 && less(objs[j], objs[j-1]); j-- {
			objs[j], objs[j-1] = objs[j-1], objs[j]
		}
	}
}

func less(a, b Object) bool {
	if math.Abs(a.Y-b.Y) > a.Radius {
		return a.Y < b.Y
	}
	return a.X < b.X
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Package planted generates the actionatlas plugin's planted truth: 16-frame
// clips of a bright square that visits the four quadrants of the frame in a
// class-specific order, returning to the centre in between. The five
// classes differ only in that order:
//
//	frame   0  1-3  4-6  7-8  9-11  12-14  15
//	place   C  s1   s2   C    s3    s4     C     (C: centre; s1…s4 the quadrants)
//
// so the middle frame (8, what one frame sampled by count shows) and the
// first and last frames (two frames) are the centre for every class:
// chance. Four frames (0, 5, 10, 15) show s2 and s3, which two classes
// share (80 % at best); eight (0, 2, 4, 6, 8, 10, 12, 15) show all four
// quadrants in order (100 %). The square's colour, its place inside each
// quadrant and the background noise are random.
package planted

import (
	"fmt"
	"math/rand/v2"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/clip"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/protocol"
)

// Frames per planted clip, and the clip rate written to the bundle.
const (
	Frames = 16
	FPS    = 8
)

// Quadrants.
const (
	tl = iota
	tr
	br
	bl
	centre
)

var placeNames = []string{"top left", "top right", "bottom right", "bottom left"}

// classes are the quadrant orders s1…s4; classes 0 and 2 share s2 and s3.
var classes = [5][4]int{
	{tl, tr, br, bl},
	{tr, tl, br, bl},
	{bl, tr, br, tl},
	{br, bl, tl, tr},
	{tl, bl, tr, br},
}

// timeline maps each frame to the index of its quadrant in the class
// order, or -1 for the centre.
var timeline = [Frames]int{-1, 0, 0, 0, 1, 1, 1, -1, -1, 2, 2, 2, 3, 3, 3, -1}

// ClassNames are the five actions as the questions name them: made-up
// action names, as a sport's glossary has (a model must learn which motion
// each is); Descriptions spell the motion out.
var ClassNames = []string{"hook", "fade", "pivot", "drift", "cut"}

// Descriptions are the classes' choice descriptions: the quadrants in order.
var Descriptions = func() []string {
	out := make([]string, len(classes))
	for i, c := range classes {
		for j, q := range c {
			if j > 0 {
				out[i] += ", then "
			}
			out[i] += placeNames[q]
		}
	}
	return out
}()

// Question is the planted questions' text.
const Question = "What best describes the motion of the square?"

// Item is one planted clip and its question.
type Item struct {
	Class   int
	Choices []int // a permutation of the classes; Answer is Choices' index of Class
	Answer  int
	Clip    clip.Clip
}

// Generate draws n clips of size×size pixels (size ≥ 4 and even; the
// square is size/4 wide) from seed; classes are balanced in expectation.
func Generate(seed uint64, n, size int) ([]Item, error) {
	if size < 4 || size%2 != 0 {
		return nil, fmt.Errorf("planted clips need an even size ≥ 4, got %d", size)
	}
	r := rand.New(rand.NewPCG(seed, 0x61746c73))
	out := make([]Item, n)
	for i := range out {
		c := r.IntN(len(classes))
		perm := r.Perm(len(classes))
		ans := 0
		for j, p := range perm {
			if p == c {
				ans = j
			}
		}
		out[i] = Item{Class: c, Choices: perm, Answer: ans, Clip: render(r, classes[c], size)}
	}
	return out, nil
}

// render draws the clip: dark noise and a bright square of a random colour
// at the centre or somewhere inside its quadrant (one place per visit).
func render(r *rand.Rand, order [4]int, size int) clip.Clip {
	c := clip.Clip{T: Frames, H: size, W: size, FPS: FPS, Pixels: make([]byte, Frames*size*size*3)}
	sq, half := max(size/4, 1), size/2
	col := [3]byte{byte(160 + r.IntN(96)), byte(160 + r.IntN(96)), byte(160 + r.IntN(96))}
	var offs [4][2]int // place inside each visited quadrant
	for k := range offs {
		offs[k] = [2]int{r.IntN(half - sq + 1), r.IntN(half - sq + 1)}
	}
	for t := range Frames {
		x, y := half-sq/2-sq%2, half-sq/2-sq%2 // centre
		if k := timeline[t]; k >= 0 {
			q := order[k]
			x, y = offs[k][0], offs[k][1]
			if q == tr || q == br {
				x += half
			}
			if q == br || q == bl {
				y += half
			}
		}
		f := c.Frame(t)
		for i := range f {
			f[i] = byte(r.IntN(40))
		}
		for dy := range sq {
			for dx := range sq {
				p := ((y+dy)*size + x + dx) * 3
				copy(f[p:p+3], col[:])
			}
		}
	}
	return c
}

// Record renders an item as ActionAtlas metadata; clipRef names its clip.
func Record(id int, it Item, clipRef string) protocol.Record {
	names := make([]string, len(it.Choices))
	descs := make([]string, len(it.Choices))
	for j, c := range it.Choices {
		names[j], descs[j] = ClassNames[c], Descriptions[c]
	}
	return protocol.Record{Descriptions: descs, ID: protocol.Scalar(fmt.Sprint(id)), YouTubeID: fmt.Sprintf("planted%05d", id), Question: Question,
		ChoicesStr: protocol.NumberedChoices(names), Answer: protocol.Scalar(fmt.Sprint(it.Answer + 1)),
		StartTimestamp: "0", EndTimestamp: protocol.Scalar(fmt.Sprint(float64(Frames) / FPS)), Clip: clipRef}
}

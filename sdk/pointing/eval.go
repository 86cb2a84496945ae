package pointing

import (
	"fmt"
	"math"
)

// Object is one ground-truth object of an image: its mask, row-major
// (Mask[y*W+x], W×H the image's size), and optionally the reference point
// (in pixels) predictions are matched to; without one, the mask's centroid.
type Object struct {
	Mask   []bool
	RefX   float64
	RefY   float64
	HasRef bool
}

// Score is one answer's PointingEval result.
type Score struct {
	Precision, Recall, F1 float64
	Hits                  int
	Valid                 bool // the answer parsed
}

// ScoreAnswer is Molmo's PointingEval for one answer about a W×H image:
// the answer's points (percent) are turned into pixels (x·W/100, y·H/100),
// matched one-to-one to the objects by the Hungarian algorithm on Euclidean
// distance to each object's reference point, and a matched prediction is a
// hit when its rounded pixel lies inside that object's mask. Precision =
// hits/predictions, recall = hits/objects, F1 their harmonic mean (0 when
// both are 0). With no objects, all three are 1 if nothing is predicted and
// 0 otherwise. An answer that does not parse scores 0 (Valid false).
func ScoreAnswer(answer string, w, h int, objects []Object) (Score, error) {
	for i, o := range objects {
		if len(o.Mask) != w*h {
			return Score{}, fmt.Errorf("pointing: object %d: mask has %d values, want %d×%d", i, len(o.Mask), w, h)
		}
	}
	ans, err := Parse(answer)
	if err != nil {
		return Score{}, nil
	}
	preds := make([][2]float64, len(ans.Points))
	for i, p := range ans.Points {
		preds[i] = [2]float64{p.X * float64(w) / 100, p.Y * float64(h) / 100}
	}
	return scorePixels(preds, w, h, objects), nil
}

func scorePixels(preds [][2]float64, w, h int, objects []Object) Score {
	s := Score{Valid: true}
	if len(objects) == 0 {
		if len(preds) == 0 {
			s.Precision, s.Recall, s.F1 = 1, 1, 1
		}
		return s
	}
	if len(preds) == 0 {
		return s
	}
	refs := make([][2]float64, len(objects))
	for j, o := range objects {
		if o.HasRef {
			refs[j] = [2]float64{o.RefX, o.RefY}
		} else {
			refs[j] = maskCentroid(o.Mask, w, h)
		}
	}
	cost := make([][]float64, len(preds))
	for i, p := range preds {
		cost[i] = make([]float64, len(objects))
		for j, r := range refs {
			cost[i][j] = math.Hypot(p[0]-r[0], p[1]-r[1])
		}
	}
	for i, j := range Hungarian(cost) {
		if j < 0 {
			continue
		}
		x, y := int(math.Round(preds[i][0])), int(math.Round(preds[i][1]))
		if x >= 0 && x < w && y >= 0 && y < h && objects[j].Mask[y*w+x] {
			s.Hits++
		}
	}
	s.Precision = float64(s.Hits) / float64(len(preds))
	s.Recall = float64(s.Hits) / float64(len(objects))
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}

func maskCentroid(mask []bool, w, h int) [2]float64 {
	var sx, sy, n float64
	for y := range h {
		for x := range w {
			if mask[y*w+x] {
				sx, sy, n = sx+float64(x), sy+float64(y), n+1
			}
		}
	}
	if n == 0 {
		return [2]float64{math.Inf(1), math.Inf(1)}
	}
	return [2]float64{sx / n, sy / n}
}

// Mean is the mean of several answers' scores (Molmo reports the means of
// precision, recall and F1 over examples); invalid answers count as 0.
func Mean(scores []Score) Score {
	var m Score
	if len(scores) == 0 {
		return m
	}
	for _, s := range scores {
		m.Precision += s.Precision
		m.Recall += s.Recall
		m.F1 += s.F1
		m.Hits += s.Hits
	}
	n := float64(len(scores))
	m.Precision, m.Recall, m.F1, m.Valid = m.Precision/n, m.Recall/n, m.F1/n, true
	return m
}

// Hungarian solves the rectangular assignment problem: it returns, for each
// row i of cost (n×m, all rows the same length), the column assigned to it
// (-1 when n > m leaves it out), minimising the total cost over
// min(n, m) pairs. Infinite costs are replaced by a large finite value.
// O(min·max²) (Kuhn–Munkres with potentials).
func Hungarian(cost [][]float64) []int {
	n := len(cost)
	if n == 0 {
		return nil
	}
	m := len(cost[0])
	out := make([]int, n)
	for i := range out {
		out[i] = -1
	}
	if m == 0 {
		return out
	}
	big := 0.0
	for _, r := range cost {
		for _, v := range r {
			if !math.IsInf(v, 0) && !math.IsNaN(v) {
				big = max(big, math.Abs(v))
			}
		}
	}
	big = big*float64(n+m) + 1
	transposed := n > m
	rows, cols := n, m
	at := func(i, j int) float64 { // 0-based, in the (rows ≤ cols) orientation
		var v float64
		if transposed {
			v = cost[j][i]
		} else {
			v = cost[i][j]
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return big
		}
		return v
	}
	if transposed {
		rows, cols = m, n
	}
	// e-maxx formulation, 1-based with a virtual column 0.
	u := make([]float64, rows+1)
	v := make([]float64, cols+1)
	p := make([]int, cols+1) // p[j]: row matched to column j
	way := make([]int, cols+1)
	for i := 1; i <= rows; i++ {
		p[0] = i
		j0 := 0
		minv := make([]float64, cols+1)
		used := make([]bool, cols+1)
		for j := range minv {
			minv[j] = math.Inf(1)
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= cols; j++ {
				if used[j] {
					continue
				}
				cur := at(i0-1, j-1) - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= cols; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	for j := 1; j <= cols; j++ {
		if p[j] == 0 {
			continue
		}
		if transposed {
			out[j-1] = p[j] - 1
		} else {
			out[p[j]-1] = j - 1
		}
	}
	return out
}

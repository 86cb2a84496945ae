package pipeline

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/vlm/internal/model"
	"github.com/shammie-ml/shammie/plugins/vlm/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pointing"
)

// Metrics are the held-out scores.
type Metrics struct {
	Pointing       pointing.Score `json:"pointing"`        // mean PointingEval of the model
	Centre         pointing.Score `json:"centre_baseline"` // one point at the image centre
	PointItems     int            `json:"point_items"`
	Valid          float64        `json:"pointing_valid"` // share of pointing answers that parse and hold a point
	CountExact     float64        `json:"count_exact"`
	CountWithin1   float64        `json:"count_within1"`
	MajorityExact  float64        `json:"count_majority_exact"` // always the most frequent training count
	MajorityWithin float64        `json:"count_majority_within1"`
	CountChance    float64        `json:"count_chance"` // 1 / distinct training counts
	CountItems     int            `json:"count_items"`
	Misses         Misses         `json:"pointing_misses"`
}

// Misses says where the predicted points land and how F1 falls with the
// number of objects: a point on another object of the image is a binding
// error (an object found, the wrong label), one on the background a
// localisation error.
type Misses struct {
	OnTarget     float64 `json:"on_target"` // shares of all predicted points
	OnOther      float64 `json:"on_other_object"`
	OnBackground float64 `json:"on_background"`
	// Of the points on another object, the shares on one of the named
	// colour and of the named shape: which half of the label was missed.
	OtherSameColor float64 `json:"other_same_color"`
	OtherSameShape float64 `json:"other_same_shape"`
	Points         int     `json:"points"`
	// F1ByObjects is the mean F1 by the image's object count; ItemsByObjects
	// the questions behind each.
	F1ByObjects    map[int]float64 `json:"f1_by_objects"`
	ItemsByObjects map[int]int     `json:"items_by_objects"`
}

// misses classifies the predicted points of pointing answers (scored
// beside them) against each image's objects: masks[image] holds all of
// them, e.Masks the ones the question names, labels[mask] their labels.
func misses(pts []planted.Example, answers []string, scores []pointing.Score, masks map[int][]int, labels map[int]string, b *planted.Bundle) Misses {
	m := Misses{F1ByObjects: map[int]float64{}, ItemsByObjects: map[int]int{}}
	for i, e := range pts {
		n := len(masks[e.Image])
		m.F1ByObjects[n] += scores[i].F1
		m.ItemsByObjects[n]++
		a, err := pointing.Parse(answers[i])
		if err != nil {
			continue
		}
		for _, p := range a.Points {
			x, y := int(math.Round(p.X*float64(b.W)/100)), int(math.Round(p.Y*float64(b.H)/100))
			m.Points++
			switch {
			case inAny(b, e.Masks, x, y):
				m.OnTarget++
			case inAny(b, masks[e.Image], x, y):
				m.OnOther++
				other := strings.Fields(labels[hit(b, masks[e.Image], x, y)])
				named := strings.Fields(e.Label)
				if len(other) == 2 && len(named) == 2 {
					m.OtherSameColor += b2f(other[0] == named[0])
					m.OtherSameShape += b2f(other[1] == named[1])
				}
			default:
				m.OnBackground++
			}
		}
	}
	for n, k := range m.ItemsByObjects {
		m.F1ByObjects[n] /= float64(k)
	}
	if m.OnOther > 0 {
		m.OtherSameColor, m.OtherSameShape = m.OtherSameColor/m.OnOther, m.OtherSameShape/m.OnOther
	}
	if m.Points > 0 {
		m.OnTarget, m.OnOther, m.OnBackground = m.OnTarget/float64(m.Points), m.OnOther/float64(m.Points), m.OnBackground/float64(m.Points)
	}
	return m
}

func inAny(b *planted.Bundle, masks []int, x, y int) bool { return hit(b, masks, x, y) >= 0 }

// hit is the mask (of masks) holding pixel (x, y), or -1.
func hit(b *planted.Bundle, masks []int, x, y int) int {
	if x < 0 || x >= b.W || y < 0 || y >= b.H {
		return -1
	}
	for _, k := range masks {
		if b.Masks[k][y*b.W+x] {
			return k
		}
	}
	return -1
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// imageMasks are the masks of each image's objects and each mask's label,
// from the pointing questions (one per distinct label, together naming
// every object).
func imageMasks(exs []planted.Example) (map[int][]int, map[int]string) {
	masks, labels := map[int][]int{}, map[int]string{}
	for _, e := range exs {
		if e.Task == "point" {
			masks[e.Image] = append(masks[e.Image], e.Masks...)
			for _, k := range e.Masks {
				labels[k] = e.Label
			}
		}
	}
	return masks, labels
}

// Prediction is one line of the predictions artifact.
type Prediction struct {
	Image  int     `json:"image"`
	Task   string  `json:"task"`
	Prompt string  `json:"prompt"`
	Truth  string  `json:"truth"`
	Answer string  `json:"answer"`
	F1     float64 `json:"f1,omitempty"`
	Count  int     `json:"count,omitempty"`
	Said   int     `json:"said,omitempty"`
}

const evalBatch = 32

// evaluate answers the held-out questions q with a, scores them beside the
// baselines, and writes the predictions and the plot.
func evaluate(run *sdk.Run, a *model.Answerer, m *model.Model, d *Data, l *model.Layout, q questions) (map[string]cty.Value, error) {
	ms, preds, err := q.score(a, m, d, l, func(done, all int) { run.Progress("evaluating", int64(done), int64(all), "questions") })
	if err != nil {
		return nil, err
	}
	run.Logf("held out: pointing P/R/F1 %.3f/%.3f/%.3f on %d questions, %.0f%% well-formed (centre baseline F1 %.3f); counting exact %.3f, ±1 %.3f on %d (majority %.3f/%.3f, chance %.3f)",
		ms.Pointing.Precision, ms.Pointing.Recall, ms.Pointing.F1, ms.PointItems, 100*ms.Valid, ms.Centre.F1,
		ms.CountExact, ms.CountWithin1, ms.CountItems, ms.MajorityExact, ms.MajorityWithin, ms.CountChance)
	if mi := ms.Misses; mi.Points > 0 {
		run.Logf("held out: of %d predicted points %.0f%% on a named object, %.0f%% on another object (binding errors: %.0f%% of them of the named colour, %.0f%% of the named shape), %.0f%% on the background; F1 by objects in the image %s",
			mi.Points, 100*mi.OnTarget, 100*mi.OnOther, 100*mi.OtherSameColor, 100*mi.OtherSameShape, 100*mi.OnBackground, byObjects(mi))
	}
	if err := run.WriteArtifact("predictions", "predictions.jsonl", func(path string) error { return writeJSONL(path, preds) }); err != nil {
		return nil, err
	}
	if err := run.WriteArtifact("metrics", "metrics.json", func(path string) error { return writeJSON(path, ms) }); err != nil {
		return nil, err
	}
	if err := run.WritePlot("plots/scores", []string{"plot_scores", "plot_scores_svg"}, func(base string) ([]string, error) {
		return plotScores(ms, base)
	}); err != nil {
		return nil, err
	}
	return map[string]cty.Value{
		"pointing_precision": num(ms.Pointing.Precision), "pointing_recall": num(ms.Pointing.Recall), "pointing_f1": num(ms.Pointing.F1),
		"centre_f1": num(ms.Centre.F1), "pointing_valid": num(ms.Valid), "count_exact": num(ms.CountExact), "count_within1": num(ms.CountWithin1),
		"count_majority_exact": num(ms.MajorityExact), "count_chance": num(ms.CountChance),
	}, nil
}

// questions are held-out pointing and counting questions.
type questions struct{ pts, cnts []planted.Example }

// heldOut are the first items held-out pointing and counting questions
// (each; 0: all).
func heldOut(d *Data, items int) (questions, error) {
	var q questions
	for _, e := range d.Test {
		switch e.Task {
		case "point":
			q.pts = append(q.pts, e)
		case "count":
			q.cnts = append(q.cnts, e)
		}
	}
	if items > 0 {
		q.pts, q.cnts = q.pts[:min(items, len(q.pts))], q.cnts[:min(items, len(q.cnts))]
	}
	if len(q.pts)+len(q.cnts) == 0 {
		return q, fmt.Errorf("no held-out pointing or counting examples (split \"test\")")
	}
	return q, nil
}

// score answers the questions greedily and scores them beside the
// baselines; progress sees the questions answered so far.
func (q questions) score(a *model.Answerer, m *model.Model, d *Data, l *model.Layout, progress func(done, all int)) (Metrics, []Prediction, error) {
	answers, err := q.answer(a, m, d, l, progress)
	if err != nil {
		return Metrics{}, nil, err
	}
	var ms Metrics
	preds, err := scorePointing(&ms, q.pts, answers[:len(q.pts)], d)
	if err != nil {
		return Metrics{}, nil, err
	}
	preds = append(preds, scoreCounting(&ms, q.cnts, answers[len(q.pts):], d.Train)...)
	return ms, preds, nil
}

// scorePointing fills ms's pointing scores (the model's, the centre
// point's, the miss breakdown) and returns the answers' predictions.
func scorePointing(ms *Metrics, pts []planted.Example, answers []string, d *Data) ([]Prediction, error) {
	var preds []Prediction
	var scores, centre []pointing.Score
	W, H := d.Bundle.W, d.Bundle.H
	for i, e := range pts {
		var objs []pointing.Object
		for _, k := range e.Masks {
			objs = append(objs, pointing.Object{Mask: d.Bundle.Masks[k]})
		}
		s, err := pointing.ScoreAnswer(answers[i], W, H, objs)
		if err != nil {
			return nil, err
		}
		c, err := pointing.ScoreAnswer(pointing.Format([]pointing.Point{{X: 50, Y: 50}}, e.Label), W, H, objs)
		if err != nil {
			return nil, err
		}
		scores, centre = append(scores, s), append(centre, c)
		if a, err := pointing.Parse(answers[i]); err == nil && len(a.Points) > 0 {
			ms.Valid++
		}
		preds = append(preds, Prediction{Image: e.Image, Task: e.Task, Prompt: e.Prompt, Truth: e.Answer, Answer: answers[i], F1: s.F1})
	}
	if len(pts) > 0 {
		ms.Pointing, ms.Centre, ms.PointItems = pointing.Mean(scores), pointing.Mean(centre), len(pts)
		ms.Valid /= float64(len(pts))
		masks, labels := imageMasks(d.Test)
		ms.Misses = misses(pts, answers, scores, masks, labels, d.Bundle)
	}
	return preds, nil
}

// scoreCounting fills ms's counting accuracies (the model's, the majority
// training count's, chance) and returns the answers' predictions.
func scoreCounting(ms *Metrics, cnts []planted.Example, answers []string, train []planted.Example) []Prediction {
	var preds []Prediction
	maj, distinct := majorityCount(train)
	for i, e := range cnts {
		said, ok := countOf(answers[i])
		ms.CountExact += b2f(ok && said == e.Count)
		ms.CountWithin1 += b2f(ok && abs(said-e.Count) <= 1)
		ms.MajorityExact += b2f(maj == e.Count)
		ms.MajorityWithin += b2f(abs(maj-e.Count) <= 1)
		if !ok {
			said = -1
		}
		preds = append(preds, Prediction{Image: e.Image, Task: e.Task, Prompt: e.Prompt, Truth: e.Answer, Answer: answers[i], Count: e.Count, Said: said})
	}
	if n := float64(len(cnts)); n > 0 {
		ms.CountExact, ms.CountWithin1, ms.MajorityExact, ms.MajorityWithin = ms.CountExact/n, ms.CountWithin1/n, ms.MajorityExact/n, ms.MajorityWithin/n
		ms.CountItems = len(cnts)
	}
	if distinct > 0 {
		ms.CountChance = 1 / float64(distinct)
	}
	return preds
}

// answer answers the pointing, then the counting questions, evalBatch at a
// time, each up to the longest truth's length and a little more.
func (q questions) answer(a *model.Answerer, m *model.Model, d *Data, l *model.Layout, progress func(done, all int)) ([]string, error) {
	all := append(append([]planted.Example{}, q.pts...), q.cnts...)
	maxNew := 0
	for _, e := range all {
		maxNew = max(maxNew, len(e.Answer)+8)
	}
	maxNew = min(maxNew, m.Config.LM.MaxSeqLen-len(l.Tokens)-40)
	answers := make([]string, 0, len(all))
	for i := 0; i < len(all); i += evalBatch {
		chunk := all[i:min(i+evalBatch, len(all))]
		exs := make([]model.Example, len(chunk))
		for k, e := range chunk {
			exs[k] = d.example(e)
		}
		ans, err := a.Answer(l, exs, maxNew)
		if err != nil {
			return nil, err
		}
		answers = append(answers, ans...)
		progress(len(answers), len(all))
	}
	return answers, nil
}

// majorityCount is the most frequent count of the training counting
// questions and the number of distinct counts.
func majorityCount(train []planted.Example) (int, int) {
	freq := map[int]int{}
	for _, e := range train {
		if e.Task == "count" {
			freq[e.Count]++
		}
	}
	keys := make([]int, 0, len(freq))
	for k := range freq {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	best := 0
	for _, k := range keys {
		if freq[k] > freq[best] {
			best = k
		}
	}
	return best, len(keys)
}

// countOf reads a counting answer (sdk/pointing.ParseCount).
func countOf(ans string) (int, bool) { return pointing.ParseCount(ans) }

// fillPoints parses an answer's points, or records why it does not parse.
func fillPoints(ans string, pts *[][2]float64, why *string) {
	a, err := pointing.Parse(ans)
	if err != nil {
		*why = err.Error()
		return
	}
	for _, p := range a.Points {
		*pts = append(*pts, [2]float64{p.X, p.Y})
	}
}

// byObjects is "1: 0.95 (40), 2: 0.60 (35), …".
func byObjects(m Misses) string {
	keys := make([]int, 0, len(m.ItemsByObjects))
	for n := range m.ItemsByObjects {
		keys = append(keys, n)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, n := range keys {
		parts[i] = fmt.Sprintf("%d: %.2f (%d)", n, m.F1ByObjects[n], m.ItemsByObjects[n])
	}
	return strings.Join(parts, ", ")
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func num(x float64) cty.Value { return cty.NumberFloatVal(x) }

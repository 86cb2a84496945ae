// Package estimate is fit's pipeline: read a score table (or score an
// embedding set in GoMLX), find the imitation threshold with PELT, put a
// bootstrap interval on it, and write the summary, the table and the plot.
package estimate

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/fit/internal/dataset"
	"github.com/shammie-ml/shammie/plugins/fit/internal/fitplot"
	"github.com/shammie-ml/shammie/plugins/fit/internal/imitation"
	"github.com/shammie-ml/shammie/plugins/fit/internal/threshold"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Options of an estimate: the plugin's config, estimate part.
type Options struct {
	Scores      string // a score table, or
	Embeddings  string // an embedding set to score
	Columns     dataset.Columns
	DropInvalid bool
	Penalty     float64
	Bootstrap   int
	Confidence  float64
	Title       string
	Version     string // the plugin's, recorded in the summary
}

// summary is the JSON summary artifact.
type summary struct {
	Plugin        string           `json:"plugin"`
	Version       string           `json:"version"`
	Input         map[string]any   `json:"input"`
	NConcepts     int              `json:"n_concepts"`
	Dropped       dataset.Drops    `json:"dropped"`
	Penalty       float64          `json:"penalty"`
	Found         bool             `json:"found"`
	Threshold     *int64           `json:"threshold"`
	ChangePoints  []map[string]any `json:"change_points"`
	Segments      []map[string]any `json:"segments"`
	Cost          float64          `json:"cost"`
	PenalisedCost float64          `json:"penalised_cost"`
	Bootstrap     map[string]any   `json:"bootstrap"`
	Scoring       map[string]any   `json:"scoring,omitempty"`
	Seconds       map[string]any   `json:"seconds"`
}

// Run estimates the threshold and reports it as the step's artifacts,
// outputs and metrics.
func Run(ctx context.Context, run *sdk.Run, cfg Options) error {
	opt := dataset.Options{Drop: cfg.DropInvalid, Columns: cfg.Columns}
	sum := summary{Plugin: "fit", Version: cfg.Version, Penalty: cfg.Penalty, Seconds: map[string]any{}}
	hint := func(err error) error {
		if !cfg.DropInvalid {
			return fmt.Errorf("%w (set drop_invalid = true to leave such rows and concepts out; they are counted)", err)
		}
		return err
	}

	t0 := time.Now()
	var concepts []dataset.Concept
	var drops dataset.Drops
	if cfg.Scores != "" {
		var err error
		concepts, drops, err = dataset.ReadScores(cfg.Scores, opt)
		if err != nil {
			return hint(err)
		}
		sum.Input = map[string]any{"kind": "scores", "path": cfg.Scores}
	} else {
		run.Progress("read embeddings", 0, 1, "files")
		set, d, err := dataset.ReadEmbeddings(cfg.Embeddings, opt)
		if err != nil {
			return hint(err)
		}
		drops = d
		sum.Input = map[string]any{"kind": "embeddings", "path": cfg.Embeddings}
		if err := ctx.Err(); err != nil {
			return err
		}
		concepts, sum.Scoring, err = scoreEmbeddings(run, set)
		if err != nil {
			return err
		}
	}
	sum.Seconds["input"] = time.Since(t0).Seconds()
	sum.Dropped = drops
	if drops.Rows+drops.Concepts > 0 {
		shown := drops.Reasons
		if len(shown) > 10 {
			shown = shown[:10]
		}
		run.Warnf("dropped %d rows and %d concepts (drop_invalid); first reasons:\n  %s", drops.Rows, drops.Concepts, strings.Join(shown, "\n  "))
	}
	if len(concepts) < 2 {
		return fmt.Errorf("%d usable concept(s): a change point needs at least 2", len(concepts))
	}
	sum.NConcepts = len(concepts)

	pts := make([]threshold.Point, len(concepts))
	for i, c := range concepts {
		pts[i] = threshold.Point{Count: c.Count, Score: c.Score}
	}
	t1 := time.Now()
	est, err := threshold.Find(pts, cfg.Penalty)
	if err != nil {
		return err
	}
	sum.Seconds["pelt"] = time.Since(t1).Seconds()
	sum.Found, sum.Cost, sum.PenalisedCost = est.Found, est.Cost, est.Penalised
	if est.Found {
		th := est.Threshold
		sum.Threshold = &th
		run.Logf("threshold %d images (first of %d change points), %d concepts", th, len(est.ChangePoints), len(concepts))
	} else {
		run.Warnf("PELT found no change point among %d concepts at penalty %v: no threshold", len(concepts), cfg.Penalty)
	}
	for i, cp := range est.ChangePoints {
		sum.ChangePoints = append(sum.ChangePoints, map[string]any{"index": cp, "count": est.ChangeCounts[i]})
	}
	for _, s := range est.Segments {
		sum.Segments = append(sum.Segments, map[string]any{"start": s.Start, "end": s.End, "n": s.End - s.Start,
			"first_count": s.FirstCount, "last_count": s.LastCount, "mean": s.Mean})
	}

	var iv *threshold.Interval
	sum.Bootstrap = map[string]any{"resamples": cfg.Bootstrap, "seed": run.Seed, "level": cfg.Confidence}
	if est.Found && cfg.Bootstrap > 0 {
		t2 := time.Now()
		every := max(1, cfg.Bootstrap/20)
		got, err := threshold.Bootstrap(ctx, pts, cfg.Penalty, cfg.Bootstrap, uint64(run.Seed), cfg.Confidence, func(done int) {
			if done%every == 0 || done == cfg.Bootstrap {
				run.Progress("bootstrap", int64(done), int64(cfg.Bootstrap), "resamples")
			}
		})
		if err != nil {
			return err
		}
		iv = &got
		sum.Seconds["bootstrap"] = time.Since(t2).Seconds()
		sum.Bootstrap["low"], sum.Bootstrap["high"], sum.Bootstrap["median"] = got.Lo, got.Hi, got.Median
		sum.Bootstrap["no_change_point"] = got.NoChange
		if got.NoChange > 0 {
			run.Warnf("%d of %d bootstrap resamples had no change point; the interval uses the other %d", got.NoChange, got.B, len(got.Thresholds))
		}
		run.Logf("%.0f%% bootstrap interval [%d, %d] (median %d, B=%d)", 100*got.Level, got.Lo, got.Hi, got.Median, got.B)
	}

	// Artifacts.
	if err := run.WriteArtifact("concept_scores", "concept_scores.csv", func(path string) error {
		return writeConceptScores(path, concepts, est)
	}); err != nil {
		return err
	}
	if err := run.WriteArtifact("summary", "summary.json", func(path string) error { return writeJSON(path, sum) }); err != nil {
		return err
	}
	title := cfg.Title
	if title == "" {
		title = "imitation threshold: " + inputName(cfg)
	}
	spread := make([]float64, len(est.Sorted))
	anySpread := false
	for i, o := range est.Order {
		spread[i] = concepts[o].Spread
		anySpread = anySpread || spread[i] > 0
	}
	if !anySpread {
		spread = nil
	}
	if err := run.WritePlot("fit", []string{"plot_png", "plot_svg"}, func(base string) ([]string, error) {
		png, svg, err := fitplot.Save(fitplot.Input{Title: title, Estimate: est, Spread: spread, Interval: iv}, base)
		return []string{png, svg}, err
	}); err != nil {
		return err
	}

	// Outputs.
	var cps, cpi, means []float64
	for i, cp := range est.ChangePoints {
		cpi = append(cpi, float64(cp))
		cps = append(cps, float64(est.ChangeCounts[i]))
	}
	for _, s := range est.Segments {
		means = append(means, s.Mean)
	}
	null := cty.NullVal(cty.Number)
	thr, lo, hi := null, null, null
	if est.Found {
		thr = cty.NumberIntVal(est.Threshold)
	}
	if iv != nil {
		lo, hi = cty.NumberIntVal(iv.Lo), cty.NumberIntVal(iv.Hi)
	}
	run.Metric("threshold_found", 0, boolFloat(est.Found))
	if est.Found {
		run.Metric("threshold", 0, float64(est.Threshold))
	}
	return run.Outputs(map[string]cty.Value{
		"threshold":            thr,
		"found":                cty.BoolVal(est.Found),
		"interval_low":         lo,
		"interval_high":        hi,
		"change_points":        sdk.NumberList(cps),
		"change_point_indices": sdk.NumberList(cpi),
		"segment_means":        sdk.NumberList(means),
		"n_concepts":           cty.NumberIntVal(int64(len(concepts))),
		"dropped_rows":         cty.NumberIntVal(int64(drops.Rows)),
		"dropped_concepts":     cty.NumberIntVal(int64(drops.Concepts)),
	})
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// scoreEmbeddings computes every concept's imitation score in one batched
// graph on the step's backend.
func scoreEmbeddings(run *sdk.Run, set *dataset.EmbeddingSet) ([]dataset.Concept, map[string]any, error) {
	batch, err := imitation.Pack(set.Names, set.Concepts)
	if err != nil {
		return nil, nil, err
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	scorer, err := imitation.NewScorer(backend)
	if err != nil {
		return nil, nil, err
	}
	run.Progress("score embeddings", 0, int64(batch.C), "concepts")
	t := time.Now()
	perPrompt, _, err := scorer.Scores(batch)
	if err != nil {
		return nil, nil, err
	}
	secs := time.Since(t).Seconds()
	run.Progress("score embeddings", int64(batch.C), int64(batch.C), "concepts")
	run.Logf("scored %d concepts (up to %d prompts × %d generated, %d training, width %d) in one graph on %q in %.2fs",
		batch.C, batch.P, batch.G, batch.T, batch.D, backendName(run.Backend), secs)
	concepts := make([]dataset.Concept, len(set.Names))
	for i, name := range set.Names {
		concepts[i] = dataset.NewConcept(name, set.Counts[i], perPrompt[i][:len(set.Concepts[i].Prompts)])
	}
	info := map[string]any{"backend": backendName(run.Backend), "seconds": secs, "concepts": batch.C,
		"max_prompts": batch.P, "max_generated": batch.G, "max_training": batch.T, "width": batch.D, "top_k": imitation.TopK}
	return concepts, info, nil
}

func backendName(b string) string {
	if b == "" {
		return ml.BackendGo
	}
	return b
}

func writeConceptScores(path string, concepts []dataset.Concept, est threshold.Estimate) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"rank", "concept", "count", "score", "spread", "prompts", "segment", "segment_mean"})
	seg := 0
	for i, o := range est.Order {
		for seg+1 < len(est.Segments) && i >= est.Segments[seg].End {
			seg++
		}
		c := concepts[o]
		w.Write([]string{strconv.Itoa(i), c.Name, strconv.FormatInt(c.Count, 10),
			strconv.FormatFloat(c.Score, 'g', 10, 64), strconv.FormatFloat(c.Spread, 'g', 6, 64),
			strconv.Itoa(len(c.Scores)), strconv.Itoa(seg), strconv.FormatFloat(est.Segments[seg].Mean, 'g', 10, 64)})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func inputName(cfg Options) string {
	if cfg.Scores != "" {
		return filepath.Base(cfg.Scores)
	}
	return filepath.Base(cfg.Embeddings)
}

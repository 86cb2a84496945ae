// Package pipeline is the actionatlas plugin's method, one function per
// mode: Planted trains the tiny video-QA model on planted clips (one model
// per seed), measures accuracy against frames sampled through the
// ActionAtlas protocol and draws it beside the leaderboard; Eval runs the
// protocol over a model and ActionAtlas-layout metadata with clips.
package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/clip"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/planted"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/protocol"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/videoqa"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Protocol is how questions are put and scored.
type Protocol struct {
	Format    protocol.Format
	Sampling  videoqa.Sampling
	Bootstrap int
}

// PlantedOptions of the planted mode.
type PlantedOptions struct {
	Model       videoqa.TinyConfig
	Train       ml.TrainConfig
	Batch       int
	Seeds       int
	Curve       []int
	TrainFrames []int
	Questions   int
	Leaderboard string
	Bootstrap   int
	Version     string
}

// Curve is accuracy against frames sampled, over seeds.
type Curve struct {
	Frames []int       `json:"frames"`
	Mean   []float64   `json:"mean"`
	Min    []float64   `json:"min"`
	Max    []float64   `json:"max"`
	BySeed [][]float64 `json:"by_seed"` // [seed][frame count]
	// Intervals are each seed's bootstrap intervals, [seed][frame count].
	Intervals [][]protocol.Interval `json:"intervals"`
	Seeds     int                   `json:"seeds"`
	Chance    float64               `json:"chance"`
	Questions int                   `json:"questions"`
}

// PlantedReport is the planted mode's report artifact.
type PlantedReport struct {
	Curve       Curve              `json:"curve"`
	FinalLoss   []float64          `json:"final_loss"`
	Model       videoqa.TinyConfig `json:"model"`
	TrainFrames []int              `json:"train_frames"`
	Leaderboard []Entry            `json:"leaderboard,omitempty"`
}

// Planted trains one tiny model per seed on planted clips, evaluates each
// at every curve frame count through the protocol (direct prompt, parsed
// answers, bootstrap), and writes the first seed's model with its
// held-out questions (for an eval step), the report and the plot.
func Planted(ctx context.Context, run *sdk.Run, o PlantedOptions) error {
	var board []Entry
	if o.Leaderboard != "" {
		var err error
		if board, err = LoadLeaderboard(o.Leaderboard); err != nil {
			return err
		}
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	curve := Curve{Frames: slices.Clone(o.Curve), Seeds: o.Seeds, Chance: 1 / float64(len(planted.ClassNames)), Questions: o.Questions}
	rep := PlantedReport{Model: o.Model, TrainFrames: o.TrainFrames}
	for s := range o.Seeds {
		seed := uint64(run.Seed) + uint64(s)
		run.Logf("seed %d/%d: training the tiny model (%d steps, frame counts %v)", s+1, o.Seeds, o.Train.Steps, o.TrainFrames)
		gctx := gomlxctx.New()
		tc := o.Train
		if s == 0 && run.StateDir != "" {
			tc.CheckpointDir = filepath.Join(run.StateDir, "ckpt")
		}
		m, loss, err := videoqa.Train(ctx, backend, gctx, videoqa.TrainOptions{Model: o.Model, Train: tc, Batch: o.Batch,
			Counts: o.TrainFrames, Seed: seed, Report: seedReporter{run, s}})
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		rep.FinalLoss = append(rep.FinalLoss, loss)
		sc, err := videoqa.NewScorer(backend, m, gctx)
		if err != nil {
			return err
		}
		items, err := planted.Generate(seed^0x5eed_7e57, o.Questions, o.Model.Size)
		if err != nil {
			return err
		}
		qa := plantedItems(items)
		var accs []float64
		var ivs []protocol.Interval
		for _, k := range o.Curve {
			res, err := videoqa.Evaluate(ctx, sc, qa, videoqa.Options{Format: protocol.Direct, Sampling: videoqa.Sampling{Frames: k},
				Batch: 64, Samples: o.Bootstrap, Seed: seed})
			if err != nil {
				return err
			}
			accs = append(accs, res.Interval.Accuracy)
			ivs = append(ivs, res.Interval)
			run.Metric(fmt.Sprintf("curve/seed%d", s), int64(k), res.Interval.Accuracy)
		}
		run.Logf("seed %d: accuracy %v at frames %v", seed, fmtAccs(accs), o.Curve)
		curve.BySeed = append(curve.BySeed, accs)
		curve.Intervals = append(curve.Intervals, ivs)
		if s == 0 {
			if err := writePlanted(run, m, gctx, items, o.Version); err != nil {
				return err
			}
		}
	}
	summarise(&curve)
	rep.Curve = curve
	rep.Leaderboard = board
	if err := writeJSON(run, "report", "report.json", rep); err != nil {
		return err
	}
	if err := run.WritePlot("curve", []string{"plot_curve", "plot_curve_svg"}, func(base string) ([]string, error) {
		png, svg, err := PlotCurve(base, curve, board)
		return []string{png, svg}, err
	}); err != nil {
		return err
	}
	last := len(curve.Mean) - 1
	return run.Outputs(map[string]cty.Value{
		"accuracy": cty.NumberFloatVal(curve.Mean[last]), "questions": cty.NumberIntVal(int64(o.Questions)),
		"curve_frames": sdk.NumberList(intsToFloats(curve.Frames)), "curve_accuracy": sdk.NumberList(curve.Mean),
		"curve_min": sdk.NumberList(curve.Min), "curve_max": sdk.NumberList(curve.Max),
		"chance": cty.NumberFloatVal(curve.Chance), "final_loss": cty.NumberFloatVal(mean(rep.FinalLoss)),
	})
}

// plantedItems wraps planted items as protocol items (clips in memory).
func plantedItems(items []planted.Item) []videoqa.Item {
	out := make([]videoqa.Item, len(items))
	for i, it := range items {
		c := it.Clip
		out[i] = videoqa.Item{Record: planted.Record(i, it, ""), Clip: func() (clip.Clip, error) { return c, nil }}
	}
	return out
}

// writePlanted writes the model, the held-out clips and their metadata.
func writePlanted(run *sdk.Run, m *videoqa.Tiny, gctx *gomlxctx.Context, items []planted.Item, version string) error {
	if err := run.WriteArtifact("model", "model.safetensors", func(path string) error {
		return videoqa.Save(path, m, gctx, map[string]string{"plugin": "actionatlas " + version})
	}); err != nil {
		return err
	}
	clips := map[string]clip.Clip{}
	for i, it := range items {
		clips[fmt.Sprintf("clip%05d", i)] = it.Clip
	}
	if err := run.WriteArtifact("clips", "clips.safetensors", func(path string) error {
		return clip.WriteBundle(path, clips, planted.FPS)
	}); err != nil {
		return err
	}
	return run.WriteArtifact("metadata", "metadata.jsonl", func(path string) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		for i, it := range items {
			if err := enc.Encode(planted.Record(i, it, fmt.Sprintf("clips.safetensors#clip%05d", i))); err != nil {
				f.Close()
				return err
			}
		}
		return f.Close()
	})
}

// EvalOptions of the eval mode.
type EvalOptions struct {
	Model, Metadata, Clips string
	Protocol               Protocol
	Batch                  int
}

// EvalReport is the eval mode's report artifact.
type EvalReport struct {
	Interval protocol.Interval `json:"interval"`
	Format   protocol.Format   `json:"format"`
	Sampling videoqa.Sampling  `json:"sampling"`
	Metadata string            `json:"metadata"`
}

// Eval runs the protocol with a tiny model over metadata and clips.
func Eval(ctx context.Context, run *sdk.Run, o EvalOptions) error {
	recs, err := protocol.LoadMetadata(o.Metadata)
	if err != nil {
		return err
	}
	dir := o.Clips
	if dir == "" {
		dir = filepath.Dir(o.Metadata)
	}
	items := make([]videoqa.Item, len(recs))
	for i, r := range recs {
		items[i] = videoqa.Item{Record: r, Clip: func() (clip.Clip, error) { return loadClip(filepath.Dir(o.Metadata), dir, r) }}
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	m, gctx, err := videoqa.Load(o.Model)
	if err != nil {
		return err
	}
	sc, err := videoqa.NewScorer(backend, m, gctx)
	if err != nil {
		return err
	}
	run.Logf("%d questions, %s prompt, sampling %+v", len(items), o.Protocol.Format, o.Protocol.Sampling)
	res, err := videoqa.Evaluate(ctx, sc, items, videoqa.Options{Format: o.Protocol.Format, Sampling: o.Protocol.Sampling,
		Batch: max(o.Batch, 1), Samples: o.Protocol.Bootstrap, Seed: uint64(run.Seed),
		Progress: func(done, total int) { run.Progress("questions", int64(done), int64(total), "questions") }})
	if err != nil {
		return err
	}
	iv := res.Interval
	run.Logf("accuracy %.2f %% (95 %% CI %.2f–%.2f, bootstrap mean %.2f ± %.2f)", 100*iv.Accuracy, 100*iv.Lower, 100*iv.Upper, 100*iv.Mean, 100*iv.Margin)
	if err := run.WriteArtifact("predictions", "predictions.jsonl", func(path string) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		for _, it := range res.Items {
			if err := enc.Encode(it); err != nil {
				f.Close()
				return err
			}
		}
		return f.Close()
	}); err != nil {
		return err
	}
	if err := writeJSON(run, "report", "report.json", EvalReport{Interval: iv, Format: o.Protocol.Format, Sampling: o.Protocol.Sampling, Metadata: o.Metadata}); err != nil {
		return err
	}
	nChoices := len(recs[0].Choices())
	return run.Outputs(map[string]cty.Value{
		"accuracy": cty.NumberFloatVal(iv.Accuracy), "ci_lower": cty.NumberFloatVal(iv.Lower), "ci_upper": cty.NumberFloatVal(iv.Upper),
		"questions": cty.NumberIntVal(int64(iv.N)), "chance": cty.NumberFloatVal(1 / float64(nChoices)),
	})
}

// loadClip finds a record's clip. With clips naming a .safetensors bundle,
// the tensor is the part of the record's clip after "#" (or its clip
// stem): artifacts passed between steps keep no relative layout. Otherwise
// the record's clip field (relative to the metadata), else the reference's
// name with .safetensors or .json in the clips directory.
func loadClip(metaDir, clips string, r protocol.Record) (clip.Clip, error) {
	if strings.EqualFold(filepath.Ext(clips), ".safetensors") {
		_, tensor, ok := strings.Cut(r.Clip, "#")
		if !ok {
			stem, err := r.ClipStem()
			if err != nil {
				return clip.Clip{}, err
			}
			tensor = stem
		}
		return clip.ReadBundle(clips, tensor)
	}
	if r.Clip != "" {
		return clip.Load(metaDir, r.Clip)
	}
	stem, err := r.ClipStem()
	if err != nil {
		return clip.Clip{}, err
	}
	for _, ext := range []string{".safetensors", ".json"} {
		p := filepath.Join(clips, stem+ext)
		if _, err := os.Stat(p); err == nil {
			return clip.Load(clips, p)
		}
	}
	return clip.Clip{}, fmt.Errorf("no clip %s.safetensors or %s.json in %s", stem, stem, clips)
}

func writeJSON(run *sdk.Run, name, rel string, v any) error {
	return run.WriteArtifact(name, rel, func(path string) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o644)
	})
}

func summarise(c *Curve) {
	n := len(c.Frames)
	c.Mean, c.Min, c.Max = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		c.Min[i], c.Max[i] = math.Inf(1), math.Inf(-1)
		for _, s := range c.BySeed {
			c.Mean[i] += s[i] / float64(len(c.BySeed))
			c.Min[i] = min(c.Min[i], s[i])
			c.Max[i] = max(c.Max[i], s[i])
		}
	}
}

// seedReporter prefixes a seed's training metrics after the first seed.
type seedReporter struct {
	run  *sdk.Run
	seed int
}

func (r seedReporter) Progress(stage string, done, total int64, unit string) {
	r.run.Progress(fmt.Sprintf("%s (seed %d)", stage, r.seed+1), done, total, unit)
}
func (r seedReporter) Metric(name string, step int64, v float64) {
	if r.seed > 0 {
		name = fmt.Sprintf("seed%d/%s", r.seed, name)
	}
	r.run.Metric(name, step, v)
}
func (r seedReporter) Logf(format string, args ...any) { r.run.Logf(format, args...) }

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func intsToFloats(v []int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func fmtAccs(v []float64) string {
	s := "["
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.3f", x)
	}
	return s + "]"
}

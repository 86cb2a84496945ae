package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// small keeps each run well under a second on the go backend.
var small = map[string]any{"samples": 800, "features": 5, "steps": 150}

func TestTrainsToOracleAccuracy(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	res := h.Run(small, plugintest.WithSeed(3))
	res.RequireSuccess(t)

	acc, oracle := res.Float(t, "accuracy"), res.Float(t, "oracle_accuracy")
	if acc < oracle-0.03 {
		t.Errorf("held-out accuracy %.3f is more than 0.03 below the true weights' %.3f", acc, oracle)
	}
	if oracle < 0.8 {
		t.Errorf("oracle accuracy %.3f: the generated problem is too noisy to test anything", oracle)
	}
	losses := res.Metrics["loss"]
	if len(losses) != 150 {
		t.Fatalf("%d loss metrics, want 150", len(losses))
	}
	first, last := losses[0].Value, losses[len(losses)-1].Value
	if !(first > 0.69 && first < 0.70) { // log 2: zero weights predict 0.5
		t.Errorf("initial loss %.4f, want log 2 ≈ 0.693", first)
	}
	if last > 0.6*first {
		t.Errorf("loss went from %.4f to only %.4f", first, last)
	}
	if fl := res.Float(t, "final_loss"); fl > last+1e-3 {
		t.Errorf("final loss %.4f above the last step's %.4f", fl, last)
	}

	// The learned weights point the same way as the true ones.
	var w struct{ Learned, True struct{ W []float64 } }
	b, err := os.ReadFile(res.Artifact(t, "weights").Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if c := cosine(w.Learned.W, w.True.W); c < 0.95 {
		t.Errorf("cosine(learned, true) = %.3f, want ≥ 0.95", c)
	}
	for _, name := range []string{"loss_curve_png", "loss_curve_svg"} {
		if a := res.Artifact(t, name); a.Size < 1000 {
			t.Errorf("%s is only %d bytes", name, a.Size)
		}
	}
}

func cosine(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	return ab / (math.Sqrt(aa) * math.Sqrt(bb))
}

func TestSeedDeterminesResult(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	run := func(seed int64) cty.Value {
		res := h.Run(small, plugintest.WithSeed(seed))
		res.RequireSuccess(t)
		return cty.ObjectVal(res.Outputs)
	}
	a, b, c := run(11), run(11), run(12)
	if !a.RawEquals(b) {
		t.Errorf("same seed, different outputs:\n%#v\n%#v", a, b)
	}
	if a.RawEquals(c) {
		t.Error("different seeds gave identical outputs")
	}
}

func TestResumesFromCheckpoint(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	state := t.TempDir()
	const steps, every = 600, 20
	cfg := map[string]any{"samples": 400, "features": 3, "steps": steps, "checkpoint_every": every}

	// Interrupt the first run after 30 steps. The plugin notices the
	// cancellation a little later (an event and a cancel each cross gRPC, and
	// on a loaded machine that can take many steps), so the last checkpoint is
	// at some multiple of 20 from 20 on; many steps leave room for that.
	ctx, cancel := context.WithCancelCause(context.Background())
	first := h.Run(cfg, plugintest.WithStateDir(state), plugintest.WithContext(ctx), plugintest.OnEvent(func(e pluginhost.Event) {
		if p, ok := e.(pluginhost.Progress); ok && p.Done == 30 {
			cancel(errors.New("simulated interruption"))
		}
	}))
	if first.Status.State != pluginhost.Cancelled {
		t.Fatalf("first run: %v %s", first.Status.State, first.Status.Message)
	}
	resumed := h.Run(cfg, plugintest.WithStateDir(state))
	resumed.RequireSuccess(t)
	var from int
	if len(resumed.Logs) == 0 {
		t.Fatal("no logs from the resumed run")
	}
	if _, err := fmt.Sscanf(resumed.Logs[0], "info: resuming from the checkpoint at step %d", &from); err != nil || from < every || from >= steps || from%every != 0 {
		t.Fatalf("first log %q, want a resume from a checkpoint step (a multiple of %d below %d)", resumed.Logs[0], every, steps)
	}
	if n := len(resumed.Metrics["loss"]); n != steps-from {
		t.Errorf("resumed run trained %d steps, want %d", n, steps-from)
	}
	fresh := h.Run(cfg)
	fresh.RequireSuccess(t)
	// Same arithmetic in the same order: the resumed run ends where an
	// uninterrupted one does.
	if diff := cmp.Diff(fresh.Float(t, "final_loss"), resumed.Float(t, "final_loss")); diff != "" {
		t.Errorf("final loss, fresh vs resumed: %s", diff)
	}
}

func TestValidateConfig(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	tests := []struct {
		name string
		cfg  map[string]any
		want []string // attribute paths with errors
	}{
		{"defaults", map[string]any{}, nil},
		{"bad values", map[string]any{"samples": 5, "lr": 0, "test_fraction": 1.5}, []string{"samples", "test_fraction", "lr"}},
		{"no test examples", map[string]any{"samples": 10, "test_fraction": 0.01}, []string{"test_fraction"}},
		// Upstream outputs are unknown before anything runs: their checks
		// are skipped, the known attributes are still checked.
		{"unknown samples, bad lr", map[string]any{"samples": cty.UnknownVal(cty.Number), "test_fraction": 0.01, "lr": 0}, []string{"lr"}},
		{"unknown test_fraction, bad samples", map[string]any{"samples": 5, "test_fraction": cty.UnknownVal(cty.Number)}, []string{"samples"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range h.Validate(tt.cfg) {
				got = append(got, sdk.FormatPath(d.Path))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostic paths (-want +got):\n%s", diff)
			}
		})
	}
	// Outputs of upstream steps are unknown at validation time.
	cfg := h.Config(map[string]any{"steps": cty.UnknownVal(cty.Number)})
	diags, err := h.Client().ValidateConfig(context.Background(), cfg)
	if err != nil || len(diags) != 0 {
		t.Errorf("config with an unknown value: %v %v", diags, err)
	}
}

func TestSchemaDescribesEveryField(t *testing.T) {
	s := plugintest.New(t, &Plugin{}).Schema()
	for _, a := range s.Config.Attributes {
		if a.Description == "" || a.Required || a.Default.IsNull() {
			t.Errorf("attribute %s: want a description and a default, got %+v", a.Name, a)
		}
	}
}

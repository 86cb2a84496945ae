package plugintest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

type repeatConfig struct {
	Word  string `cty:"word"`
	Times int    `cty:"times" default:"2"`
	Block *struct {
		Sep string `cty:"sep" default:"\" \""`
	} `cty:"format"`
}

// repeater writes word times times into a file; the test double for the
// harness.
type repeater struct{}

func (repeater) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "repeat", Version: "0.1.0", Backends: []string{"go"}}
}

func (repeater) Schema() sdk.Schema {
	return sdk.Schema{
		Config:    sdk.MustBlockOf(repeatConfig{}),
		Outputs:   []sdk.OutputDecl{{Name: "text", Type: cty.String}, {Name: "seed", Type: cty.Number}},
		Artifacts: []sdk.ArtifactDecl{{Name: "file", MediaType: "text/plain"}},
	}
}

func (repeater) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	var c repeatConfig
	v := sdk.NewValidator(cfg, &c)
	v.Check(c.Times >= 0, "times", "Negative count", "times must be ≥ 0")
	return v.Diagnostics()
}

func (repeater) Run(ctx context.Context, run *sdk.Run) error {
	var c repeatConfig
	if err := run.Config.Decode(&c); err != nil {
		return err
	}
	if c.Word == "wait" {
		run.Progress("waiting", 0, 0, "")
		<-ctx.Done()
		return ctx.Err()
	}
	sep := " "
	if c.Block != nil {
		sep = c.Block.Sep
	}
	words := make([]string, c.Times)
	for i := range words {
		words[i] = c.Word
		run.Metric("count", int64(i), float64(i+1))
	}
	text := strings.Join(words, sep)
	if err := run.WriteArtifact("file", "sub/out.txt", func(path string) error {
		return os.WriteFile(path, []byte(text), 0o644)
	}); err != nil {
		return err
	}
	return run.Outputs(map[string]cty.Value{"text": cty.StringVal(text), "seed": cty.NumberIntVal(run.Seed)})
}

func TestHarnessRun(t *testing.T) {
	h := plugintest.New(t, repeater{})
	if md := h.Metadata(); md.Name != "repeat" || !cmp.Equal(md.ProtocolVersions, []int{sdk.ProtocolVersion}) {
		t.Errorf("Metadata = %+v", md)
	}
	tests := []struct {
		name      string
		cfg       any
		want      string
		wantTimes int
	}{
		{"map with default", map[string]any{"word": "ab"}, "ab ab", 2},
		{"map with block", map[string]any{"word": "x", "times": 3, "format": map[string]any{"sep": "-"}}, "x-x-x", 3},
		{"cty value", cty.ObjectVal(map[string]cty.Value{"word": cty.StringVal("c"), "times": cty.StringVal("1")}), "c", 1},
		{"struct", struct {
			Word  string `cty:"word"`
			Times int    `cty:"times"`
		}{"s", 2}, "s s", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.Run(tt.cfg, plugintest.WithSeed(42))
			res.RequireSuccess(t)
			if got := res.Output(t, "text").AsString(); got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
			if got := res.Float(t, "seed"); got != 42 {
				t.Errorf("seed = %v, want 42", got)
			}
			b, err := os.ReadFile(res.Artifact(t, "file").Path)
			if err != nil || string(b) != tt.want {
				t.Errorf("artifact holds %q (%v), want %q", b, err, tt.want)
			}
			var want []plugintest.MetricPoint
			for i := range tt.wantTimes {
				want = append(want, plugintest.MetricPoint{Step: int64(i), Value: float64(i + 1)})
			}
			if diff := cmp.Diff(want, res.Metrics["count"]); diff != "" {
				t.Errorf("metric count (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunShorthand(t *testing.T) {
	res := plugintest.Run(t, repeater{}, map[string]any{"word": "z", "times": 1})
	res.RequireSuccess(t)
	if got := res.Output(t, "text").AsString(); got != "z" {
		t.Errorf("text = %q", got)
	}
}

func TestHarnessValidate(t *testing.T) {
	h := plugintest.New(t, repeater{})
	if d := h.Validate(map[string]any{"word": "a"}); len(d) != 0 {
		t.Errorf("valid config: %v", d)
	}
	d := h.Validate(map[string]any{"word": "a", "times": -1})
	if len(d) != 1 || sdk.FormatPath(d[0].Path) != "times" || d[0].Summary != "Negative count" {
		t.Errorf("diagnostics = %v", d)
	}
}

func TestHarnessCancel(t *testing.T) {
	h := plugintest.New(t, repeater{})
	ctx, cancel := context.WithCancelCause(context.Background())
	res := h.Run(map[string]any{"word": "wait"}, plugintest.WithContext(ctx), plugintest.OnEvent(func(e pluginhost.Event) {
		if _, ok := e.(pluginhost.Progress); ok {
			cancel(errors.New("test over"))
		}
	}))
	if res.Status.State != pluginhost.Cancelled || !strings.Contains(res.Status.Message, "test over") {
		t.Errorf("status = %+v", res.Status)
	}
}

// TestBuildAndRunHost runs the real host against a real plugin binary. It
// skips until the host exists in the workspace.
func TestBuildAndRunHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	host := plugintest.HostBinary(t)
	res := plugintest.RunHost(t, host, "version")
	if res.ExitCode != 0 || res.Stdout == "" {
		t.Errorf("shammie version: exit %d\nstdout: %s\nstderr: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
}

// brokenSchema panics in Schema, as a plugin with a malformed config struct
// given to sdk.MustBlockOf would.
type brokenSchema struct{ repeater }

func (brokenSchema) Schema() sdk.Schema {
	return sdk.Schema{Config: sdk.MustBlockOf(struct {
		C chan int `cty:"c"`
	}{})}
}

func TestSchemaPanicIsAnError(t *testing.T) {
	h := plugintest.New(t, brokenSchema{})
	_, err := h.Client().Schema(context.Background())
	if err == nil || !strings.Contains(err.Error(), "plugin panicked in Schema") || !strings.Contains(err.Error(), "c: no cty type") {
		t.Errorf("err = %v", err)
	}
}

// ValidateConfig sees unknowns (values of steps not run yet): Decode leaves
// them at zero and the known attributes are still checked. Run never gets
// them: the host client refuses to send such a config (and Serve would
// refuse to pass one to the plugin's Run).
func TestUnknownsValidateButNeverRun(t *testing.T) {
	h := plugintest.New(t, repeater{})
	cfg := h.Config(map[string]any{"word": cty.UnknownVal(cty.String), "times": -1})
	d, err := h.Client().ValidateConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || sdk.FormatPath(d[0].Path) != "times" {
		t.Errorf("diagnostics with an unknown word = %v, want only the one on times", d)
	}
	req := pluginhost.RunRequest{RunID: "r", Step: "s", Config: h.Config(map[string]any{"word": cty.UnknownVal(cty.String)}),
		WorkDir: t.TempDir(), StateDir: t.TempDir(), Backend: "go"}
	st, err := h.Client().Run(context.Background(), req, func(pluginhost.Event) {})
	if err == nil {
		t.Fatalf("Run accepted a config with an unknown value: status %+v", st)
	}
}

// The SDK, not the plugin, guarantees that Run only sees a config that
// passed ValidateConfig: repeater's Run does not check times and would
// panic on a negative one.
func TestRunOnlySeesValidConfigs(t *testing.T) {
	res := plugintest.Run(t, repeater{}, map[string]any{"word": "a", "times": -1})
	if res.Succeeded() {
		t.Fatal("Run succeeded with an invalid config")
	}
	if len(res.Status.Diagnostics) != 1 || res.Status.Diagnostics[0].Summary != "Negative count" ||
		sdk.FormatPath(res.Status.Diagnostics[0].Path) != "times" {
		t.Errorf("status = %+v, want the Negative count diagnostic at times", res.Status)
	}
	if strings.Contains(res.Status.Message, "panicked") {
		t.Errorf("the plugin's Run was called: %s", res.Status.Message)
	}
}

// WriteArtifact takes the media type from the schema and refuses names the
// schema does not declare.
func TestWriteArtifactMediaType(t *testing.T) {
	res := plugintest.Run(t, repeater{}, map[string]any{"word": "a", "times": 2})
	res.RequireSuccess(t)
	a := res.Artifact(t, "file")
	if a.MediaType != "text/plain" || !strings.HasSuffix(filepath.ToSlash(a.Path), "sub/out.txt") {
		t.Errorf("artifact = %+v, want text/plain at sub/out.txt", a)
	}
}

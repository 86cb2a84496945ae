package sdk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

type validateConfig struct {
	Steps int     `cty:"steps"`
	Mode  string  `cty:"mode"`
	Lo    float64 `cty:"lo"`
	Hi    float64 `cty:"hi"`
	List  []int   `cty:"list"`
}

func validateIt(c Config) []string {
	var cfg validateConfig
	v := NewValidator(c, &cfg)
	v.Check(cfg.Steps >= 1, "steps", "At least one step is needed", "")
	v.OneOf("mode", cfg.Mode, "train", "eval")
	v.CheckAll(cfg.Lo <= cfg.Hi, []string{"lo", "hi"}, "lo above hi", "")
	for i, x := range cfg.List {
		v.CheckPath(x >= 0, cty.GetAttrPath("list").IndexInt(i), "Negative entry", "")
	}
	var out []string
	for _, d := range v.Diagnostics() {
		out = append(out, FormatPath(d.Path)+": "+d.Summary)
	}
	return out
}

func TestValidatorSkipsUnknowns(t *testing.T) {
	obj := func(steps, mode, lo, hi, list cty.Value) Config {
		return Config{Value: cty.ObjectVal(map[string]cty.Value{"steps": steps, "mode": mode, "lo": lo, "hi": hi, "list": list})}
	}
	n := cty.NumberIntVal
	list := func(vs ...cty.Value) cty.Value { return cty.ListVal(vs) }
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"valid", obj(n(3), cty.StringVal("train"), n(0), n(1), list(n(1))), nil},
		{"all wrong", obj(n(0), cty.StringVal("x"), n(2), n(1), list(n(-1))), []string{
			"steps: At least one step is needed", `mode: Unknown mode "x"`, "lo: Lo above hi", "list[0]: Negative entry"}},
		{"unknowns skip their checks only", obj(cty.UnknownVal(cty.Number), cty.UnknownVal(cty.String), n(2), cty.UnknownVal(cty.Number),
			list(n(1), cty.UnknownVal(cty.Number), n(-2))), []string{"list[2]: Negative entry"}},
		{"unknown list", obj(n(0), cty.StringVal("eval"), n(0), n(0), cty.UnknownVal(cty.List(cty.Number))), []string{"steps: At least one step is needed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, validateIt(tc.cfg)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidatorDecodeError(t *testing.T) {
	var cfg validateConfig
	v := NewValidator(Config{Value: cty.ObjectVal(map[string]cty.Value{"steps": cty.StringVal("many")})}, &cfg)
	ds := v.Diagnostics()
	if len(ds) != 1 || ds[0].Summary != "Invalid config" || ds[0].Severity != SeverityError {
		t.Errorf("diagnostics = %v, want one Invalid config error", ds)
	}
}

func TestSentenceCase(t *testing.T) {
	for in, want := range map[string]string{"unknown mode": "Unknown mode", "Fine": "Fine", "": "", "über": "Über", "1 step": "1 step"} {
		if got := SentenceCase(in); got != want {
			t.Errorf("SentenceCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestArtifactFamily(t *testing.T) {
	fam := ArtifactFamily("layer_{i}_png", 3, "image/png", "plot of layer i")
	var names []string
	for _, a := range fam {
		names = append(names, a.Name)
		if a.Family != "layer_{0..2}_png" || a.MediaType != "image/png" {
			t.Errorf("member %+v", a)
		}
	}
	if diff := cmp.Diff([]string{"layer_0_png", "layer_1_png", "layer_2_png"}, names); diff != "" {
		t.Error(diff)
	}
	// The family crosses the wire.
	w, err := codec.EncodeSchema(Schema{Config: Block{}, Artifacts: fam})
	if err != nil {
		t.Fatal(err)
	}
	back, err := codec.DecodeSchema(w)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fam, back.Artifacts); diff != "" {
		t.Errorf("after the wire (-want +got):\n%s", diff)
	}
}

func TestBuildVersion(t *testing.T) {
	if got := BuildVersion("v1.2.3\n"); got != "1.2.3" {
		t.Errorf("stamped: %q", got)
	}
	// A test binary's main module has no version.
	if got := BuildVersion(""); got != DevVersion {
		t.Errorf("unstamped: %q, want %q", got, DevVersion)
	}
	if Version == "" {
		t.Error("the SDK's VERSION file is empty")
	}
	md := codec.DecodeMetadata(codec.EncodeMetadata(Metadata{Name: "x", Version: "0.3.0"}))
	if md.SDKVersion != Version || md.Version != "0.3.0" {
		t.Errorf("metadata after the wire: %+v", md)
	}
}

func TestValidatorFileExists(t *testing.T) {
	present := filepath.Join(t.TempDir(), "data.jsonl")
	if err := os.WriteFile(present, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want int // errors
	}{{present, 0}, {"", 0}, {present + ".missing", 1}} {
		var cfg struct {
			Mode string `cty:"mode"`
		}
		v := NewValidator(Config{Value: cty.ObjectVal(map[string]cty.Value{"mode": cty.StringVal("x")})}, &cfg)
		v.FileExists("mode", tc.path, "File not found")
		if got := len(v.Diagnostics()); got != tc.want {
			t.Errorf("FileExists(%q): %d errors, want %d", tc.path, got, tc.want)
		}
	}
}

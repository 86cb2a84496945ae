package sdk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// recordingSink keeps what a Run reports.
type recordingSink struct{ events []string }

func (r *recordingSink) progress(stage string, done, total int64, unit string) {
	r.events = append(r.events, fmt.Sprintf("progress %s %d/%d %s", stage, done, total, unit))
}
func (r *recordingSink) metric(name string, step int64, value float64) {
	r.events = append(r.events, fmt.Sprintf("metric %s %d %g", name, step, value))
}
func (r *recordingSink) log(level Severity, msg string) {
	r.events = append(r.events, fmt.Sprintf("log %d %s", level, msg))
}
func (r *recordingSink) artifact(name, relPath, sum string, size int64, mediaType string) {
	r.events = append(r.events, fmt.Sprintf("artifact %s %s %d %s", name, relPath, size, mediaType))
}
func (r *recordingSink) output(name string, v cty.Value) error {
	if _, err := codec.EncodeValue(v); err != nil {
		return err
	}
	r.events = append(r.events, "output "+name)
	return nil
}

func TestArtifactRefusesEscapes(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	mustWrite := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(work, "ok.txt"))
	mustWrite(filepath.Join(work, "sub", "nested.txt"))
	mustWrite(filepath.Join(root, "outside.txt"))
	if err := os.Symlink(filepath.Join(root, "outside.txt"), filepath.Join(work, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(work, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(work, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		wantErr string // "" accepts
	}{
		{"ok.txt", ""},
		{"sub/nested.txt", ""},
		{"./sub/../ok.txt", ""},
		{"../outside.txt", "leaves the work dir"},
		{"sub/../../outside.txt", "leaves the work dir"},
		{filepath.Join(root, "outside.txt"), "absolute"},
		{"link.txt", "symlink"},
		{"linkdir/outside.txt", "symlink"},
		{"adir", "not a regular file"},
		{"missing.txt", "no such file"},
		{"", "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			sink := &recordingSink{}
			r := &Run{WorkDir: work, sink: sink}
			err := r.Artifact("a", tt.path, "text/plain")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(sink.events) != 1 || !strings.HasPrefix(sink.events[0], "artifact a ") {
					t.Errorf("events = %q", sink.events)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if len(sink.events) != 0 {
				t.Errorf("a refused artifact was announced: %q", sink.events)
			}
		})
	}
}

func TestOutputReportsUnencodableValues(t *testing.T) {
	sink := &recordingSink{}
	r := &Run{sink: sink}
	if err := r.Output("ok", cty.NumberIntVal(1)); err != nil {
		t.Fatal(err)
	}
	err := r.Output("bad", cty.SetVal([]cty.Value{cty.UnknownVal(cty.String)}))
	if err == nil {
		t.Fatal("an unknown inside a set was accepted")
	}
	if want := []string{"output ok", "log 2 " + err.Error()}; fmt.Sprint(sink.events) != fmt.Sprint(want) {
		t.Errorf("events = %q, want %q", sink.events, want)
	}
}

func TestDiagnosticsErr(t *testing.T) {
	if err := (Diagnostics{Warnf(nil, "w", "")}).Err(); err != nil {
		t.Errorf("warnings only: Err() = %v, want nil", err)
	}
	ds := Diagnostics{Errorf(cty.GetAttrPath("lr"), "Too large", "lr must be < 1"), Warnf(nil, "Slow", "")}
	err := fmt.Errorf("wrapped: %w", ds.Err())
	if got := DiagnosticsOf(err); len(got) != 2 {
		t.Errorf("DiagnosticsOf = %v", got)
	}
	if want := "wrapped: error: lr: Too large: lr must be < 1; warning: Slow"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if DiagnosticsOf(errors.New("plain")) != nil {
		t.Error("DiagnosticsOf(plain error) != nil")
	}
}

func TestNumberList(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want cty.Value
	}{
		{nil, cty.ListValEmpty(cty.Number)},
		{[]float64{}, cty.ListValEmpty(cty.Number)},
		{[]float64{1.5, -2}, cty.ListVal([]cty.Value{cty.NumberFloatVal(1.5), cty.NumberFloatVal(-2)})},
	} {
		if got := NumberList(tc.in); !got.RawEquals(tc.want) {
			t.Errorf("NumberList(%v) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

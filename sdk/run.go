package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Run is handed to [Plugin.Run]: the step's inputs and the channel back to the
// host. Its methods are safe for concurrent use.
type Run struct {
	RunID   string
	Step    string
	Config  Config
	WorkDir string // absolute; every artifact must be inside it
	// StateDir survives a crash of the host: keep resumable state
	// (checkpoints) there. It is reused when the same step runs again.
	StateDir string
	Seed     int64
	// Backend is the GoMLX backend the host chose for this step: "go" or
	// "xla:<name>". Open it with sdk/ml.AcquireBackend (and release it when the step ends).
	Backend string

	sink      eventSink
	artifacts map[string]ArtifactDecl // the schema's, by name
}

// Reporter is the part of [Run] that long computations (sdk/ml training
// loops, for instance) need. Tests can pass a [Discard] or their own.
type Reporter interface {
	Progress(stage string, done, total int64, unit string)
	Metric(name string, step int64, value float64)
	Logf(format string, args ...any)
}

var _ Reporter = (*Run)(nil)

// eventSink is where Run's events go: the gRPC stream in a served plugin, a
// recorder in plugintest.
type eventSink interface {
	progress(stage string, done, total int64, unit string)
	metric(name string, step int64, value float64)
	log(level Severity, msg string)
	artifact(name, relPath, sha256 string, size int64, mediaType string)
	output(name string, v cty.Value) error
}

// Progress reports how far a stage of the step has come. total is 0 when
// unknown; unit names what is counted ("steps", "concepts").
func (r *Run) Progress(stage string, done, total int64, unit string) {
	r.sink.progress(stage, done, total, unit)
}

// Metric records a scalar at a step (training step, sweep index).
func (r *Run) Metric(name string, step int64, value float64) {
	r.sink.metric(name, step, value)
}

// Logf sends an informational log line to the host.
func (r *Run) Logf(format string, args ...any) {
	r.sink.log(0, fmt.Sprintf(format, args...))
}

// Warnf sends a warning log line to the host.
func (r *Run) Warnf(format string, args ...any) {
	r.sink.log(SeverityWarning, fmt.Sprintf(format, args...))
}

// Path joins elements onto the step's work dir.
func (r *Run) Path(elem ...string) string {
	return filepath.Join(append([]string{r.WorkDir}, elem...)...)
}

// Artifact announces a file the step wrote. relPath is relative to WorkDir;
// absolute paths, paths that climb out with "..", and symlinks are refused,
// since the host copies artifacts into its content-addressed store and must
// never read outside the step's directory. The file's sha256 and size are
// computed here.
func (r *Run) Artifact(name, relPath, mediaType string) error {
	sum, size, err := HashArtifact(r.WorkDir, relPath)
	if err != nil {
		return fmt.Errorf("artifact %q: %w", name, err)
	}
	r.sink.artifact(name, filepath.ToSlash(filepath.Clean(relPath)), sum, size, mediaType)
	return nil
}

// Output sets a named output value of the step. It fails only for values
// that cannot cross the wire (cty.NilVal, unknowns inside sets); the failure
// is also logged to the host as a warning so that an ignored error still
// shows.
func (r *Run) Output(name string, v cty.Value) error {
	if err := r.sink.output(name, v); err != nil {
		r.sink.log(SeverityWarning, err.Error())
		return err
	}
	return nil
}

// NumberList is xs as an output value: a list of numbers, the empty list
// (not null) when xs is empty, so a spec can take its length either way.
func NumberList(xs []float64) cty.Value {
	if len(xs) == 0 {
		return cty.ListValEmpty(cty.Number)
	}
	vs := make([]cty.Value, len(xs))
	for i, x := range xs {
		vs[i] = cty.NumberFloatVal(x)
	}
	return cty.ListVal(vs)
}

// HashArtifact checks that relPath names a regular file inside dir (no
// absolute path, no "..", no symlink anywhere along it) and returns its
// sha256 (hex) and size. The host applies the same check on its side.
func HashArtifact(dir, relPath string) (string, int64, error) {
	if relPath == "" {
		return "", 0, errors.New("empty path")
	}
	if filepath.IsAbs(relPath) || strings.HasPrefix(relPath, "/") {
		return "", 0, fmt.Errorf("path %q is absolute; artifacts must be relative to the work dir", relPath)
	}
	clean := filepath.Clean(relPath)
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", 0, fmt.Errorf("path %q leaves the work dir", relPath)
	}
	// Walk each component so that a symlinked directory is caught too.
	cur := dir
	for _, part := range strings.Split(clean, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", 0, err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return "", 0, fmt.Errorf("path %q goes through a symlink (%s); artifacts must be regular files in the work dir", relPath, cur)
		}
	}
	f, err := os.Open(cur)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if !fi.Mode().IsRegular() {
		return "", 0, fmt.Errorf("path %q is not a regular file", relPath)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Discard is a Reporter that drops everything; handy in tests of code that
// reports progress.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Progress(string, int64, int64, string) {}
func (discard) Metric(string, int64, float64)         {}
func (discard) Logf(string, ...any)                   {}

// Outputs sets several output values at once, in name order, and returns
// every failure joined: one call whose error a plugin cannot forget to
// check one value at a time.
func (r *Run) Outputs(values map[string]cty.Value) error {
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		errs = append(errs, r.Output(n, values[n]))
	}
	return errors.Join(errs...)
}

// WriteArtifact writes a file and announces it, in one call: write gets the
// absolute path of relPath inside the work dir (its directory already
// created), and the file is announced as the declared artifact name, with
// the media type the schema declares for it. An artifact the schema does
// not declare is an error: other steps could not refer to it.
//
//	err := run.WriteArtifact("weights", "weights.json", func(path string) error {
//		return os.WriteFile(path, b, 0o644)
//	})
func (r *Run) WriteArtifact(name, relPath string, write func(path string) error) error {
	decl, err := r.declared(name)
	if err != nil {
		return err
	}
	path := r.Path(relPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("artifact %q: %w", name, err)
	}
	if err := write(path); err != nil {
		return fmt.Errorf("writing artifact %q (%s): %w", name, relPath, err)
	}
	return r.Artifact(name, relPath, decl.MediaType)
}

// WritePlot saves a plot and announces it: plot gets the path without
// extension (relBase inside the work dir) and returns the files it wrote,
// such as sdk/chart.Save's PNG and SVG; each is announced as the declared
// artifact of the same position in names ("" skips one). The media types
// come from the schema.
//
//	err := run.WritePlot("plots/loss", []string{"loss_png", "loss_svg"}, func(base string) ([]string, error) {
//		png, svg, err := chart.Save(p, base, 6*vg.Inch, 4*vg.Inch)
//		return []string{png, svg}, err
//	})
func (r *Run) WritePlot(relBase string, names []string, plot func(base string) ([]string, error)) error {
	for _, n := range names {
		if n == "" {
			continue
		}
		if _, err := r.declared(n); err != nil {
			return err
		}
	}
	base := r.Path(relBase)
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	files, err := plot(base)
	if err != nil {
		return fmt.Errorf("plot %s: %w", relBase, err)
	}
	for i, n := range names {
		if n == "" || i >= len(files) {
			continue
		}
		rel, err := filepath.Rel(r.WorkDir, files[i])
		if err != nil {
			return err
		}
		decl, _ := r.declared(n)
		if err := r.Artifact(n, rel, decl.MediaType); err != nil {
			return err
		}
	}
	return nil
}

// declared looks an artifact up in the schema.
func (r *Run) declared(name string) (ArtifactDecl, error) {
	if r.artifacts == nil {
		return ArtifactDecl{}, fmt.Errorf("artifact %q: the run has no schema to take its media type from", name)
	}
	d, ok := r.artifacts[name]
	if !ok {
		return ArtifactDecl{}, fmt.Errorf("artifact %q is not declared in the plugin's schema", name)
	}
	return d, nil
}

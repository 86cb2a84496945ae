package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	// "xla:<name>". Open it with sdk/ml.OpenBackend.
	Backend string

	sink eventSink
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

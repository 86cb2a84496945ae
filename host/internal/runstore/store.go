package runstore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DefaultDir is the store directory used when none is given, relative to
// the working directory.
const DefaultDir = ".shammie"

// Store is a run store rooted at a directory.
type Store struct {
	root string
	// now is the clock; tests replace it.
	now func() time.Time
	// process identifies the recording process; tests fake a dead one.
	process func() ProcessInfo
}

// Open opens (creating if needed) the store at dir.
func Open(dir string) (*Store, error) {
	if dir == "" {
		dir = DefaultDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"runs", "objects/sha256", "cache", "state", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("opening run store: %w", err)
		}
	}
	return &Store{root: abs, now: func() time.Time { return time.Now().UTC() }, process: currentProcess}, nil
}

// Root is the store's absolute directory.
func (s *Store) Root() string { return s.root }

func (s *Store) runsDir() string         { return filepath.Join(s.root, "runs") }
func (s *Store) runDir(id string) string { return filepath.Join(s.root, "runs", id) }
func (s *Store) tmpDir() string          { return filepath.Join(s.root, "tmp") }

// newRunID returns a time-sortable id: 20261126T170501-3fa2.
func (s *Store) newRunID(t time.Time) (string, error) {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:]), nil
}

var runIDPattern = regexp.MustCompile(`^\d{8}T\d{6}-[0-9a-f]{4}$`)

// writeFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers never see a partial file. With sync the
// file is fsynced before the rename and the directory after it: used for
// records whose loss would matter (final statuses, objects, cache entries).
func writeFileAtomic(path string, data []byte, perm os.FileMode, sync bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if sync {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some filesystems refuse fsync on directories; the rename already
	// happened, so that is not worth failing the record for.
	_ = d.Sync()
	return nil
}

func writeJSONAtomic(path string, v any, sync bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644, sync)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// StepDirName turns a step address into a directory name: `step.train`
// becomes `train`, `step.sweep["a b"]` becomes `sweep_a_b-1f2e3d4c` — the
// hash of the full address is appended whenever characters had to be
// replaced, so two addresses never share a directory.
func StepDirName(address string) string {
	name := strings.TrimPrefix(address, "step.")
	var b strings.Builder
	changed := false
	lastUnderscore := false
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_'
		if ok {
			b.WriteRune(r)
			lastUnderscore = r == '_'
			continue
		}
		changed = true
		if !lastUnderscore {
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	out := strings.Trim(b.String(), "_.")
	if out != b.String() {
		changed = true
	}
	if out == "" || strings.HasPrefix(out, ".") {
		changed = true
	}
	if len(out) > 80 {
		out = out[:80]
		changed = true
	}
	if changed {
		out += "-" + shortHash(address)
	}
	return out
}

package runstore

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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
	// dirDigests are the content digests of directories named by configs,
	// by absolute path, for the life of this Store (one command).
	dirDigests sync.Map
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
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o700); err != nil {
			return nil, fmt.Errorf("opening run store: %w", err)
		}
		// Records hold configs, outputs and logs: private, also in a
		// store made before records were.
		_ = os.Chmod(filepath.Join(abs, sub), 0o700)
	}
	s := &Store{root: abs, now: func() time.Time { return time.Now().UTC() }, process: currentProcess}
	s.cleanTmp(s.now(), false)
	return s, nil
}

// Root is the store's absolute directory.
func (s *Store) Root() string { return s.root }

func (s *Store) runsDir() string         { return filepath.Join(s.root, "runs") }
func (s *Store) runDir(id string) string { return filepath.Join(s.root, "runs", id) }
func (s *Store) tmpDir() string          { return filepath.Join(s.root, "tmp") }

// newRunDir claims a new run id and creates its directory. Ids sort by
// time: 20261126T170501-3fa2 is the second, then 4 hex digits whose high
// 10 bits are the millisecond and low 6 bits random. Within one second an id
// is moreover made greater than every id already there, so that "latest" is
// the last run created even when two start in the same millisecond.
func (s *Store) newRunDir(t time.Time) (string, error) {
	t = t.UTC()
	prefix := t.Format("20060102T150405") + "-"
	var b [1]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	suffix := uint32(t.Nanosecond()/1e6)<<6 | uint32(b[0]&0x3f)
	for attempt := 0; attempt < 100; attempt++ {
		ents, err := os.ReadDir(s.runsDir())
		if err != nil {
			return "", err
		}
		for _, e := range ents {
			if rest, ok := strings.CutPrefix(e.Name(), prefix); ok && len(rest) == 4 {
				var n uint32
				if _, err := fmt.Sscanf(rest, "%04x", &n); err == nil && n >= suffix {
					suffix = n + 1
				}
			}
		}
		if suffix > 0xffff {
			return "", fmt.Errorf("more than 65536 runs started in the second %s", prefix)
		}
		id := fmt.Sprintf("%s%04x", prefix, suffix)
		// Mkdir, not MkdirAll: it fails if another process took the id.
		if err := os.Mkdir(s.runDir(id), 0o700); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", err
		}
		return id, nil
	}
	return "", fmt.Errorf("could not claim a run id for %s", prefix)
}

var runIDPattern = regexp.MustCompile(`^\d{8}T\d{6}-[0-9a-f]{4}$`)

// writeFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers — and a host that crashed — never see a
// partial file. With sync the file is fsynced before the rename, for records
// whose content must survive a power cut once they are visible (final
// statuses, cache entries). Directories are not fsynced: a rename lost to a
// power cut leaves the previous record ("running") or no cache entry, both
// of which are safe, and it would double the cost of every step.
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
	if sync && fsyncEnabled {
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
	return nil
}

// fsyncEnabled is switched off only by BenchmarkStepRecord, to measure what
// the fsyncs cost next to the rest of the bookkeeping.
var fsyncEnabled = true

func writeJSONAtomic(path string, v any, sync bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600, sync)
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

package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path so that a crash at any moment leaves
// either the old file or the new one, never half of either: it writes a
// temporary file in the same directory (created if missing), syncs it and
// renames it over path. Use it for everything in [Run.StateDir], which a
// rerun after a crash reads back.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// SaveState writes v as JSON to name inside dir (usually [Run.StateDir]),
// atomically (see [WriteFileAtomic]). An empty dir saves nothing: a step
// run without a state dir simply cannot resume.
func SaveState(dir, name string, v any) error {
	if dir == "" {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("state %s: %w", name, err)
	}
	return WriteFileAtomic(filepath.Join(dir, name), b, 0o644)
}

// LoadState reads what [SaveState] wrote into v. It reports false, and no
// error, when there is nothing to resume from (no dir, no file); a file
// that does not decode is an error, since resuming from it would be wrong.
func LoadState(dir, name string, v any) (bool, error) {
	if dir == "" {
		return false, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("state %s: %w", filepath.Join(dir, name), err)
	}
	return true, nil
}

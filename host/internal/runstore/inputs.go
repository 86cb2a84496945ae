package runstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"
)

// A plugin never gets a path into the object store. Objects are read-only,
// but a plugin runs as the same user and could chmod one and write to it,
// corrupting the input of every later run (no directory mode prevents
// that, and a hard link shares the inode). So each input artifact is copied,
// after its content is verified, to runs/<id>/inputs/ and the plugin reads
// the copy. One copy per object and run, not per step: a 1000-instance
// sweep over one dataset copies it once. A step that alters its
// input copy can only affect later steps of the same run, and not even
// them: the copy's identity is checked before each hand-off and a changed
// copy is made again. The copies go when the run finishes.

type inputCopy struct {
	path     string
	identity string
}

func (r *Run) inputsDir() string { return filepath.Join(r.Dir(), "inputs") }

// PluginConfig returns cfg as the plugin should see it: every string that
// is the path of an object of this store replaced by the path of a
// verified private copy. Marks are kept.
func (r *Run) PluginConfig(cfg cty.Value) (cty.Value, error) {
	if cfg == cty.NilVal {
		return cfg, nil
	}
	plain, marks := cfg.UnmarkDeepWithPaths()
	var copyErr error
	out, err := cty.Transform(plain, func(_ cty.Path, v cty.Value) (cty.Value, error) {
		if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return v, nil
		}
		if _, ok := r.store.ObjectSHA(v.AsString()); !ok {
			return v, nil
		}
		p, err := r.inputCopy(v.AsString())
		if err != nil {
			copyErr = err
			return v, nil
		}
		return cty.StringVal(p), nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	if copyErr != nil {
		return cty.NilVal, copyErr
	}
	return out.MarkWithPaths(marks), nil
}

// inputCopy returns the private copy of the object at objPath, making it
// (again) when it is missing or was altered since it was made.
func (r *Run) inputCopy(objPath string) (string, error) {
	r.inputsMu.Lock()
	defer r.inputsMu.Unlock()
	if c, ok := r.inputs[objPath]; ok {
		if fi, err := os.Lstat(c.path); err == nil {
			if id, ok := fileIdentity(fi); ok && id == c.identity {
				return c.path, nil
			}
		}
		_ = os.Chmod(c.path, 0o600)
		_ = os.Remove(c.path)
		delete(r.inputs, objPath)
	}
	if err := r.store.VerifyObject(objPath); err != nil {
		return "", err
	}
	sha, _ := r.store.ObjectSHA(objPath)
	if err := os.MkdirAll(r.inputsDir(), 0o700); err != nil {
		return "", err
	}
	dst := filepath.Join(r.inputsDir(), sha+filepath.Ext(objPath))
	if filepath.Ext(objPath) != ObjectExt(objPath) {
		dst = filepath.Join(r.inputsDir(), sha)
	}
	if err := copyVerified(objPath, dst, sha); err != nil {
		return "", fmt.Errorf("copying input artifact %s for the plugin: %w", objPath, err)
	}
	fi, err := os.Lstat(dst)
	if err != nil {
		return "", err
	}
	id, _ := fileIdentity(fi)
	if r.inputs == nil {
		r.inputs = map[string]inputCopy{}
	}
	r.inputs[objPath] = inputCopy{path: dst, identity: id}
	return dst, nil
}

// copyVerified copies src to dst (read-only) through a temporary file,
// checking that the bytes copied have the sha256 wantSHA.
func copyVerified(src, dst, wantSHA string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	if _, err := io.Copy(tmp, io.TeeReader(in, h)); err != nil {
		tmp.Close()
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA {
		tmp.Close()
		return fmt.Errorf("the object changed while it was copied (sha256 %s, want %s)", got, wantSHA)
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// removeInputs deletes the run's input copies (read-only files).
func (r *Run) removeInputs() {
	r.inputsMu.Lock()
	defer r.inputsMu.Unlock()
	for _, c := range r.inputs {
		_ = os.Chmod(c.path, 0o600)
	}
	r.inputs = nil
	_ = os.RemoveAll(r.inputsDir())
}

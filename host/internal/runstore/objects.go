package runstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ObjectPath is where the object with the given sha256 (lower-case hex)
// and file extension lives: <root>/objects/sha256/ab/cdef….ext. It may not
// exist. The extension is kept because plugins pick a reader by it (.csv,
// .safetensors, .jsonl): the same bytes under two extensions are two
// objects.
func (s *Store) ObjectPath(sha, ext string) string {
	return filepath.Join(s.root, "objects", "sha256", sha[:2], sha[2:]+ext)
}

// ObjectExt is the extension an artifact written at relPath keeps in the
// store: its last extension, lower-cased, if it is 1–16 letters or digits;
// "" otherwise.
func ObjectExt(relPath string) string {
	ext := strings.ToLower(filepath.Ext(relPath))
	if len(ext) < 2 || len(ext) > 17 {
		return ""
	}
	for _, c := range ext[1:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return ext
}

// PutArtifact copies the file relPath of workDir into the content-addressed
// store and returns its absolute store path. The path must name a regular
// file inside workDir (no absolute path, no "..", no symlink anywhere along
// it — the same check as sdk.HashArtifact on the plugin side), and its
// sha256 must equal wantSHA, the hash the plugin announced: a mismatch means
// the file changed after it was announced or the plugin lied, and is an
// error. An object already present is not copied again (dedup) when its
// content is intact; a damaged one is replaced. Objects are read-only, and
// plugins never see them: they read private copies (Run.PluginConfig).
func (s *Store) PutArtifact(workDir, relPath, wantSHA string) (string, error) {
	wantSHA = strings.ToLower(wantSHA)
	if !validSHA256(wantSHA) {
		return "", fmt.Errorf("artifact %q: announced sha256 %q is not 64 hex digits", relPath, wantSHA)
	}
	sum, _, err := sdk.HashArtifact(workDir, relPath)
	if err != nil {
		return "", fmt.Errorf("artifact %q refused: %w", relPath, err)
	}
	// A hard link can name a file outside the work dir (a secret, another
	// run's output) under a path inside it: refused like a symlink.
	if fi, err := os.Lstat(filepath.Join(workDir, filepath.Clean(relPath))); err == nil && linkCount(fi) > 1 {
		return "", fmt.Errorf("artifact %q refused: it is a hard link (%d links), possibly to a file outside the work dir; write the artifact as a file of its own", relPath, linkCount(fi))
	}
	if sum != wantSHA {
		return "", fmt.Errorf("artifact %q: sha256 is %s but the plugin announced %s (was the file changed after it was announced?)", relPath, sum, wantSHA)
	}
	dst := s.ObjectPath(sum, ObjectExt(relPath))
	if objectIntact(dst, sum) {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	// Copy while hashing: the file could still change between the check
	// above and the copy, and the object must match its name.
	src, err := os.OpenFile(filepath.Join(workDir, filepath.Clean(relPath)), os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(s.tmpDir(), "object-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("copying artifact %q into the store: %w", relPath, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		tmp.Close()
		return "", fmt.Errorf("artifact %q changed while it was being stored (sha256 %s, announced %s)", relPath, got, wantSHA)
	}
	if fsyncEnabled {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return "", err
		}
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// Two steps storing the same content at once both rename onto the same
	// name with the same bytes; whichever wins, the object is right.
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", err
	}
	return dst, nil
}

// ObjectSHA returns the sha256 of the object at path if path is an object of
// this store (as step.X.artifacts.NAME evaluates to), and false otherwise.
func (s *Store) ObjectSHA(path string) (string, bool) {
	prefix := filepath.Join(s.root, "objects", "sha256") + string(filepath.Separator)
	if !strings.HasPrefix(path, prefix) {
		return "", false
	}
	rest := strings.TrimPrefix(path, prefix)
	dir, file, ok := strings.Cut(rest, string(filepath.Separator))
	if !ok || len(dir) != 2 || len(file) < 62 {
		return "", false
	}
	if ext := file[62:]; ext != "" && ObjectExt("x"+ext) != ext {
		return "", false
	}
	sha := dir + file[:62]
	if !validSHA256(sha) {
		return "", false
	}
	return sha, true
}

// InputArtifacts finds every string in an evaluated config that is the
// path of an object in this store and returns path -> sha256: the input
// artifacts to put into CacheInputs.
func (s *Store) InputArtifacts(config cty.Value) map[string]string {
	out := map[string]string{}
	config, _ = config.UnmarkDeep()
	_ = cty.Walk(config, func(_ cty.Path, v cty.Value) (bool, error) {
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			if sha, ok := s.ObjectSHA(v.AsString()); ok {
				out[v.AsString()] = sha
			}
		}
		return true, nil
	})
	return out
}

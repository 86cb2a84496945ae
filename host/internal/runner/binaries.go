package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Plugins run from private copies. go-plugin hashes the binary at its path
// and then executes that path again: a writer renaming binaries in between
// gets an unchecked build run under the locked hash. So the host opens the
// locked binary once, copies it while hashing into a directory only this
// process may write (0700, under the system temp dir), compares the hash
// with the lock, and executes the copy. One copy per binary and host
// process; Pool.Close removes them.
var private struct {
	mu    sync.Mutex
	dir   string
	paths map[string]string // sha256 -> private copy
}

// privateBinary returns the path of a private copy of the binary at path
// whose content has the sha256 want.
func privateBinary(path, want string) (string, error) {
	private.mu.Lock()
	defer private.mu.Unlock()
	if p, ok := private.paths[want]; ok {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if private.dir == "" {
		d, err := os.MkdirTemp("", "shammie-plugins-")
		if err != nil {
			return "", err
		}
		private.dir, private.paths = d, map[string]string{}
	}
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dir := filepath.Join(private.dir, want[:min(16, len(want))])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(path))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o700)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), src)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		os.Remove(dst)
		return "", fmt.Errorf("plugin %s: the binary %s changed since `shammie init` recorded it (lock sha256 %s, file sha256 %s); if the new binary is intended, run `shammie init` again", filepath.Base(path), path, want, got)
	}
	private.paths[want] = dst
	return dst, nil
}

// removePrivateBinaries deletes the private copies (when the pool closes).
func removePrivateBinaries() {
	private.mu.Lock()
	defer private.mu.Unlock()
	if private.dir != "" {
		os.RemoveAll(private.dir)
		private.dir, private.paths = "", nil
	}
}

package runstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Objects are verified by content, not only by name and size, whenever a
// result is about to be trusted: when a cache hit restores an artifact, when
// PutArtifact finds an object of the same name already there (dedup), and
// when an input artifact is copied for a plugin. Hashing costs about what
// reading the file costs (BenchmarkVerifyObject), so each object is hashed
// once per host process and file identity (inode, size, mode, mtime,
// ctime): any write or chmod changes the identity and forces a new hash. A
// sweep of 1000 instances reading one 100 MB object hashes it once.
var verifiedObjects sync.Map // path + "|" + identity -> sha256

// hashFile returns the hex sha256 of the file at path.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// objectIntact reports whether the object at path is a regular file whose
// content has the sha256 wantSHA.
func objectIntact(path, wantSHA string) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	id, keyed := fileIdentity(fi)
	memo := path + "|" + id
	if keyed {
		if sha, ok := verifiedObjects.Load(memo); ok {
			return sha.(string) == wantSHA
		}
	}
	sum, err := hashFile(path)
	if err != nil {
		return false
	}
	if keyed {
		verifiedObjects.Store(memo, sum)
	}
	return sum == wantSHA
}

// quarantine moves a damaged object out of the way (into tmp/, removed by
// gc) so that the next PutArtifact of the right content writes it afresh
// and no cache entry restores it meanwhile.
func (s *Store) quarantine(path string) {
	_ = os.Chmod(path, 0o600)
	if err := os.Rename(path, filepath.Join(s.tmpDir(), fmt.Sprintf("damaged-%s", filepath.Base(path)))); err != nil {
		_ = os.Remove(path)
	}
}

// VerifyObject checks that the object at path (a path into this store, as
// step.X.artifacts.NAME evaluates to) has the content its name says. A
// damaged object is moved out of the store and an error says so: the step
// that made it must run again.
func (s *Store) VerifyObject(path string) error {
	sha, ok := s.ObjectSHA(path)
	if !ok {
		return fmt.Errorf("%s is not an object of the run store %s", path, s.root)
	}
	if objectIntact(path, sha) {
		return nil
	}
	if _, err := os.Lstat(path); err != nil {
		return fmt.Errorf("artifact %s is missing from the store: %w", path, err)
	}
	s.quarantine(path)
	return fmt.Errorf("artifact %s is damaged (its content no longer has sha256 %s); it was removed from the store: rerun the step that produced it (`shammie run --no-cache` or simply `shammie run`, whose cache no longer finds it)", path, sha)
}

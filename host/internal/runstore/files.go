package runstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"
)

// Files named by a config. A config string naming a file or directory
// (`data = "${path.spec}/data.csv"`) would enter the cache key only as a
// string: edit the file and the rerun would restore the old result. So
// every string of an evaluated config that names an existing file or
// directory (absolute, or relative to baseDir: the plugin's working
// directory, the spec's folder) has its content digest put into the key
// (CacheInputs.Files). No plugin cooperation is needed, and a string that
// merely happens to name a file only makes the key depend on that file.
//
// Digests are remembered per file identity (inode, size, mode, mtime,
// ctime), in memory and under <root>/cache/files/, so an unchanged 1 GB
// dataset is hashed once, not on every run.

// maxDirFiles bounds how many files of a directory are hashed by content;
// beyond it a directory's digest covers names, sizes and mtimes only.
const maxDirFiles = 20000

var fileDigests sync.Map // path|identity -> sha256

type fileMemo struct {
	Identity string `json:"identity"`
	SHA256   string `json:"sha256"`
}

// FileInputs returns path -> content digest of every string in cfg that
// names an existing file or directory outside the store, relative paths
// resolved against baseDir. Paths are as written in the config.
func (s *Store) FileInputs(cfg cty.Value, baseDir string) (map[string]string, error) {
	out := map[string]string{}
	if cfg == cty.NilVal {
		return out, nil
	}
	cfg, _ = cfg.UnmarkDeep()
	var firstErr error
	_ = cty.Walk(cfg, func(_ cty.Path, v cty.Value) (bool, error) {
		if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return true, nil
		}
		str := v.AsString()
		if _, done := out[str]; done || !pathLike(str) {
			return true, nil
		}
		abs := str
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(baseDir, abs)
		}
		abs = filepath.Clean(abs)
		if s.skipPath(abs, baseDir) {
			return true, nil
		}
		fi, err := os.Stat(abs)
		if err != nil || !(fi.Mode().IsRegular() || fi.IsDir()) {
			return true, nil
		}
		d, err := s.pathDigest(abs, fi)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("hashing %s (named in the config) for the cache key: %w", str, err)
			}
			return true, nil
		}
		out[str] = d
		return true, nil
	})
	return out, firstErr
}

func pathLike(s string) bool {
	return s != "" && len(s) <= 4096 && !strings.ContainsAny(s, "\x00\n")
}

// skipPath: the store itself, "/", and the base dir or its ancestors (a
// config saying "." or ".." does not name input data).
func (s *Store) skipPath(abs, baseDir string) bool {
	if abs == s.root || strings.HasPrefix(abs, s.root+string(filepath.Separator)) {
		return true
	}
	rel, err := filepath.Rel(abs, baseDir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (s *Store) pathDigest(abs string, fi os.FileInfo) (string, error) {
	if fi.Mode().IsRegular() {
		return s.fileDigest(abs, fi)
	}
	// A directory is walked once per command: a sweep of 1000 instances
	// naming one data directory does not stat its files 1000 times.
	if d, ok := s.dirDigests.Load(abs); ok {
		return d.(string), nil
	}
	d, err := s.dirDigest(abs)
	if err == nil {
		s.dirDigests.Store(abs, d)
	}
	return d, err
}

func (s *Store) dirDigest(abs string) (string, error) {
	type entry struct{ rel, digest string }
	var ents []entry
	n := 0
	err := filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(abs, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			ents = append(ents, entry{rel, "symlink:" + target})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			n++
			if n > maxDirFiles {
				ents = append(ents, entry{rel, fmt.Sprintf("stat:%d:%d", info.Size(), info.ModTime().UnixNano())})
				return nil
			}
			dg, err := s.fileDigest(p, info)
			if err != nil {
				return err
			}
			ents = append(ents, entry{rel, dg})
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].rel < ents[j].rel })
	h := sha256.New()
	for _, e := range ents {
		fmt.Fprintf(h, "%s\x00%s\n", e.rel, e.digest)
	}
	return "dir:" + hex.EncodeToString(h.Sum(nil)), nil
}

// fileDigest is the sha256 of a regular file, remembered by identity.
func (s *Store) fileDigest(path string, fi os.FileInfo) (string, error) {
	id, keyed := fileIdentity(fi)
	if !keyed {
		return hashFile(path)
	}
	key := path + "|" + id
	if d, ok := fileDigests.Load(key); ok {
		return d.(string), nil
	}
	ph := sha256.Sum256([]byte(path))
	name := hex.EncodeToString(ph[:])
	memoPath := filepath.Join(s.root, "cache", "files", name[:2], name+".json")
	var m fileMemo
	if b, err := os.ReadFile(memoPath); err == nil && json.Unmarshal(b, &m) == nil && m.Identity == id && validSHA256(m.SHA256) {
		fileDigests.Store(key, m.SHA256)
		return m.SHA256, nil
	}
	sum, err := hashFile(path)
	if err != nil {
		return "", err
	}
	// Only if the file did not change while it was hashed.
	if fi2, err := os.Stat(path); err == nil {
		if id2, _ := fileIdentity(fi2); id2 == id {
			fileDigests.Store(key, sum)
			if os.MkdirAll(filepath.Dir(memoPath), 0o700) == nil {
				_ = writeJSONAtomic(memoPath, fileMemo{Identity: id, SHA256: sum}, false)
			}
		}
	}
	return sum, nil
}

package runstore

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// staleTmpAge is how old a file under tmp/ must be before it counts as
// left behind by a crashed host: a live host writes its temporary objects
// continuously and renames them within the copy.
const staleTmpAge = time.Hour

// cleanTmp removes what crashed hosts left under tmp/ (partial objects,
// damaged objects moved aside); Open calls it.
func (s *Store) cleanTmp(now time.Time, dryRun bool) (n int, bytes int64) {
	ents, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if now.Sub(fi.ModTime()) < staleTmpAge && !strings.HasPrefix(e.Name(), "damaged-") {
			continue
		}
		n++
		bytes += fi.Size()
		if !dryRun {
			_ = os.RemoveAll(filepath.Join(s.tmpDir(), e.Name()))
		}
	}
	return n, bytes
}

// GCOptions say what `shammie gc` removes besides stale temporary files.
type GCOptions struct {
	// OlderThan > 0 removes finished runs (not running, not interrupted
	// while still owned by a live process) that started longer ago.
	OlderThan time.Duration
	// WorkDirs removes the work dirs of finished runs (artifacts stay in the
	// object store; records, events and metrics stay).
	WorkDirs bool
	// DryRun only reports.
	DryRun bool
}

// GCReport says what GC removed (or would remove).
type GCReport struct {
	Runs, WorkDirs, Objects, TmpFiles int
	Bytes                             int64
}

// GC removes stale temporary files, optionally old runs and work dirs, and
// then every object no cache entry and no remaining step record refers to.
// Objects younger than an hour are kept: a running host may have stored
// one that nothing refers to yet.
func (s *Store) GC(opts GCOptions) (GCReport, error) {
	var rep GCReport
	now := s.now()
	rep.TmpFiles, rep.Bytes = s.cleanTmp(now, opts.DryRun)
	ids, err := s.runIDs()
	if err != nil {
		return rep, err
	}
	referenced := map[string]bool{}
	for _, id := range ids {
		var rec RunRecord
		if err := readJSON(filepath.Join(s.runDir(id), "run.json"), &rec); err != nil {
			continue
		}
		finished := rec.Status != StatusRunning || !rec.Process.alive()
		if finished && opts.OlderThan > 0 && now.Sub(rec.StartedAt) > opts.OlderThan {
			rep.Runs++
			rep.Bytes += dirSize(s.runDir(id))
			if !opts.DryRun {
				if err := os.RemoveAll(s.runDir(id)); err != nil {
					return rep, err
				}
			}
			continue
		}
		steps, _ := s.loadSteps(id)
		for _, st := range steps {
			for _, a := range st.Artifacts {
				referenced[s.ObjectPath(a.SHA256, ObjectExt(a.RelPath))] = true
			}
			work := filepath.Join(s.runDir(id), "steps", st.Dir, "work")
			if finished && opts.WorkDirs {
				if fi, err := os.Stat(work); err == nil && fi.IsDir() {
					rep.WorkDirs++
					rep.Bytes += dirSize(work)
					if !opts.DryRun {
						_ = os.RemoveAll(work)
					}
				}
			}
		}
	}
	_ = filepath.WalkDir(filepath.Join(s.root, "cache"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".json") || strings.Contains(p, string(filepath.Separator)+"files"+string(filepath.Separator)) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		var e CacheEntry
		if json.Unmarshal(b, &e) != nil {
			return nil
		}
		for _, a := range e.Artifacts {
			if validSHA256(a.SHA256) {
				referenced[s.ObjectPath(a.SHA256, ObjectExt(a.RelPath))] = true
			}
		}
		return nil
	})
	err = filepath.WalkDir(filepath.Join(s.root, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() || referenced[p] {
			return nil
		}
		fi, err := d.Info()
		if err != nil || now.Sub(fi.ModTime()) < staleTmpAge {
			return nil
		}
		rep.Objects++
		rep.Bytes += fi.Size()
		if !opts.DryRun {
			return os.Remove(p)
		}
		return nil
	})
	return rep, err
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

package runstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// cacheKeyVersion changes whenever the key's recipe changes, so that old
// entries are simply never found again.
const cacheKeyVersion = "shammie-step-cache-v2"

// CacheInputs is everything a step's result depends on.
type CacheInputs struct {
	// PluginSHA256 is the sha256 of the plugin binary (from the lock file):
	// a rebuilt plugin recomputes.
	PluginSHA256 string
	// Config is the step's evaluated config, with its type (an attribute
	// that is a number differs from the same digits as a string). Marks are
	// ignored, so sensitive values count too.
	Config cty.Value
	// InputArtifacts maps every artifact path the config references to the
	// artifact's sha256 (Store.InputArtifacts computes it). In the key, each
	// such path inside Config is replaced by its hash, so that the key
	// depends on the content of the inputs and not on where the store is.
	InputArtifacts map[string]string
	// Files maps every string of Config naming a file or directory to the
	// digest of its content (Store.FileInputs computes it).
	Files map[string]string
	// Seed is the step's seed.
	Seed int64
	// Backend is the GoMLX backend, e.g. "go" or "xla:cuda".
	Backend string
}

// CacheKey returns the hex sha256 identifying a step's result: over the
// plugin binary's sha256, the config as canonical ctyjson (value and type,
// object attributes and map keys in sorted order), the sha256 of every input
// artifact, the digest of every file the config names, the seed and the
// backend. It returns "" when the config is not
// wholly known (at plan time, before the steps it references have run):
// such a step cannot be looked up yet.
func CacheKey(in CacheInputs) string {
	if in.Config == cty.NilVal || !in.Config.IsWhollyKnown() {
		return ""
	}
	cfg, _ := in.Config.UnmarkDeep()
	cfg, err := cty.Transform(cfg, func(_ cty.Path, v cty.Value) (cty.Value, error) {
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			if sha, ok := in.InputArtifacts[v.AsString()]; ok {
				// The extension stays: plugins choose a reader by it.
				return cty.StringVal("artifact:sha256:" + sha + ObjectExt(v.AsString())), nil
			}
		}
		return v, nil
	})
	if err != nil {
		return ""
	}
	ty := cfg.Type()
	tb, err := ctyjson.MarshalType(ty)
	if err != nil {
		return ""
	}
	vb, err := ctyjson.Marshal(cfg, ty)
	if err != nil {
		return ""
	}
	inputs := make([]string, 0, len(in.InputArtifacts))
	for _, sha := range in.InputArtifacts {
		inputs = append(inputs, sha)
	}
	sort.Strings(inputs)
	files := make([]string, 0, len(in.Files))
	for p, d := range in.Files {
		files = append(files, p+"\x00"+d)
	}
	sort.Strings(files)
	// encoding/json writes struct fields in declaration order: canonical.
	doc, err := json.Marshal(struct {
		Version      string          `json:"version"`
		PluginSHA256 string          `json:"plugin_sha256"`
		ConfigType   json.RawMessage `json:"config_type"`
		Config       json.RawMessage `json:"config"`
		Inputs       []string        `json:"inputs"`
		Files        []string        `json:"files"`
		Seed         int64           `json:"seed"`
		Backend      string          `json:"backend"`
	}{cacheKeyVersion, in.PluginSHA256, tb, vb, inputs, files, in.Seed, in.Backend})
	if err != nil {
		return ""
	}
	h := sha256.Sum256(doc)
	return hex.EncodeToString(h[:])
}

func (s *Store) cachePath(key string) string {
	return filepath.Join(s.root, "cache", key[:2], key+".json")
}

// LookupCache returns the cache entry of a succeeded step with this key.
// found is false when there is none, or when one of its artifact objects
// has gone from the store or no longer has the content its name says (the
// step must then run again; a damaged object is moved out of the store). StorePaths in the
// entry point into this store.
func (s *Store) LookupCache(key string) (entry *CacheEntry, found bool, err error) {
	if !validSHA256(key) {
		return nil, false, nil
	}
	var e CacheEntry
	if err := readJSON(s.cachePath(key), &e); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading cache entry: %w", err)
	}
	for name, a := range e.Artifacts {
		if !validSHA256(a.SHA256) {
			return nil, false, fmt.Errorf("cache entry %s: artifact %q has a bad sha256", key, name)
		}
		a.StorePath = s.ObjectPath(a.SHA256, ObjectExt(a.RelPath))
		if !objectIntact(a.StorePath, a.SHA256) {
			// Gone or damaged: the step runs again and its PutArtifact
			// writes the object afresh.
			if _, err := os.Lstat(a.StorePath); err == nil {
				s.quarantine(a.StorePath)
			}
			return nil, false, nil
		}
		e.Artifacts[name] = a
	}
	return &e, true, nil
}

func (s *Store) putCache(e *CacheEntry) error {
	p := s.cachePath(e.Key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return writeJSONAtomic(p, e, true)
}

// StateDir returns the directory where a step with this cache key keeps
// resumable state (checkpoints), creating it. It lives outside any run so
// that rerunning the same step after a crash finds its checkpoints; an empty
// key (uncacheable step) gets a fresh directory under the run instead.
func (s *Store) StateDir(key string) (string, error) {
	if !validSHA256(key) {
		return "", fmt.Errorf("state dir: bad cache key %q", key)
	}
	d := filepath.Join(s.root, "state", key)
	return d, os.MkdirAll(d, 0o700)
}

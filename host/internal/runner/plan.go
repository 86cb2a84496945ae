package runner

import (
	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/runstore"
)

// Cache statuses of a planned instance.
const (
	CacheHit     = "hit"     // a cached result exists: the instance will be skipped
	CacheMiss    = "miss"    // its config is known and nothing is cached: it will run
	CachePending = "pending" // depends on an instance that will run: known only then
	CacheError   = "error"   // its config cannot be evaluated (see Message)
)

// PlannedNode is one line of `shammie plan`.
type PlannedNode struct {
	Address   string   `json:"address"`
	Plugin    string   `json:"plugin"`
	Version   string   `json:"version"`
	DependsOn []string `json:"depends_on,omitempty"`
	Cache     string   `json:"cache"`
	CacheKey  string   `json:"cache_key,omitempty"`
	Seed      *int64   `json:"seed,omitempty"`
	Backend   string   `json:"backend,omitempty"`
	// CachedFrom is the run that computed a hit.
	CachedFrom string `json:"cached_from,omitempty"`
	Message    string `json:"message,omitempty"`
}

// Plan computes each instance's cache status without running anything:
// walking the graph in order, an instance whose upstream instances are all
// cache hits has a known config, hence a cache key to look up; the results
// of hits feed their dependents exactly as a run would.
func (s *Session) Plan(store *runstore.Store) []PlannedNode {
	results := map[string]dag.StepResult{}
	status := map[string]string{}
	var out []PlannedNode
	for _, n := range s.Graph.TopoOrder() {
		p := s.Plugins[n.Step.Plugin]
		pn := PlannedNode{Address: n.Addr, Plugin: n.Step.Plugin, Version: p.Version}
		ready := true
		for _, d := range s.Graph.Deps(n) {
			pn.DependsOn = append(pn.DependsOn, d.Addr)
			if status[d.Addr] != CacheHit {
				ready = false
			}
		}
		if !ready {
			pn.Cache = CachePending
			status[n.Addr] = pn.Cache
			out = append(out, pn)
			continue
		}
		cfg, seed, backend, diags := s.Graph.EvalConfig(n, results)
		if diags.HasErrors() {
			pn.Cache, pn.Message = CacheError, diags.Error()
			status[n.Addr] = pn.Cache
			out = append(out, pn)
			continue
		}
		pn.Seed, pn.Backend = &seed, backend
		key, err := s.cacheKey(store, p, cfg, seed, backend)
		if err != nil {
			pn.Cache, pn.Message = CacheError, err.Error()
			status[n.Addr] = pn.Cache
			out = append(out, pn)
			continue
		}
		pn.CacheKey = key
		pn.Cache = CacheMiss
		if entry, found, err := store.LookupCache(pn.CacheKey); err == nil && found {
			pn.Cache, pn.CachedFrom = CacheHit, entry.RunID
			vals, err := entry.OutputValues()
			if err != nil {
				pn.Cache, pn.Message = CacheMiss, err.Error()
			} else {
				res := dag.StepResult{Outputs: vals, Artifacts: map[string]string{}}
				for name, a := range entry.Artifacts {
					res.Artifacts[name] = a.StorePath
				}
				results[n.Addr] = res
			}
		}
		status[n.Addr] = pn.Cache
		out = append(out, pn)
	}
	return out
}

package dag_test

import (
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/host/internal/dag"
)

// TestWalk: dependencies first; a failure skips what is downstream of it
// with its reason and nothing else; stop ends the walk.
func TestWalk(t *testing.T) {
	g := mustPlan(t, `
plugin "gen" {}
step "a" {
  plugin = plugin.gen
  count  = 2
  config { mode = "a" }
}
step "b" {
  plugin = plugin.gen
  count  = 2
  config {
    mode = "b"
    n    = step.a[count.index].outputs.n
  }
}
step "c" {
  plugin = plugin.gen
  config {
    mode = "c"
    n    = step.b[1].outputs.n
  }
}
`)
	var mu sync.Mutex
	var visited []string
	notRun := g.Walk(2, func() bool { return false }, func(n *dag.Node) dag.VisitResult {
		mu.Lock()
		visited = append(visited, n.Addr)
		mu.Unlock()
		if n.Addr == "step.a[1]" {
			return dag.VisitResult{SkipWhy: "a[1] failed"}
		}
		return dag.VisitResult{OK: true}
	})
	sort.Strings(visited)
	if diff := cmp.Diff([]string{"step.a[0]", "step.a[1]", "step.b[0]"}, visited); diff != "" {
		t.Errorf("visited (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for n, why := range notRun {
		got[n.Addr] = why
	}
	if diff := cmp.Diff(map[string]string{"step.b[1]": "a[1] failed", "step.c": "a[1] failed"}, got); diff != "" {
		t.Errorf("not run (-want +got):\n%s", diff)
	}

	stopped := g.Walk(1, func() bool { return true }, func(*dag.Node) dag.VisitResult {
		t.Error("visited after stop")
		return dag.VisitResult{OK: true}
	})
	if len(stopped) != 5 {
		t.Errorf("stopped walk left %d nodes unvisited, want all 5", len(stopped))
	}
}

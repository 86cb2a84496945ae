package dag

import "sort"

// VisitResult is how visiting a node ended.
type VisitResult struct {
	// OK: the node succeeded and the nodes depending on it may start.
	OK bool
	// SkipWhy, when not OK, is why everything downstream is skipped; ""
	// leaves the downstream nodes unvisited without a reason of their own.
	SkipWhy string
}

// Walk visits the graph's nodes in dependency order, at most parallelism
// at once, each in its own goroutine: a node starts once every node it
// depends on was visited OK; among ready nodes the first in topological
// order starts first. stop is asked before each start; once it says true
// nothing more starts, and Walk returns when the visits in flight end.
// It returns the nodes never visited, with the SkipWhy of the failure
// upstream of them ("" when the walk stopped before reaching them).
func (g *Graph) Walk(parallelism int, stop func() bool, visit func(*Node) VisitResult) map[*Node]string {
	if parallelism < 1 {
		parallelism = 1
	}
	nodes := g.TopoOrder()
	pos := make(map[*Node]int, len(nodes))
	remaining := make(map[*Node]int, len(nodes))
	notVisited := make(map[*Node]string, len(nodes))
	var ready []*Node
	for i, n := range nodes {
		pos[n] = i
		notVisited[n] = ""
		if remaining[n] = len(g.Deps(n)); remaining[n] == 0 {
			ready = append(ready, n)
		}
	}
	type completion struct {
		n   *Node
		res VisitResult
	}
	done := make(chan completion)
	skipped := map[*Node]bool{}
	var skipDownstream func(n *Node, why string)
	skipDownstream = func(n *Node, why string) {
		for _, d := range g.Dependents(n) {
			if !skipped[d] {
				skipped[d] = true
				notVisited[d] = why
				skipDownstream(d, why)
			}
		}
	}
	inFlight := 0
	for {
		sort.Slice(ready, func(i, j int) bool { return pos[ready[i]] < pos[ready[j]] })
		for len(ready) > 0 && inFlight < parallelism && !stop() {
			n := ready[0]
			ready = ready[1:]
			if skipped[n] {
				continue
			}
			delete(notVisited, n)
			inFlight++
			go func() { done <- completion{n, visit(n)} }()
		}
		if inFlight == 0 {
			return notVisited
		}
		c := <-done
		inFlight--
		if !c.res.OK {
			if c.res.SkipWhy != "" {
				skipDownstream(c.n, c.res.SkipWhy)
			}
			continue
		}
		for _, d := range g.Dependents(c.n) {
			if remaining[d]--; remaining[d] == 0 && !skipped[d] {
				ready = append(ready, d)
			}
		}
	}
}

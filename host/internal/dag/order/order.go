// Package order sorts named things topologically and finds dependency
// cycles; used for locals (package lang) and steps (package dag).
package order

import "sort"

// Sort orders names so that each comes after its deps; names caught in
// cycles are left out of order and returned as cycles (each in path order).
func Sort(names []string, deps map[string][]string) (order []string, cycles [][]string) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	inCycle := map[string]bool{}
	// poisoned: in a cycle or depending on one; never evaluated.
	poisoned := map[string]bool{}
	var stack []string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		ds := append([]string(nil), deps[n]...)
		sort.Strings(ds)
		for _, d := range ds {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				// The cycle is the stack from d to n.
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cyc := append([]string(nil), stack[i:]...)
				cycles = append(cycles, cyc)
				for _, c := range cyc {
					inCycle[c] = true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		if inCycle[n] || dependsOnBad(n, deps, inCycle, poisoned) {
			poisoned[n] = true
		} else {
			order = append(order, n)
		}
	}
	for _, n := range names {
		if color[n] == white {
			visit(n)
		}
	}
	return order, cycles
}

func dependsOnBad(n string, deps map[string][]string, inCycle, poisoned map[string]bool) bool {
	for _, d := range deps[n] {
		if inCycle[d] || poisoned[d] {
			return true
		}
	}
	return false
}

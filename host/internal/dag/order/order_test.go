package order

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSort(t *testing.T) {
	tests := []struct {
		name       string
		names      []string
		deps       map[string][]string
		wantOrder  []string
		wantCycles [][]string
	}{
		{"chain", []string{"c", "b", "a"}, map[string][]string{"c": {"b"}, "b": {"a"}}, []string{"a", "b", "c"}, nil},
		{"independent keep input order", []string{"x", "y", "z"}, nil, []string{"x", "y", "z"}, nil},
		{"diamond", []string{"d", "b", "c", "a"}, map[string][]string{"d": {"b", "c"}, "b": {"a"}, "c": {"a"}}, []string{"a", "b", "c", "d"}, nil},
		{"cycle and its dependents left out", []string{"a", "b", "c", "d", "e"},
			map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": nil},
			[]string{"e"}, [][]string{{"a", "b", "c"}}},
		{"self loop", []string{"s", "t"}, map[string][]string{"s": {"s"}, "t": {"s"}}, nil, [][]string{{"s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order, cycles := Sort(tt.names, tt.deps)
			if diff := cmp.Diff(tt.wantOrder, order); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCycles, cycles); diff != "" {
				t.Errorf("cycles (-want +got):\n%s", diff)
			}
		})
	}
}

package prefdata

import (
	"encoding/json"
	"io"
	"sort"
)

// plainRow is the plain JSONL layout (what FormatJSONL reads).
type plainRow struct {
	ID        string              `json:"id"`
	Prompt    string              `json:"prompt"`
	ResponseA string              `json:"response_a"`
	ResponseB string              `json:"response_b"`
	Human     string              `json:"human"`
	LM        string              `json:"lm"`
	Gold      *string             `json:"gold,omitempty"`
	Tags      map[string][]string `json:"tags,omitempty"`
}

// WriteJSONL writes instances in the plain layout, which Read parses back.
func WriteJSONL(w io.Writer, insts []Instance) error {
	enc := json.NewEncoder(w)
	for _, in := range insts {
		row := plainRow{ID: in.ID, Prompt: in.Prompt, ResponseA: in.A, ResponseB: in.B,
			Human: prefString(in.Human), LM: prefString(in.LM), Tags: in.Tags}
		if in.Gold != PrefNone {
			g := prefString(in.Gold)
			row.Gold = &g
		}
		if err := enc.Encode(row); err != nil {
			return err
		}
	}
	return nil
}

func prefString(p Pref) string {
	if p == PrefB {
		return "b"
	}
	return "a"
}

// TagValues lists the sorted distinct values per tag dimension.
func TagValues(insts []Instance) map[string][]string {
	set := map[string]map[string]bool{}
	for _, in := range insts {
		for d, vs := range in.Tags {
			if set[d] == nil {
				set[d] = map[string]bool{}
			}
			for _, v := range vs {
				set[d][v] = true
			}
		}
	}
	out := map[string][]string{}
	for d, vs := range set {
		for v := range vs {
			out[d] = append(out[d], v)
		}
		sort.Strings(out[d])
	}
	return out
}

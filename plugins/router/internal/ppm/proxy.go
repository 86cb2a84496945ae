package ppm

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/shammie-ml/shammie/sdk/datafile"
)

// ProxyRows are results of proxy reward models from the reference: one row
// per trained RM, its per-feature swap proportions and its score.
type ProxyRows struct {
	Names []string
	X     [][]float64
	Y     []float64
	IDs   []string
}

// LoadProxyRows reads the reference's proxy-RM result rows (JSONL; e.g.
// proxy_rm_validation_set_features_rewardbench.jsonl): feature columns are
// the keys naming a feature value ("rouge__min_val=0.0|max_val=0.33",
// "safety_concern=high"), the target is the given column (RewardBench
// "Overall"). Errors name file and line.
func LoadProxyRows(path, target string) (*ProxyRows, error) {
	f, err := datafile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type row struct {
		line int
		m    map[string]json.RawMessage
	}
	var rows []row
	names := map[string]bool{}
	err = datafile.Lines(f, path, datafile.Options{}, func(line int, b []byte) error {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("not a JSON object: %v", err)
		}
		if _, ok := m[target]; !ok {
			return fmt.Errorf("no target column %q", target)
		}
		for k := range m {
			if strings.Contains(k, "=") {
				names[k] = true
			}
		}
		rows = append(rows, row{line, m})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no feature columns (keys like \"feature=value\")", path)
	}
	pr := &ProxyRows{}
	for k := range names {
		pr.Names = append(pr.Names, k)
	}
	sort.Strings(pr.Names)
	for _, r := range rows {
		x := make([]float64, len(pr.Names))
		for j, k := range pr.Names {
			raw, ok := r.m[k]
			if !ok || string(raw) == "null" {
				continue // a feature not used by this row's swap
			}
			if err := json.Unmarshal(raw, &x[j]); err != nil {
				return nil, fmt.Errorf("%s:%d: column %q: want a number, got %s", path, r.line, k, raw)
			}
		}
		var y float64
		if err := json.Unmarshal(r.m[target], &y); err != nil {
			return nil, fmt.Errorf("%s:%d: target %q: want a number, got %s", path, r.line, target, r.m[target])
		}
		var id string
		if raw, ok := r.m["hash"]; ok {
			_ = json.Unmarshal(raw, &id)
		}
		if id == "" {
			id = fmt.Sprintf("line%d", r.line)
		}
		pr.X, pr.Y, pr.IDs = append(pr.X, x), append(pr.Y, y), append(pr.IDs, id)
	}
	return pr, nil
}

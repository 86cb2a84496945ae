package runstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Diff is what changed between two runs. Only differences are listed; a
// Diff with no changes has every slice empty (see Empty).
type Diff struct {
	A string `json:"a"` // run ids
	B string `json:"b"`
	// Spec paths of the two runs, when they differ: the runs are of
	// different specs and the diff compares unlike things.
	Spec *Change `json:"spec,omitempty"`
	// Status of the two runs, when it differs.
	Status    *Change  `json:"status,omitempty"`
	Variables []Change `json:"variables,omitempty"`
	// Plugins: "name" -> version (and sha256 when only that changed).
	Plugins []Change   `json:"plugins,omitempty"`
	Steps   []StepDiff `json:"steps,omitempty"`
}

// Change is one differing value. A is "" and InA false when the key exists
// only in run B, and the other way round.
type Change struct {
	Key string `json:"key"`
	A   string `json:"a,omitempty"`
	B   string `json:"b,omitempty"`
	InA bool   `json:"in_a"`
	InB bool   `json:"in_b"`
}

// StepDiff is what differs for one step address.
type StepDiff struct {
	Address string `json:"address"`
	// OnlyIn is "a" or "b" when the step ran in one run only.
	OnlyIn  string   `json:"only_in,omitempty"`
	Status  *Change  `json:"status,omitempty"`
	Plugin  *Change  `json:"plugin,omitempty"` // plugin name@version
	Config  []Change `json:"config,omitempty"` // by attribute path, e.g. layers[0].width
	Outputs []Change `json:"outputs,omitempty"`
	// Metrics compares the last value of each metric.
	Metrics []Change `json:"metrics,omitempty"`
}

// Empty reports whether the runs do not differ in anything Diff compares.
func (d *Diff) Empty() bool {
	return d.Status == nil && len(d.Variables) == 0 && len(d.Plugins) == 0 && len(d.Steps) == 0
}

// Diff compares two runs (refs as for Load).
func (s *Store) Diff(refA, refB string) (*Diff, error) {
	return s.DiffSpec(refA, refB, SpecFilter{})
}

// DiffSpec is Diff with "latest" relative to the runs of a spec.
func (s *Store) DiffSpec(refA, refB string, f SpecFilter) (*Diff, error) {
	a, err := s.LoadSpec(refA, f)
	if err != nil {
		return nil, err
	}
	b, err := s.LoadSpec(refB, f)
	if err != nil {
		return nil, err
	}
	return DiffRuns(a, b)
}

// DiffRuns compares two loaded runs: variables, plugin versions, and per
// step its status, plugin, config, outputs and final metrics.
func DiffRuns(a, b *LoadedRun) (*Diff, error) {
	d := &Diff{A: a.Record.ID, B: b.Record.ID}
	if sa, sb := strings.Join(specPaths(&a.Record), ","), strings.Join(specPaths(&b.Record), ","); sa != sb {
		d.Spec = &Change{Key: "spec", A: sa, B: sb, InA: true, InB: true}
	}
	if a.Record.Status != b.Record.Status {
		d.Status = &Change{Key: "status", A: string(a.Record.Status), B: string(b.Record.Status), InA: true, InB: true}
	}
	va, vb := map[string]string{}, map[string]string{}
	for k, v := range a.Record.Variables {
		va[k] = v.String()
	}
	for k, v := range b.Record.Variables {
		vb[k] = v.String()
	}
	d.Variables = diffMaps(va, vb)
	pa, pb := pluginVersions(a.Record.Plugins), pluginVersions(b.Record.Plugins)
	d.Plugins = diffMaps(pa, pb)

	addrs := map[string]bool{}
	for _, st := range a.Steps {
		addrs[st.Address] = true
	}
	for _, st := range b.Steps {
		addrs[st.Address] = true
	}
	sorted := make([]string, 0, len(addrs))
	for addr := range addrs {
		sorted = append(sorted, addr)
	}
	sort.Strings(sorted)
	for _, addr := range sorted {
		sa, okA := a.Step(addr)
		sb, okB := b.Step(addr)
		switch {
		case !okA:
			d.Steps = append(d.Steps, StepDiff{Address: addr, OnlyIn: "b"})
			continue
		case !okB:
			d.Steps = append(d.Steps, StepDiff{Address: addr, OnlyIn: "a"})
			continue
		}
		sd := StepDiff{Address: addr}
		if sa.Status != sb.Status {
			sd.Status = &Change{Key: "status", A: string(sa.Status), B: string(sb.Status), InA: true, InB: true}
		}
		if pa, pb := sa.Plugin+"@"+sa.PluginVersion, sb.Plugin+"@"+sb.PluginVersion; pa != pb {
			sd.Plugin = &Change{Key: "plugin", A: pa, B: pb, InA: true, InB: true}
		}
		ca, err := flattenValue(sa.Config)
		if err != nil {
			return nil, fmt.Errorf("run %s step %s config: %w", a.Record.ID, addr, err)
		}
		cb, err := flattenValue(sb.Config)
		if err != nil {
			return nil, fmt.Errorf("run %s step %s config: %w", b.Record.ID, addr, err)
		}
		sd.Config = diffMaps(ca, cb)
		oa, err := flattenOutputs(sa.Outputs)
		if err != nil {
			return nil, fmt.Errorf("run %s step %s: %w", a.Record.ID, addr, err)
		}
		ob, err := flattenOutputs(sb.Outputs)
		if err != nil {
			return nil, fmt.Errorf("run %s step %s: %w", b.Record.ID, addr, err)
		}
		sd.Outputs = diffMaps(oa, ob)
		ma, err := finalMetrics(a, addr)
		if err != nil {
			return nil, err
		}
		mb, err := finalMetrics(b, addr)
		if err != nil {
			return nil, err
		}
		sd.Metrics = diffMaps(ma, mb)
		if sd.Status != nil || sd.Plugin != nil || len(sd.Config)+len(sd.Outputs)+len(sd.Metrics) > 0 {
			d.Steps = append(d.Steps, sd)
		}
	}
	return d, nil
}

func pluginVersions(ps []PluginInfo) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		m[p.Name] = p.Version + " (sha256 " + shortSHA(p.SHA256) + ")"
	}
	return m
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// FinalMetrics returns, per metric name, the point with the highest step
// (the last recorded on ties).
func FinalMetrics(points []MetricPoint) map[string]MetricPoint {
	out := map[string]MetricPoint{}
	for _, p := range points {
		if cur, ok := out[p.Name]; !ok || p.Step >= cur.Step {
			out[p.Name] = p
		}
	}
	return out
}

func finalMetrics(r *LoadedRun, addr string) (map[string]string, error) {
	pts, err := r.Metrics(addr)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, p := range FinalMetrics(pts) {
		out[name] = FormatFloat(float64(p.Value))
	}
	return out, nil
}

// FormatFloat renders a metric value with up to 6 significant digits.
func FormatFloat(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}

func diffMaps(a, b map[string]string) []Change {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []Change
	for k := range keys {
		va, okA := a[k]
		vb, okB := b[k]
		if okA && okB && va == vb {
			continue
		}
		out = append(out, Change{Key: k, A: va, B: vb, InA: okA, InB: okB})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func flattenOutputs(m map[string]Value) (map[string]string, error) {
	out := map[string]string{}
	for name, v := range m {
		if v.Sensitive {
			out[name] = "(sensitive)"
			continue
		}
		if err := flattenJSON(name, v.Value, out); err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
	}
	return out, nil
}

// flattenValue turns a recorded value into path -> JSON leaf, so that a
// diff names the attribute that changed rather than the whole config.
func flattenValue(v *Value) (map[string]string, error) {
	out := map[string]string{}
	if v == nil {
		return out, nil
	}
	if v.Sensitive {
		out[""] = "(sensitive)"
		return out, nil
	}
	return out, flattenJSON("", v.Value, out)
}

func flattenJSON(prefix string, raw json.RawMessage, out map[string]string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return err
	}
	flattenAny(prefix, x, out)
	return nil
}

func flattenAny(prefix string, x any, out map[string]string) {
	switch v := x.(type) {
	case map[string]any:
		if len(v) == 0 {
			out[prefix] = "{}"
		}
		for k, e := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenAny(p, e, out)
		}
	case []any:
		if len(v) == 0 {
			out[prefix] = "[]"
		}
		for i, e := range v {
			flattenAny(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		b, _ := json.Marshal(v)
		out[prefix] = string(b)
	}
}

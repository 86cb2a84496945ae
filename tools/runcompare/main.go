// Command runcompare checks that two runs of the same spec — typically one
// on the CPU backend and one on xla:cuda — produced the same outputs:
// strings, booleans and list orders (routing order, chosen items) exactly,
// integral numbers (planted thresholds, change points, counts) exactly,
// other numbers (losses, accuracies, specialisation scores) within a
// tolerance. It reads the `shammie run --json` event streams of the two runs
// (step "output" events and the spec's "result" events; values are JSON).
//
//	shammie run --json specs/default.hcl > cpu.jsonl
//	shammie run --json --backend xla:cuda --no-cache specs/default.hcl > gpu.jsonl
//	runcompare [-rtol 0.05] [-atol 0.01] [-tol 'step.moe_train.*=0.1'] cpu.jsonl gpu.jsonl
//
// Last line: `runcompare: outputs=N equal=E near=N differ=D missing=M`;
// exit status 1 when anything differs or is missing, 2 on bad usage.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// tolerance is |a−b| ≤ atol + rtol·max(|a|,|b|).
type tolerance struct{ rtol, atol float64 }

// options of one comparison.
type options struct {
	def       tolerance
	perOutput []globTol // first match wins
	intExact  bool      // integral values on both sides must be equal
	ignore    []string  // globs of outputs left out
}

type globTol struct {
	glob string
	tol  tolerance
}

func (o options) tolFor(key string) tolerance {
	for _, g := range o.perOutput {
		if ok, _ := path.Match(g.glob, key); ok {
			return g.tol
		}
	}
	return o.def
}

func (o options) ignored(key string) bool {
	for _, g := range o.ignore {
		if ok, _ := path.Match(g, key); ok {
			return true
		}
	}
	return false
}

// readOutputs collects "step.name" → JSON value from a --json event stream
// (spec results are keyed "result.name").
func readOutputs(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		var ev struct {
			Kind, Step, Name, Message string
			// An output's value (host ≥ the one event record); older
			// hosts put it, JSON-encoded, in Message.
			Output struct {
				Value json.RawMessage
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("line %d: not a `shammie run --json` event: %w", line, err)
		}
		switch ev.Kind {
		case "output":
			v := ev.Message
			if len(ev.Output.Value) > 0 {
				v = string(ev.Output.Value)
			}
			out[ev.Step+"."+ev.Name] = v
		case "result":
			out["result."+ev.Name] = ev.Message
		case "cached":
			return nil, fmt.Errorf("line %d: step %s was restored from the cache: rerun with --no-cache (or another --store) so both runs compute", line, ev.Step)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no output events: was this `shammie run --json`?")
	}
	return out, nil
}

// verdict of one output.
type verdict int

const (
	equal verdict = iota
	near
	differ
)

// compareValues compares two JSON texts; why says where they part.
func compareValues(a, b string, tol tolerance, intExact bool) (verdict, string) {
	var va, vb any
	da, db := json.NewDecoder(strings.NewReader(a)), json.NewDecoder(strings.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		if a == b {
			return equal, ""
		}
		return differ, fmt.Sprintf("%q vs %q", a, b)
	}
	return compareAny(va, vb, "", tol, intExact)
}

func compareAny(a, b any, at string, tol tolerance, intExact bool) (verdict, string) {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return differ, fmt.Sprintf("%s: %v vs %v", where(at), a, b)
		}
		if x == y {
			return equal, ""
		}
		fx, _ := strconv.ParseFloat(string(x), 64)
		fy, _ := strconv.ParseFloat(string(y), 64)
		if fx == fy {
			return equal, ""
		}
		if intExact && isIntegral(x) && isIntegral(y) {
			return differ, fmt.Sprintf("%s: %s vs %s (integral values must match)", where(at), x, y)
		}
		if math.Abs(fx-fy) <= tol.atol+tol.rtol*math.Max(math.Abs(fx), math.Abs(fy)) {
			return near, ""
		}
		return differ, fmt.Sprintf("%s: %s vs %s (|Δ| %.3g > %g + %g·max)", where(at), x, y, math.Abs(fx-fy), tol.atol, tol.rtol)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return differ, fmt.Sprintf("%s: %s vs %s", where(at), brief(a), brief(b))
		}
		worst := equal
		for i := range x {
			v, why := compareAny(x[i], y[i], fmt.Sprintf("%s[%d]", at, i), tol, intExact)
			if v == differ {
				return v, why
			}
			worst = max(worst, v)
		}
		return worst, ""
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return differ, fmt.Sprintf("%s: %s vs %s", where(at), brief(a), brief(b))
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		worst := equal
		for _, k := range keys {
			yv, ok := y[k]
			if !ok {
				return differ, fmt.Sprintf("%s: key %q only in the first", where(at), k)
			}
			v, why := compareAny(x[k], yv, at+"."+k, tol, intExact)
			if v == differ {
				return v, why
			}
			worst = max(worst, v)
		}
		return worst, ""
	default: // string, bool, nil
		if a == b {
			return equal, ""
		}
		return differ, fmt.Sprintf("%s: %s vs %s", where(at), brief(a), brief(b))
	}
}

func isIntegral(n json.Number) bool {
	_, err := strconv.ParseInt(string(n), 10, 64)
	return err == nil
}

func where(at string) string {
	if at == "" {
		return "value"
	}
	return strings.TrimPrefix(at, ".")
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// compare writes one line per output and the summary; it reports whether
// the runs agree.
func compare(w io.Writer, a, b map[string]string, o options) bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		if !o.ignored(k) {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	var n [3]int
	missing := 0
	for _, k := range sorted {
		va, okA := a[k]
		vb, okB := b[k]
		if !okA || !okB {
			missing++
			fmt.Fprintf(w, "MISSING %s (only in the %s run)\n", k, map[bool]string{true: "first", false: "second"}[okA])
			continue
		}
		v, why := compareValues(va, vb, o.tolFor(k), o.intExact)
		n[v]++
		switch v {
		case equal:
			fmt.Fprintf(w, "equal   %s = %s\n", k, brief(json.RawMessage(va)))
		case near:
			fmt.Fprintf(w, "near    %s: %s vs %s\n", k, brief(json.RawMessage(va)), brief(json.RawMessage(vb)))
		default:
			fmt.Fprintf(w, "DIFFER  %s: %s\n", k, why)
		}
	}
	fmt.Fprintf(w, "runcompare: outputs=%d equal=%d near=%d differ=%d missing=%d\n", len(sorted), n[equal], n[near], n[differ], missing)
	return n[differ] == 0 && missing == 0
}

type tolFlags []globTol

func (t *tolFlags) String() string { return fmt.Sprint(*t) }
func (t *tolFlags) Set(s string) error {
	glob, v, ok := strings.Cut(s, "=")
	r, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil || r < 0 {
		return fmt.Errorf("want GLOB=RTOL (e.g. 'step.moe_train.*=0.1'), got %q", s)
	}
	*t = append(*t, globTol{glob, tolerance{rtol: r}})
	return nil
}

type listFlags []string

func (l *listFlags) String() string     { return strings.Join(*l, ",") }
func (l *listFlags) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	fs := flag.NewFlagSet("runcompare", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: runcompare [flags] FIRST.jsonl SECOND.jsonl   (each from `shammie run --json`)")
		fs.PrintDefaults()
	}
	var o options
	var per tolFlags
	var ign listFlags
	fs.Float64Var(&o.def.rtol, "rtol", 0.05, "relative tolerance of non-integral numbers")
	fs.Float64Var(&o.def.atol, "atol", 0.01, "absolute tolerance of non-integral numbers")
	fs.BoolVar(&o.intExact, "int-exact", true, "integral numbers on both sides must be equal (thresholds, counts)")
	fs.Var(&per, "tol", "GLOB=RTOL: another relative tolerance (atol 0) for outputs step.name matching GLOB (repeatable)")
	fs.Var(&ign, "ignore", "GLOB of outputs (step.name) left out, e.g. timings (repeatable)")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() != 2 {
		if err == nil {
			fs.Usage()
		}
		os.Exit(2)
	}
	o.perOutput, o.ignore = per, ign
	var runs [2]map[string]string
	for i, p := range fs.Args() {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "runcompare:", err)
			os.Exit(2)
		}
		runs[i], err = readOutputs(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "runcompare: %s: %v\n", p, err)
			os.Exit(2)
		}
	}
	if !compare(os.Stdout, runs[0], runs[1], o) {
		os.Exit(1)
	}
}

// Package dataset reads the fit plugin's inputs: score tables (CSV or JSONL:
// concept, image count, imitation score, optionally one row per prompt) and
// embedding sets (a safetensors bundle or a CSV manifest of .npy /
// safetensors files).
//
// Nothing is dropped silently. By default the first problem is an error
// naming the file and line (or the concept); with Drop set, bad rows and
// concepts are left out and every one is counted and described in the
// returned Drops.
package dataset

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/shammie-ml/shammie/sdk/datafile"
)

// Concept is one concept with its image count and imitation score.
type Concept struct {
	Name  string
	Count int64
	// Scores holds one score per prompt (a single one when the table has
	// one row per concept).
	Scores []float64
	// Score is the mean of Scores, Spread their sample standard deviation
	// (0 with a single prompt).
	Score, Spread float64
}

// Columns names the table's fields.
type Columns struct {
	Concept, Count, Score, Prompt string
}

// DefaultColumns are the names used when a config leaves them out.
var DefaultColumns = Columns{Concept: "concept", Count: "count", Score: "score", Prompt: "prompt"}

// Drops counts and describes what was left out under Drop.
type Drops struct {
	Rows     int      `json:"rows"`     // table rows / manifest rows left out
	Concepts int      `json:"concepts"` // whole concepts left out
	Reasons  []string `json:"reasons"`  // one line each, "file:line: why" or "concept "x": why"
}

func (d *Drops) add(rows, concepts int, reason string) {
	d.Rows += rows
	d.Concepts += concepts
	d.Reasons = append(d.Reasons, reason)
}

// Options control reading.
type Options struct {
	Columns Columns
	// Drop leaves invalid rows and concepts out (counted in Drops) instead
	// of failing on the first one.
	Drop bool
}

// rowErr is a problem with one row; it is fatal unless Drop is set.
type rowErr struct {
	where string
	msg   string
}

func (e rowErr) Error() string { return e.where + ": " + e.msg }

// ReadScores reads a score table. The format follows the extension: .csv
// (header row required) or .jsonl / .ndjson (one JSON object per line),
// either optionally gzipped (.csv.gz, .jsonl.gz).
func ReadScores(path string, opt Options) ([]Concept, Drops, error) {
	cols := opt.Columns
	if cols == (Columns{}) {
		cols = DefaultColumns
	}
	var rows []rawRow
	var err error
	switch strings.ToLower(filepath.Ext(strings.TrimSuffix(path, ".gz"))) {
	case ".csv":
		rows, err = readCSVRows(path, cols)
	case ".jsonl", ".ndjson":
		rows, err = readJSONLRows(path, cols)
	default:
		return nil, Drops{}, fmt.Errorf("%s: unknown score table format %q: use .csv or .jsonl (optionally .gz)", path, filepath.Ext(path))
	}
	if err != nil {
		return nil, Drops{}, err
	}
	return aggregate(rows, opt.Drop)
}

// rawRow is one parsed table row with where it came from; err is set for a
// row that could not be parsed.
type rawRow struct {
	where  string
	line   int
	name   string
	count  int64
	score  float64
	prompt string
	err    error
}

func parseCount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("count %q is not a number", s)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, fmt.Errorf("count %q is not a non-negative whole number of images", s)
	}
	return int64(f), nil
}

func parseScore(s string) (float64, error) {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("score %q is not a number", s)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("score is %v", s)
	}
	return f, nil
}

func readCSVRows(path string, cols Columns) ([]rawRow, error) {
	f, err := datafile.Open(path) // gzipped or not
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1 // checked per row, to name the line
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file: expected a header row with columns %q, %q, %q", path, cols.Concept, cols.Count, cols.Score)
		}
		return nil, fmt.Errorf("%s:1: %w", path, err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	need := func(name string) (int, error) {
		i, ok := idx[name]
		if !ok {
			return 0, fmt.Errorf("%s:1: no column %q in header %q", path, name, strings.Join(header, ","))
		}
		return i, nil
	}
	ci, err := need(cols.Concept)
	if err != nil {
		return nil, err
	}
	ni, err := need(cols.Count)
	if err != nil {
		return nil, err
	}
	si, err := need(cols.Score)
	if err != nil {
		return nil, err
	}
	pi, hasPrompt := idx[cols.Prompt]
	var rows []rawRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("%s:%d", path, line)
		row := rawRow{where: where, line: line}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				row.where = fmt.Sprintf("%s:%d", path, pe.Line)
				row.err = pe.Err
			} else {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			rows = append(rows, row)
			continue
		}
		if len(rec) != len(header) {
			row.err = fmt.Errorf("%d fields, the header has %d", len(rec), len(header))
			rows = append(rows, row)
			continue
		}
		row.name = strings.TrimSpace(rec[ci])
		if hasPrompt {
			row.prompt = strings.TrimSpace(rec[pi])
		}
		row.err = fillRow(&row, rec[ni], rec[si])
		rows = append(rows, row)
	}
	return rows, nil
}

func fillRow(row *rawRow, count, score string) error {
	if row.name == "" {
		return errors.New("empty concept name")
	}
	var err error
	if row.count, err = parseCount(count); err != nil {
		return err
	}
	if row.score, err = parseScore(score); err != nil {
		return err
	}
	return nil
}

func readJSONLRows(path string, cols Columns) ([]rawRow, error) {
	f, err := datafile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []rawRow
	err = datafile.Lines(f, path, datafile.Options{}, func(line int, text []byte) error {
		row := rawRow{where: fmt.Sprintf("%s:%d", path, line), line: line}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(text, &obj); err != nil {
			row.err = fmt.Errorf("not a JSON object: %v", err)
			rows = append(rows, row)
			return nil
		}
		field := func(name string, required bool) (string, error) {
			raw, ok := obj[name]
			if !ok {
				if required {
					return "", fmt.Errorf("no field %q", name)
				}
				return "", nil
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s, nil
			}
			var n json.Number
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.UseNumber()
			if dec.Decode(&n) == nil {
				return n.String(), nil
			}
			return "", fmt.Errorf("field %q is %s, expected a string or a number", name, raw)
		}
		var name, count, score string
		if name, row.err = field(cols.Concept, true); row.err == nil {
			if count, row.err = field(cols.Count, true); row.err == nil {
				if score, row.err = field(cols.Score, true); row.err == nil {
					row.prompt, row.err = field(cols.Prompt, false)
				}
			}
		}
		if row.err == nil {
			row.name = strings.TrimSpace(name)
			row.err = fillRow(&row, count, score)
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// aggregate groups rows by concept (first-appearance order), checks that a
// concept's rows agree on the count and do not repeat a prompt, and
// averages the scores.
func aggregate(rows []rawRow, drop bool) ([]Concept, Drops, error) {
	var drops Drops
	type acc struct {
		first   rawRow
		scores  []float64
		prompts map[string]string // prompt -> where
		bad     string            // why the whole concept is dropped
		rows    int
	}
	byName := map[string]*acc{}
	var order []string
	for _, r := range rows {
		if r.err != nil {
			if !drop {
				return nil, drops, rowErr{r.where, r.err.Error()}
			}
			drops.add(1, 0, r.where+": "+r.err.Error())
			continue
		}
		a, ok := byName[r.name]
		if !ok {
			a = &acc{first: r, prompts: map[string]string{}}
			byName[r.name] = a
			order = append(order, r.name)
		}
		a.rows++
		if a.bad != "" {
			continue
		}
		if r.count != a.first.count {
			msg := fmt.Sprintf("%s: concept %q has count %d here but %d at %s", r.where, r.name, r.count, a.first.count, a.first.where)
			if !drop {
				return nil, drops, errors.New(msg)
			}
			a.bad = msg
			continue
		}
		if r.prompt != "" {
			if prev, dup := a.prompts[r.prompt]; dup {
				msg := fmt.Sprintf("%s: concept %q has a second score for prompt %q (first at %s)", r.where, r.name, r.prompt, prev)
				if !drop {
					return nil, drops, errors.New(msg)
				}
				a.bad = msg
				continue
			}
			a.prompts[r.prompt] = r.where
		}
		a.scores = append(a.scores, r.score)
	}
	var out []Concept
	for _, name := range order {
		a := byName[name]
		if a.bad != "" {
			drops.add(a.rows, 1, a.bad)
			continue
		}
		out = append(out, NewConcept(name, a.first.count, a.scores))
	}
	if len(out) == 0 {
		return nil, drops, fmt.Errorf("no usable concepts (%d rows dropped)", drops.Rows)
	}
	return out, drops, nil
}

// NewConcept averages per-prompt scores into a Concept.
func NewConcept(name string, count int64, scores []float64) Concept {
	c := Concept{Name: name, Count: count, Scores: scores}
	for _, s := range scores {
		c.Score += s
	}
	c.Score /= float64(len(scores))
	if len(scores) > 1 {
		v := 0.0
		for _, s := range scores {
			v += (s - c.Score) * (s - c.Score)
		}
		c.Spread = math.Sqrt(v / float64(len(scores)-1))
	}
	return c
}

// SortByCount orders concepts by count ascending; equal counts keep their
// input order so that results do not depend on the sort algorithm.
func SortByCount(cs []Concept) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Count < cs[j].Count })
}

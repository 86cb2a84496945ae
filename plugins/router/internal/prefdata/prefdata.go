// Package prefdata holds pairwise preference instances (a prompt, two
// responses, a human label, an LM label, optionally a gold label and metadata
// tags) and the loaders for the layouts the router reads: MultiPref,
// the hybrid-preferences feature files, and a plain JSONL layout.
package prefdata

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shammie-ml/shammie/sdk/datafile"
)

// Pref is a pairwise preference: +1 means response A is preferred, -1 means
// B, 0 means unknown (no gold label) — ties never survive loading.
type Pref int8

const (
	PrefA    Pref = 1
	PrefB    Pref = -1
	PrefNone Pref = 0
)

func (p Pref) String() string {
	switch p {
	case PrefA:
		return "A"
	case PrefB:
		return "B"
	}
	return "none"
}

// Instance is one preference instance.
type Instance struct {
	ID     string
	Prompt string
	A, B   string
	Human  Pref
	LM     Pref
	Gold   Pref // PrefNone when the data has no gold label
	// Tags maps a metadata dimension (subject_of_expertise, expertise_level,
	// ...) to its values; multi-valued dimensions keep several.
	Tags map[string][]string
}

// Dataset is a loaded data set plus what loading dropped.
type Dataset struct {
	Instances []Instance
	// Ties counts rows dropped because the human or the LM label was a tie:
	// such a row cannot be routed, since one of its label sources says nothing.
	Ties int
	// Source describes where the data came from (file and layout).
	Source string
}

// Format names a file layout.
type Format string

const (
	FormatAuto      Format = "auto"
	FormatMultiPref Format = "multipref"
	FormatHyPER     Format = "hyper" // hybrid-preferences feature files
	FormatJSONL     Format = "jsonl"
)

// LoadOptions tunes loading.
type LoadOptions struct {
	Format Format
	// LMField names the field holding the LM annotator's label in MultiPref
	// rows (MultiPref itself ships human annotations only; the reference
	// adds GPT-4 labels as "pref_gpt4").
	LMField string
}

// Load reads a preference file (JSONL, optionally gzip-compressed). Rows with
// a tie in the human or LM label are dropped and counted; any malformed row is
// an error naming the file and line.
func Load(path string, opt LoadOptions) (*Dataset, error) {
	r, err := datafile.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return Read(r, path, opt)
}

// Read is Load on an open reader; name is used in error messages.
func Read(r io.Reader, name string, opt LoadOptions) (*Dataset, error) {
	if opt.LMField == "" {
		opt.LMField = "pref_gpt4"
	}
	format := opt.Format
	if format == "" {
		format = FormatAuto
	}
	ds := &Dataset{}
	seen := map[string]int{}
	err := datafile.Lines(r, name, datafile.Options{}, func(line int, raw []byte) error {
		var row map[string]json.RawMessage
		if err := json.Unmarshal(raw, &row); err != nil {
			return fmt.Errorf("not a JSON object: %v", err)
		}
		rf := format
		if rf == FormatAuto {
			rf = detect(row)
			if rf == "" {
				return fmt.Errorf("cannot tell the layout: expected MultiPref fields (completion_a, normal_worker_annotations), hybrid-preferences fields (response_a, pref_human, pref_gpt4) or plain fields (response_a, human, lm); set format explicitly")
			}
		}
		var (
			inst Instance
			tie  bool
			err  error
		)
		switch rf {
		case FormatMultiPref:
			inst, tie, err = parseMultiPref(row, opt.LMField)
		case FormatHyPER:
			inst, tie, err = parseHyPER(row)
		case FormatJSONL:
			inst, tie, err = parsePlain(row)
		default:
			return fmt.Errorf("unknown format %q (want auto, multipref, hyper or jsonl)", format)
		}
		if err != nil {
			return err
		}
		if tie {
			ds.Ties++
			return nil
		}
		if inst.ID == "" {
			inst.ID = fmt.Sprintf("line%d", line)
		}
		if prev, dup := seen[inst.ID]; dup {
			return fmt.Errorf("id %q already used on line %d", inst.ID, prev)
		}
		seen[inst.ID] = line
		ds.Instances = append(ds.Instances, inst)
		if ds.Source == "" {
			ds.Source = fmt.Sprintf("%s (%s)", name, rf)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ds.Instances) == 0 {
		return nil, fmt.Errorf("%s: no usable rows (%d ties dropped)", name, ds.Ties)
	}
	return ds, nil
}

func detect(row map[string]json.RawMessage) Format {
	has := func(k string) bool { _, ok := row[k]; return ok }
	switch {
	case has("normal_worker_annotations") || has("expert_worker_annotations") || has("comparison_id"):
		return FormatMultiPref
	case has("pref_human") && has("response_a"):
		return FormatHyPER
	case has("human") && has("response_a"):
		return FormatJSONL
	}
	return ""
}

// ParsePref reads a preference label: the MultiPref/reference strings
// ("A-is-clearly-better", "B-is-slightly-better", "Tie", ...), the short forms
// "a", "b", "tie", or the numbers 1 (A), -1 (B), 0 (tie). tie reports a tie.
func ParsePref(raw json.RawMessage) (p Pref, tie bool, err error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var f float64
		if err2 := json.Unmarshal(raw, &f); err2 != nil {
			return 0, false, fmt.Errorf("preference %s is neither a string nor a number", string(raw))
		}
		switch f {
		case 1:
			return PrefA, false, nil
		case -1:
			return PrefB, false, nil
		case 0:
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("numeric preference %v: want 1 (A), -1 (B) or 0 (tie)", f)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "a", "a-is-better", "a-is-slightly-better", "a-is-clearly-better":
		return PrefA, false, nil
	case "b", "b-is-better", "b-is-slightly-better", "b-is-clearly-better":
		return PrefB, false, nil
	case "tie", "tied":
		return 0, true, nil
	}
	return 0, false, fmt.Errorf("preference %q: want A-is-(slightly|clearly)-better, B-is-..., Tie, a, b or tie", s)
}

func str(row map[string]json.RawMessage, keys ...string) (string, string, error) {
	for _, k := range keys {
		raw, ok := row[k]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			// ids are sometimes numbers
			var f json.Number
			if err2 := json.Unmarshal(raw, &f); err2 == nil {
				return f.String(), k, nil
			}
			return "", k, fmt.Errorf("field %q: want a string, got %s", k, abbreviate(raw))
		}
		return s, k, nil
	}
	return "", "", nil
}

func need(row map[string]json.RawMessage, keys ...string) (string, error) {
	s, _, err := str(row, keys...)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("missing field %s", strings.Join(quoteAll(keys), " or "))
	}
	return s, nil
}

func quoteAll(ks []string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = fmt.Sprintf("%q", k)
	}
	return out
}

func abbreviate(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	return string(raw)
}

func label(row map[string]json.RawMessage, key string, required bool) (Pref, bool, error) {
	raw, ok := row[key]
	if !ok || string(raw) == "null" {
		if required {
			return 0, false, fmt.Errorf("missing field %q", key)
		}
		return PrefNone, false, nil
	}
	p, tie, err := ParsePref(raw)
	if err != nil {
		return 0, false, fmt.Errorf("field %q: %v", key, err)
	}
	return p, tie, nil
}

// TagDimensions are the metadata tags of the reference's LLM tagger that the
// router one-hot encodes when a row carries them.
var TagDimensions = []string{
	"subject_of_expertise", "expertise_level", "open_endedness",
	"safety_concern", "complexity_of_intents", "format_constraints",
}

// readTags pulls the tag dimensions out of a row: from a nested "tags"
// object (every key is a dimension) or else from the known top-level
// dimensions. A value is a string, a list of strings, or a number/bool
// (existence tags such as format_constraints).
func readTags(row map[string]json.RawMessage) (map[string][]string, error) {
	var keys []string
	src := row
	if raw, ok := row["tags"]; ok && string(raw) != "null" {
		src = nil
		if err := json.Unmarshal(raw, &src); err != nil {
			return nil, fmt.Errorf("field \"tags\": want an object of dimension -> value(s): %v", err)
		}
		for k := range src {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	} else {
		keys = TagDimensions
	}
	tags := map[string][]string{}
	for _, k := range keys {
		raw, ok := src[k]
		if !ok || string(raw) == "null" {
			continue
		}
		vals, err := tagValues(raw)
		if err != nil {
			return nil, fmt.Errorf("tag %q: %v", k, err)
		}
		if len(vals) > 0 {
			tags[k] = vals
		}
	}
	if len(tags) == 0 {
		return nil, nil
	}
	return tags, nil
}

func tagValues(raw json.RawMessage) ([]string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var list []any
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, v := range list {
			switch v := v.(type) {
			case string:
				if v != "" {
					out = append(out, v)
				}
			case nil:
			default:
				out = append(out, fmt.Sprint(v))
			}
		}
		return out, nil
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return []string{fmt.Sprint(f)}, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		if b {
			return []string{"1"}, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("want a string, a list of strings, a number or a bool, got %s", abbreviate(raw))
}

func parsePlain(row map[string]json.RawMessage) (Instance, bool, error) {
	var in Instance
	var err error
	if in.ID, _, err = str(row, "id"); err != nil {
		return in, false, err
	}
	if in.Prompt, err = need(row, "prompt", "text"); err != nil {
		return in, false, err
	}
	if in.A, err = need(row, "response_a", "completion_a"); err != nil {
		return in, false, err
	}
	if in.B, err = need(row, "response_b", "completion_b"); err != nil {
		return in, false, err
	}
	return labelsAndTags(row, in, "human", "lm", "gold")
}

func parseHyPER(row map[string]json.RawMessage) (Instance, bool, error) {
	var in Instance
	var err error
	if in.ID, _, err = str(row, "prompt_hash", "id"); err != nil {
		return in, false, err
	}
	if in.Prompt, err = need(row, "text", "prompt"); err != nil {
		return in, false, err
	}
	if in.A, err = need(row, "response_a", "completion_a"); err != nil {
		return in, false, err
	}
	if in.B, err = need(row, "response_b", "completion_b"); err != nil {
		return in, false, err
	}
	return labelsAndTags(row, in, "pref_human", "pref_gpt4", "gold")
}

func labelsAndTags(row map[string]json.RawMessage, in Instance, humanKey, lmKey, goldKey string) (Instance, bool, error) {
	var tie1, tie2 bool
	var err error
	if in.Human, tie1, err = label(row, humanKey, true); err != nil {
		return in, false, err
	}
	if in.LM, tie2, err = label(row, lmKey, true); err != nil {
		return in, false, err
	}
	g, gtie, err := label(row, goldKey, false)
	if err != nil {
		return in, false, err
	}
	if !gtie {
		in.Gold = g
	}
	if in.Tags, err = readTags(row); err != nil {
		return in, false, err
	}
	return in, tie1 || tie2, nil
}

type annotation struct {
	OverallPref json.RawMessage `json:"overall_pref"`
}

func parseMultiPref(row map[string]json.RawMessage, lmField string) (Instance, bool, error) {
	var in Instance
	var err error
	if in.ID, _, err = str(row, "comparison_id", "prompt_id", "id"); err != nil {
		return in, false, err
	}
	if in.Prompt, err = need(row, "text", "prompt"); err != nil {
		return in, false, err
	}
	if in.A, err = need(row, "completion_a"); err != nil {
		return in, false, err
	}
	if in.B, err = need(row, "completion_b"); err != nil {
		return in, false, err
	}
	// Human label: majority of all normal and expert annotators' overall
	// preference (slight and clear count the same, as in the reference's
	// binarised labels); an even split is a tie.
	vote := 0
	n := 0
	for _, key := range []string{"normal_worker_annotations", "expert_worker_annotations"} {
		raw, ok := row[key]
		if !ok || string(raw) == "null" {
			continue
		}
		var anns []annotation
		if err := json.Unmarshal(raw, &anns); err != nil {
			return in, false, fmt.Errorf("field %q: want a list of annotations with overall_pref: %v", key, err)
		}
		for i, a := range anns {
			if len(a.OverallPref) == 0 {
				return in, false, fmt.Errorf("field %q[%d]: missing overall_pref", key, i)
			}
			p, tie, err := ParsePref(a.OverallPref)
			if err != nil {
				return in, false, fmt.Errorf("field %q[%d].overall_pref: %v", key, i, err)
			}
			n++
			if !tie {
				vote += int(p)
			}
		}
	}
	if n == 0 {
		return in, false, fmt.Errorf("no human annotations (normal_worker_annotations / expert_worker_annotations empty)")
	}
	humanTie := vote == 0
	if vote > 0 {
		in.Human = PrefA
	} else if vote < 0 {
		in.Human = PrefB
	}
	var lmTie bool
	if in.LM, lmTie, err = label(row, lmField, true); err != nil {
		return in, false, fmt.Errorf("%v (MultiPref ships no LM labels; add them under %q or set lm_field)", err, lmField)
	}
	g, gtie, err := label(row, "gold", false)
	if err != nil {
		return in, false, err
	}
	if !gtie {
		in.Gold = g
	}
	if in.Tags, err = readTags(row); err != nil {
		return in, false, err
	}
	return in, humanTie || lmTie, nil
}

package protocol

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/shammie-ml/shammie/sdk/datafile"
)

// Record is one ActionAtlas question as the reference reads it from
// action_atlas_v1.jsonl. Fields the evaluation does not use (the
// text-obfuscation polygons, sport, …) are ignored.
type Record struct {
	ID             Scalar   `json:"id"`
	YouTubeID      string   `json:"youtube_id"`
	Question       string   `json:"question"`
	ChoicesStr     string   `json:"choices_str"` // "1. name\n2. name\n…"
	Descriptions   []string `json:"choice_descriptions,omitempty"`
	Answer         Scalar   `json:"answer"` // the correct choice number, compared as str(answer)
	StartTimestamp Scalar   `json:"start_timestamp"`
	EndTimestamp   Scalar   `json:"end_timestamp"`
	// Clip is this project's addition: the clip's frames (a safetensors
	// bundle, "file#tensor" for one clip of a multi-clip bundle, or an
	// image manifest), relative to the metadata file. Without it the clip is
	// found by the reference's name: ClipStem() + an extension.
	Clip string `json:"clip,omitempty"`
}

// Scalar is a JSON number or string kept as Python's str() of it would
// print it: ids, answers and timestamps appear as either in the wild.
type Scalar string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Scalar) UnmarshalJSON(b []byte) error {
	var v any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	switch x := v.(type) {
	case string:
		*s = Scalar(x)
	case json.Number:
		*s = Scalar(x.String())
	case nil:
		*s = ""
	default:
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	return nil
}

// Float parses the scalar as a number.
func (s Scalar) Float() (float64, error) { return strconv.ParseFloat(strings.TrimSpace(string(s)), 64) }

// ClipStem is the reference's clip file name without extension:
// f"{youtube_id}_{round(start, 1)}_{round(end, 1)}", with Python's repr of
// the rounded floats (always one decimal at least: 12.0, 3.5).
func (r Record) ClipStem() (string, error) {
	s, err := r.StartTimestamp.Float()
	if err != nil {
		return "", fmt.Errorf("start_timestamp %q: %w", r.StartTimestamp, err)
	}
	e, err := r.EndTimestamp.Float()
	if err != nil {
		return "", fmt.Errorf("end_timestamp %q: %w", r.EndTimestamp, err)
	}
	return fmt.Sprintf("%s_%s_%s", r.YouTubeID, pyRound1(s), pyRound1(e)), nil
}

// pyRound1 is str(round(x, 1)): correctly rounded to one decimal (half to
// even on the exact binary value, which strconv's 'f' formatting also
// does), then printed as Python's shortest repr.
func pyRound1(x float64) string {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 1, 64), 64)
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// Check reports what would make the record unusable.
func (r Record) Check() error {
	if r.ID == "" {
		return fmt.Errorf("no id")
	}
	if strings.TrimSpace(r.ChoicesStr) == "" {
		return fmt.Errorf("id %s: empty choices_str", r.ID)
	}
	if r.Answer == "" {
		return fmt.Errorf("id %s: no answer", r.ID)
	}
	if len(r.Descriptions) > 0 && len(r.Descriptions) != len(r.Choices()) {
		return fmt.Errorf("id %s: %d choices but %d choice_descriptions", r.ID, len(r.Choices()), len(r.Descriptions))
	}
	return nil
}

// Choices are the lines of choices_str with their "N. " cut (the names the
// chain-of-thought fallback looks for).
func (r Record) Choices() []string {
	lines := strings.Split(r.ChoicesStr, "\n")
	out := make([]string, len(lines))
	for i, l := range lines {
		rs := []rune(l)
		out[i] = string(rs[min(3, len(rs)):])
	}
	return out
}

// LoadMetadata reads a metadata JSONL (or JSON array) file. Unknown fields
// are ignored (the released file carries more than the evaluation uses);
// every record is checked, errors name the file and the record.
func LoadMetadata(path string) ([]Record, error) {
	recs, err := datafile.ReadRecords[Record](path, datafile.Options{Lenient: true})
	if err != nil {
		return nil, err
	}
	seen := map[Scalar]bool{}
	for i, r := range recs {
		if err := r.Check(); err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, i+1, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("%s: record %d: id %s repeated", path, i+1, r.ID)
		}
		seen[r.ID] = true
	}
	return recs, nil
}

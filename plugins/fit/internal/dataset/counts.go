package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// NamedCount is a concept and its image count.
type NamedCount struct {
	Name  string
	Count int64
}

// ReadCounts reads concept names and image counts from two columns of a CSV
// file with a header (for example the real per-artist LAION counts of
// MIMETIC²). Every row must have a name and a whole, non-negative count;
// errors name the file and line. Duplicate names are an error too, since a
// concept is a point on the curve once.
func ReadCounts(path, nameColumn, countColumn string) ([]NamedCount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s:1: expected a header row: %v", path, err)
	}
	ni, ci := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case nameColumn:
			ni = i
		case countColumn:
			ci = i
		}
	}
	if ni < 0 || ci < 0 {
		return nil, fmt.Errorf("%s:1: need columns %q and %q, header is %q", path, nameColumn, countColumn, strings.Join(header, ","))
	}
	var out []NamedCount
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		name := strings.TrimSpace(rec[ni])
		if name == "" {
			return nil, fmt.Errorf("%s:%d: empty %s", path, line, nameColumn)
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s:%d: concept %q repeats line %d", path, line, name, prev)
		}
		seen[name] = line
		n, err := parseCount(rec[ci])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %v", path, line, countColumn, err)
		}
		out = append(out, NamedCount{Name: name, Count: n})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return out, nil
}

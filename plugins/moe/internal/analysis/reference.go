package analysis

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// RefEntry is OLMoE-1B-7B's specialisation for one domain at one layer:
// its top experts with spec(e, D) and the minimum spec over experts.
type RefEntry struct {
	Top []ExpertSpec
	Min float64
}

// ExpertSpec is one (expert, spec %) pair.
type ExpertSpec struct {
	Expert int
	Spec   float64
}

// Reference is OLMoE's table: layer → domain → entry.
type Reference map[int]map[string]RefEntry

var (
	refLayer = regexp.MustCompile(`^Layer\s+(\d+)\s*$`)
	refRow   = regexp.MustCompile(`^\s*(\S+)\s+tokens=\d+\s+top\d+ \(expert, spec%\): \[(.*)\]\s+min=([0-9.]+)\s*$`)
	refPair  = regexp.MustCompile(`\((\d+),\s*([0-9.]+)\)`)
)

// ParseReference reads domain_spec_reference.txt (see the data set's
// PROVENANCE.md). Errors name the file and line.
func ParseReference(path string) (Reference, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ref := Reference{}
	layer := -1
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if m := refLayer.FindStringSubmatch(text); m != nil {
			layer, _ = strconv.Atoi(m[1])
			ref[layer] = map[string]RefEntry{}
			continue
		}
		m := refRow.FindStringSubmatch(text)
		if m == nil {
			if strings.HasPrefix(strings.TrimSpace(text), "tokens=") || strings.Contains(text, "top3 (") {
				return nil, fmt.Errorf("%s:%d: malformed specialisation row: %q", path, line, text)
			}
			continue // header prose
		}
		if layer < 0 {
			return nil, fmt.Errorf("%s:%d: domain row before any \"Layer N\" line", path, line)
		}
		var e RefEntry
		for _, p := range refPair.FindAllStringSubmatch(m[2], -1) {
			ex, _ := strconv.Atoi(p[1])
			v, _ := strconv.ParseFloat(p[2], 64)
			e.Top = append(e.Top, ExpertSpec{ex, v})
		}
		if len(e.Top) == 0 {
			return nil, fmt.Errorf("%s:%d: no (expert, spec) pairs in %q", path, line, text)
		}
		e.Min, _ = strconv.ParseFloat(m[3], 64)
		ref[layer][m[1]] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(ref) == 0 {
		return nil, fmt.Errorf("%s: no \"Layer N\" sections found", path)
	}
	return ref, nil
}

// Layers lists the reference's layers in order.
func (r Reference) Layers() []int {
	var ls []int
	for l := range r {
		ls = append(ls, l)
	}
	sort.Ints(ls)
	return ls
}

// ReferenceDomain maps a data file's domain name to the reference's label
// (the reference calls books "book" and GitHub "github").
func ReferenceDomain(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasPrefix(n, "b3g"), strings.HasPrefix(n, "book"):
		return "book"
	case strings.HasPrefix(n, "github"):
		return "github"
	case strings.HasPrefix(n, "arxiv"):
		return "arxiv"
	case strings.HasPrefix(n, "c4"):
		return "c4"
	case strings.HasPrefix(n, "wiki"):
		return "wikipedia"
	}
	return n
}

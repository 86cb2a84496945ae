// Package colors is the paper's synthetic "Colors" task (Wiegreffe et al.
// 2024, run_experiments.py, type "prototypical_colors") over
// memory_colors.csv: "<Noun> <is|are> <colour>. What color <is|are>
// <noun>?" with the item's colour as the answer and one distractor drawn
// with Python's random.choice after random.seed(10), reset for each item,
// over the other 10 colours in the paper's list order. (Reset per item, the
// draw is always the same index: the distractor is "green", or "yellow"
// when the answer is green — exactly what the reference code produces.)
package colors

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/shammie-ml/shammie/plugins/mcqa/internal/task"
	"github.com/shammie-ml/shammie/sdk/datafile"
)

// Palette is the paper's colour list, in its order.
var Palette = []string{"black", "orange", "brown", "white", "blue", "pink", "grey", "purple", "red", "yellow", "green"}

// Seed is the paper's random.seed.
const Seed = 10

// Row is one line of memory_colors.csv.
type Row struct {
	Index                    string
	Descriptor, Item, Colour string
	Plural                   bool
}

// Load reads memory_colors.csv (header "Index, Descriptor, Item,Plural, Color").
func Load(path string) ([]Row, error) {
	f, err := datafile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads the CSV from r; name is used in errors.
func Parse(r io.Reader, name string) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 5
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	want := []string{"Index", "Descriptor", "Item", "Plural", "Color"}
	for i, h := range head {
		if strings.TrimSpace(h) != want[i] {
			return nil, fmt.Errorf("%s:1: column %d is %q, want %q", name, i+1, h, want[i])
		}
	}
	var out []Row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		row := Row{Index: strings.TrimSpace(rec[0]), Descriptor: strings.TrimSpace(rec[1]), Item: strings.TrimSpace(rec[2]),
			Plural: strings.TrimSpace(rec[3]) != "", Colour: strings.TrimSpace(rec[4])}
		if !inPalette(row.Colour) {
			return nil, fmt.Errorf("%s:%d: colour %q is not one of %v", name, line, row.Colour, Palette)
		}
		if row.Item == "" {
			return nil, fmt.Errorf("%s:%d: empty item", name, line)
		}
		out = append(out, row)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no items", name)
	}
	return out, nil
}

func inPalette(c string) bool {
	for _, p := range Palette {
		if p == c {
			return true
		}
	}
	return false
}

// Question is the row as the paper's 2-way question.
func (r Row) Question() task.Item {
	noun := strings.TrimSpace(r.Descriptor + " " + r.Item)
	verb := "is"
	if r.Plural {
		verb = "are"
	}
	// Python's str.capitalize: the first letter upper-case, the rest lower.
	first := fmt.Sprintf("%s %s %s.", noun, verb, r.Colour)
	first = strings.ToUpper(first[:1]) + strings.ToLower(first[1:])
	return task.Item{Question: fmt.Sprintf("%s What color %s %s?", first, verb, noun), Correct: r.Colour,
		Distractors: []string{Distractor(r.Colour)}}
}

// Distractor is random.seed(10); random.choice([c for c in Palette if c != correct]).
func Distractor(correct string) string {
	var rest []string
	for _, c := range Palette {
		if c != correct {
			rest = append(rest, c)
		}
	}
	return rest[NewPyRandom(Seed).Choice(len(rest))]
}

// MaxShots is the reference's limit on in-context examples: they come from
// the first three shuffled items, which are never probed.
const MaxShots = 3

// Split orders the questions as run_experiments.py does: random.seed(10),
// random.shuffle, the first `shots` as in-context examples and items 3: as
// the probed set (105 of 108, the same whatever the number of shots). slots
// gives each example's correct slot (0 = A), the reference's random ICL
// label ordering: random.seed(10), random.choice(("A", "B")) per example.
func Split(items []task.Item, shots int) (probed, examples []task.Item, slots []int, err error) {
	if shots < 0 || shots > MaxShots {
		return nil, nil, nil, fmt.Errorf("colors: %d in-context examples; the reference allows 0 to %d", shots, MaxShots)
	}
	if len(items) <= MaxShots {
		return nil, nil, nil, fmt.Errorf("colors: %d items, need more than %d", len(items), MaxShots)
	}
	perm := NewPyRandom(Seed).Shuffle(len(items))
	shuffled := make([]task.Item, len(items))
	for i, j := range perm {
		shuffled[i] = items[j]
	}
	r := NewPyRandom(Seed)
	for range shots {
		slots = append(slots, r.Choice(2))
	}
	return shuffled[MaxShots:], shuffled[:shots], slots, nil
}

// Items is every row's question.
func Items(rows []Row) []task.Item {
	out := make([]task.Item, len(rows))
	for i, r := range rows {
		out[i] = r.Question()
	}
	return out
}

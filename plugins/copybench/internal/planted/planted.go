// Package planted makes synthetic "books" with a known answer for
// CopyBench's metrics: each book is a passage of pseudo-words, three
// characters with two-word names and five plot events. A model trained on
// some books should copy them — literally (a passage's continuation) and
// non-literally (their characters and events after a story opening) — and
// not the held-out books, whose words, names and events it never saw.
package planted

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/shammie-ml/shammie/plugins/copybench/internal/benchdata"
)

// Config sizes the planted books.
type Config struct {
	Books, HeldOut int // trained and held-out books
	PrefixWords    int // words of a literal prompt's prefix
	ContWords      int // words of its continuation (the reference)
	// Events per book (0: 5, the reference's threshold for event
	// copying). The first three name the three characters, so 3 events are
	// enough for character copying; below 5 event copying cannot occur.
	Events int
	Seed   uint64
}

// Book is one synthetic book with its CopyBench items.
type Book struct {
	Title   string
	Trained bool
	Literal benchdata.Literal
	Story   benchdata.NonLiteral
	// StoryText is what the model is trained to write after the opening:
	// the events, in order.
	StoryText string
}

var consonants = []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"}
var vowels = []string{"a", "e", "i", "o", "u"}

// word makes a pseudo-word of two syllables; unique words keep books apart.
func word(rng *rand.Rand, seen map[string]bool) string {
	for {
		var b strings.Builder
		for range 2 {
			b.WriteString(consonants[rng.IntN(len(consonants))])
			b.WriteString(vowels[rng.IntN(len(vowels))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			return w
		}
	}
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func (c Config) events() int {
	if c.Events > 0 {
		return c.Events
	}
	return 5
}

// Make returns Books trained books followed by HeldOut held-out ones.
func Make(c Config) []Book {
	rng := rand.New(rand.NewPCG(c.Seed, 0x636f7079))
	seen := map[string]bool{}
	for _, w := range []string{"the", "and", "was", "went", "town"} {
		seen[w] = true
	}
	var books []Book
	for i := range c.Books + c.HeldOut {
		b := Book{Title: fmt.Sprintf("Planted Book %d", i+1), Trained: i < c.Books}
		var names [][]string
		for range 3 {
			first, last := title(word(rng, seen)), title(word(rng, seen))
			names = append(names, []string{first + " " + last, first})
		}
		var events []string
		for e := range c.events() {
			who := names[e%3][1]
			events = append(events, fmt.Sprintf("%s %s the %s.", who, word(rng, seen), word(rng, seen)))
		}
		var passage []string
		for range c.PrefixWords + c.ContWords {
			passage = append(passage, word(rng, seen))
		}
		id := fmt.Sprintf("planted.%02d", i)
		b.Literal = benchdata.Literal{ID: id, Title: b.Title,
			Input:     strings.Join(passage[:c.PrefixWords], " "),
			Reference: strings.Join(passage[c.PrefixWords:], " ")}
		b.Story = benchdata.NonLiteral{ID: id, Title: b.Title,
			Input:  fmt.Sprintf("In %s it was %s.", title(word(rng, seen)), word(rng, seen)),
			Events: events, Characters: names}
		b.StoryText = strings.Join(events, " ")
		books = append(books, b)
	}
	return books
}

// Package task builds multiple-choice prompts: items (a question, the
// correct answer, distractors), option orders and symbol variants, rendered
// so that with a byte tokenizer the next single byte is the answer symbol.
package task

import (
	"fmt"
	"strings"
)

// Item is one multiple-choice question.
type Item struct {
	Question    string
	Correct     string
	Distractors []string
}

// Layout is how a prompt is rendered.
type Layout string

const (
	// Full is the paper's layout: "Q\nA: x\nB: y\nAnswer: " (next byte: the symbol).
	Full Layout = "full"
	// Compact is the short zero-shot layout of the planted task: "xA yB Q",
	// the question last (the planted question is the colour itself) and each
	// symbol right after its option: the last token can look up the option
	// matching it, the symbol's position carrying its option's colour.
	Compact Layout = "compact"
)

// Symbol sets: A/B and C/D for 2-way, A–D for 4-way.
var (
	SymbolsAB   = []string{"A", "B"}
	SymbolsCD   = []string{"C", "D"}
	SymbolsABCD = []string{"A", "B", "C", "D"}
)

// Prompt is one rendered question with its option order.
type Prompt struct {
	Text    string
	Options []string // in display order
	Symbols []string // one per option
	Answer  int      // index of the correct option
}

// AnswerSymbol is the correct option's symbol.
func (p Prompt) AnswerSymbol() string { return p.Symbols[p.Answer] }

// Render builds the prompt of item with the options in the given order
// (order[i] = index into [Correct, Distractors...] shown at slot i) and the
// given in-context examples (already rendered, each followed by its answer).
func Render(it Item, order []int, symbols []string, layout Layout, shots []Prompt) (Prompt, error) {
	all := append([]string{it.Correct}, it.Distractors...)
	if len(order) != len(symbols) {
		return Prompt{}, fmt.Errorf("%d options but %d symbols", len(order), len(symbols))
	}
	p := Prompt{Symbols: symbols, Answer: -1}
	for slot, o := range order {
		if o < 0 || o >= len(all) {
			return Prompt{}, fmt.Errorf("option %d of %q: the item has %d answers", o, it.Question, len(all))
		}
		if o == 0 {
			p.Answer = slot
		}
		p.Options = append(p.Options, all[o])
	}
	if p.Answer < 0 {
		return Prompt{}, fmt.Errorf("question %q: the order %v leaves out the correct answer", it.Question, order)
	}
	var b strings.Builder
	for _, s := range shots {
		b.WriteString(s.Text + s.AnswerSymbol() + sep(layout))
	}
	b.WriteString(body(it.Question, p.Options, symbols, layout))
	p.Text = b.String()
	return p, nil
}

func sep(l Layout) string {
	if l == Compact {
		return "\n"
	}
	return "\n\n"
}

func body(q string, options, symbols []string, l Layout) string {
	var b strings.Builder
	if l == Compact {
		for i, o := range options {
			b.WriteString(o + symbols[i] + " ")
		}
		b.WriteString(q)
		return b.String()
	}
	b.WriteString(q)
	for i, o := range options {
		b.WriteString("\n" + symbols[i] + ": " + o)
	}
	b.WriteString("\nAnswer: ")
	return b.String()
}

// Identity is the order that shows the correct answer first.
func Identity(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

// Rotate is the order with the correct answer at slot k (the distractors
// keep their relative order).
func Rotate(n, k int) []int {
	o := make([]int, 0, n)
	for i := 1; i < n; i++ {
		o = append(o, i)
	}
	return append(o[:k], append([]int{0}, o[k:]...)...)
}

// Pair is a base/contrast pair: the same question with the correct answer
// at different slots (so different symbols), equal in length.
type Pair struct {
	Base, Contrast Prompt
}

// Pairs builds, for each item, the pair with the correct answer at slot 0
// in the base and slot 1 in the contrast (2-way: the option swap).
func Pairs(items []Item, symbols []string, layout Layout, shots []Prompt) ([]Pair, error) {
	var out []Pair
	n := len(symbols)
	for _, it := range items {
		if len(it.Distractors) < n-1 {
			return nil, fmt.Errorf("question %q has %d distractors, a %d-way prompt needs %d", it.Question, len(it.Distractors), n, n-1)
		}
		it.Distractors = it.Distractors[:n-1]
		b, err := Render(it, Rotate(n, 0), symbols, layout, shots)
		if err != nil {
			return nil, err
		}
		c, err := Render(it, Rotate(n, 1), symbols, layout, shots)
		if err != nil {
			return nil, err
		}
		out = append(out, Pair{b, c})
	}
	return out, nil
}

package task

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRender(t *testing.T) {
	it := Item{Question: "The sky is blue. What color is the sky?", Correct: "blue", Distractors: []string{"green", "red", "pink"}}
	shot, err := Render(Item{Question: "Q1?", Correct: "x", Distractors: []string{"y"}}, Rotate(2, 1), SymbolsAB, Full, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		it      Item
		order   []int
		symbols []string
		layout  Layout
		shots   []Prompt
		want    string
		answer  string
	}{
		{"full AB", it, Rotate(2, 0), SymbolsAB, Full, nil, "The sky is blue. What color is the sky?\nA: blue\nB: green\nAnswer: ", "A"},
		{"full CD swapped", it, Rotate(2, 1), SymbolsCD, Full, nil, "The sky is blue. What color is the sky?\nC: green\nD: blue\nAnswer: ", "D"},
		{"4-way", it, Rotate(4, 2), SymbolsABCD, Full, nil, "The sky is blue. What color is the sky?\nA: green\nB: red\nC: blue\nD: pink\nAnswer: ", "C"},
		{"one shot", it, Rotate(2, 0), SymbolsAB, Full, []Prompt{shot}, "Q1?\nA: y\nB: x\nAnswer: B\n\nThe sky is blue. What color is the sky?\nA: blue\nB: green\nAnswer: ", "A"},
		{"compact", Item{Question: "r", Correct: "r", Distractors: []string{"g"}}, Rotate(2, 1), SymbolsAB, Compact, nil, "gA rB r", "B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.symbols)
			tc.it.Distractors = tc.it.Distractors[:n-1]
			p, err := Render(tc.it, tc.order, tc.symbols, tc.layout, tc.shots)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, p.Text); d != "" {
				t.Errorf("prompt (-want +got):\n%s", d)
			}
			if p.AnswerSymbol() != tc.answer {
				t.Errorf("answer %s, want %s", p.AnswerSymbol(), tc.answer)
			}
		})
	}
	if _, err := Render(it, []int{1, 2}, SymbolsAB, Full, nil); err == nil {
		t.Error("an order without the correct answer was accepted")
	}
}

func TestPairs(t *testing.T) {
	items := []Item{{Question: "Snow is white. What color is snow?", Correct: "white", Distractors: []string{"green"}}}
	ps, err := Pairs(items, SymbolsAB, Full, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, c := ps[0].Base, ps[0].Contrast
	if len(b.Text) != len(c.Text) || b.AnswerSymbol() == c.AnswerSymbol() || b.Options[b.Answer] != c.Options[c.Answer] {
		t.Errorf("pair %q / %q: want equal lengths, different symbols, the same answer", b.Text, c.Text)
	}
	if _, err := Pairs(items, SymbolsABCD, Full, nil); err == nil {
		t.Error("a 4-way pair from an item with one distractor was accepted")
	}
}

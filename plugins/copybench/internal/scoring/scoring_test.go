package scoring

import (
	"math"
	"strings"
	"testing"
)

func words(prefix string, n int) []string {
	w := make([]string, n)
	for i := range w {
		w[i] = prefix + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return w
}

// Hand-made cases against eval_literal_copying.py's definition.
func TestLiteral(t *testing.T) {
	ref := words("w", 60)
	for _, tc := range []struct {
		name string
		out  string
		want float64
	}{
		{"copy", strings.Join(ref, " "), 1},
		// Only the first 50 tokens of each side count.
		{"first 50 then drift", strings.Join(append(append([]string{}, ref[:50]...), words("x", 30)...), " "), 1},
		{"nothing", strings.Join(words("z", 50), " "), 0},
		// Half the reference's first 50, then unrelated: LCS 25 of 50 on both sides.
		{"half", strings.Join(append(append([]string{}, ref[:25]...), words("z", 25)...), " "), 0.5},
		{"empty", "", 0},
	} {
		if got := Literal(strings.Join(ref, " "), tc.out); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: Literal = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCharacters(t *testing.T) {
	chars := [][]string{{"Winston Smith", "Winston"}, {"O'Brien"}, {"Julia"}, {"Big Brother"}}
	out := "Winston met O'Brien; later Julia and big  brother watched."
	if got := Characters("A story begins.", out, chars); got != 4 {
		t.Errorf("Characters = %d, want 4", got)
	}
	// Named in the input: not counted.
	if got := Characters("Julia walks.", out, chars); got != 3 {
		t.Errorf("Characters with Julia in the input = %d, want 3", got)
	}
	// Multi-word aliases need their tokens adjacent and in order.
	if got := Characters("", "brother big, smith", chars); got != 0 {
		t.Errorf("Characters of scattered name parts = %d, want 0", got)
	}
}

func TestEvents(t *testing.T) {
	events := []string{
		"The farmer sells the old horse to the glue factory.",
		"The pigs rewrite the commandments on the barn wall.",
		"A storm destroys the windmill.",
	}
	out := strings.Repeat("filler ", 200) + "Then the pigs quietly rewrote a commandment painted on the barn's wall. " +
		strings.Repeat("filler ", 200) + "A great storm came and destroyed the windmill."
	// Supported: 2 (the horse event's content tokens are absent).
	if got := Events(out, events); got != 2 {
		t.Errorf("Events = %d, want 2", got)
	}
	// Chunks are 128 words; an event split across two chunks is not supported.
	// Content tokens storm, destroy, windmil, near, farm, hous: 3 per chunk.
	split := strings.Repeat("filler ", 125) + "storm destroys windmill near farm house"
	if got := Events(split, []string{"A storm destroys the windmill near the farm house."}); got != 0 {
		t.Errorf("event split across chunks supported")
	}
	if n := len(Chunks(strings.Repeat("w ", 300))); n != 3 {
		t.Errorf("%d chunks of 300 words, want 3", n)
	}
}

// eval_qa.py's extraction and SQuAD scoring.
func TestQA(t *testing.T) {
	for _, tc := range []struct {
		out, gold string
		f1        float64
		em        bool
	}{
		{"[Output_Start] The Thought Police [Output_End]", "thought police", 1, true},
		{"Answer: [Output_Start] police [Output_End]\nmore", "the thought police", 2 * 1 * 0.5 / 1.5, false},
		{"no markers here", "markers", 2 * (1.0 / 3) * 1 / (1.0/3 + 1), false},
		// Markers on different lines: the whole output is the answer
		// ("outputstart x outputend" after normalisation).
		{"[Output_Start] x\n[Output_End]", "x", 0.5, false},
	} {
		f1, em := QA(tc.out, tc.gold)
		if math.Abs(f1-tc.f1) > 1e-12 || em != tc.em {
			t.Errorf("QA(%q, %q) = %v, %v; want %v, %v", tc.out, tc.gold, f1, em, tc.f1, tc.em)
		}
	}
}

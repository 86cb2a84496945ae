package benchdata_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/plugins/copybench/internal/benchdata"
	"github.com/shammie-ml/shammie/plugins/copybench/internal/scoring"
	"github.com/shammie-ml/shammie/sdk/textmetrics"
)

// The checks read ../shared/data/copybench at test time; no excerpt is
// written anywhere (messages name items by id).
func TestRealFiles(t *testing.T) {
	dir := shareddata.Path(t, "copybench")
	lit, err := benchdata.ReadLiteral(filepath.Join(dir, "data", "data.literal.json"))
	if err != nil {
		t.Fatal(err)
	}
	non, err := benchdata.ReadNonLiteral(filepath.Join(dir, "data", "data.nonliteral.json"))
	if err != nil {
		t.Fatal(err)
	}
	qa, err := benchdata.ReadQA(filepath.Join(dir, "data", "data.qa.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lit) != 758 || len(non) != 590 || len(qa) != 589 {
		t.Fatalf("items: %d literal, %d non-literal, %d QA; want 758, 590, 589", len(lit), len(non), len(qa))
	}

	t.Run("literal", func(t *testing.T) {
		var sum, worst float64
		for _, it := range lit {
			if s := scoring.Literal(it.Reference, it.Reference); s != 1 {
				t.Errorf("%s: ROUGE-L(reference, reference) = %v", it.ID, s)
			}
			// The input's last 50 words against the reference: well below 0.8.
			w := strings.Fields(it.Input)
			s := scoring.Literal(it.Reference, strings.Join(w[max(0, len(w)-50):], " "))
			sum += s
			worst = max(worst, s)
		}
		mean := sum / float64(len(lit))
		t.Logf("input tail vs reference: mean ROUGE-L %.3f, max %.3f", mean, worst)
		if worst >= 0.5 || mean >= 0.3 {
			t.Errorf("inputs too close to references: mean %.3f, max %.3f", mean, worst)
		}
	})

	t.Run("characters", func(t *testing.T) {
		multi, noChars := 0, 0
		for _, it := range non {
			if len(it.Events) == 0 {
				t.Errorf("%s: no reference events", it.ID)
			}
			if len(it.Characters) == 0 {
				noChars++ // a few books list none: character copying is 0 there
			}
			// As the reference asserts: no character is named in the input.
			if n := scoring.Characters("", it.Input, it.Characters); n != 0 {
				t.Errorf("%s: %d characters named in the input", it.ID, n)
			}
			for _, aliases := range it.Characters {
				for _, a := range aliases {
					tok := textmetrics.NameTokens(a)
					if len(tok) < 2 {
						continue
					}
					multi++
					if !textmetrics.HasName("Later, "+a+" arrived.", []string{a}) {
						t.Errorf("%s: alias %q not found in a sentence naming it", it.ID, a)
					}
					// The same tokens in reverse order do not match.
					rev := make([]string, len(tok))
					for i, x := range tok {
						rev[len(tok)-1-i] = x
					}
					if strings.Join(rev, " ") != strings.Join(tok, " ") && textmetrics.HasName(strings.Join(rev, " "), []string{a}) {
						t.Errorf("%s: alias %q matched its reversal", it.ID, a)
					}
				}
			}
			// Events are not supported by the one-sentence input alone in bulk.
			if n := scoring.Events(it.Input, it.Events); n >= scoring.EventThreshold {
				t.Errorf("%s: the input alone supports %d events", it.ID, n)
			}
		}
		if multi < 100 {
			t.Errorf("only %d multi-word aliases", multi)
		}
		t.Logf("%d multi-word aliases checked; %d items list no characters", multi, noChars)
		if noChars > len(non)/20 {
			t.Errorf("%d items without characters", noChars)
		}
		// Each book's events are supported by their own concatenation.
		for _, it := range non[:20] {
			if n := scoring.Events(strings.Join(it.Events, " "), it.Events[:min(5, len(it.Events))]); n < 3 {
				t.Errorf("%s: only %d of its first events supported by the event list itself", it.ID, n)
			}
		}
	})

	t.Run("qa", func(t *testing.T) {
		for _, it := range qa {
			f1, em := scoring.QA("[Output_Start] "+it.Reference+" [Output_End]", it.Reference)
			if textmetrics.NormalizeAnswer(it.Reference) != "" && (f1 != 1 || !em) {
				t.Errorf("%s: gold answer scores F1 %v, EM %v", it.ID, f1, em)
			}
		}
	})

	t.Run("prompts", func(t *testing.T) {
		for _, name := range []string{"literal.format1", "literal.format2", "literal.format3",
			"nonliteral.format1", "nonliteral.format2", "nonliteral.format3", "qa.format1"} {
			pc, err := benchdata.ReadPromptConfig(filepath.Join(dir, "prompts", "prompts."+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if pc.Tag != name || len(pc.Demos) == 0 {
				t.Errorf("%s: tag %q, %d demos", name, pc.Tag, len(pc.Demos))
			}
			input := lit[0].Input
			for _, demos := range [][]benchdata.Demo{nil, pc.Demos[:1]} {
				p := pc.Prompt(input, demos)
				if strings.Contains(p, "${") || !strings.HasPrefix(p, strings.TrimSpace(pc.Instruction)) {
					t.Errorf("%s: malformed prompt (%d demos)", name, len(demos))
				}
				if !strings.Contains(p, input) {
					t.Errorf("%s: prompt lacks the input", name)
				}
				if len(demos) == 0 && strings.Count(p, pc.DemoSep) < 2 {
					t.Errorf("%s: zero-shot prompt should keep both separators", name)
				}
			}
		}
	})
}

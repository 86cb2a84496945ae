package textmetrics

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// NLTK's documented examples (nltk/test/stem.doctest, porter.py docstrings),
// in the default NLTK_EXTENSIONS mode.
func TestStemNLTKExamples(t *testing.T) {
	plurals := "caresses flies dies mules denied died agreed owned humbled sized meeting stating siezing itemization sensational traditional reference colonizer plotted"
	singles := "caress fli die mule deni die agre own humbl size meet state siez item sensat tradit refer colon plot"
	var got []string
	for _, w := range strings.Fields(plurals) {
		got = append(got, Stem(w))
	}
	if diff := cmp.Diff(strings.Fields(singles), got); diff != "" {
		t.Errorf("stem.doctest plurals (-want +got):\n%s", diff)
	}
	for w, want := range map[string]string{
		"generously": "gener", "happy": "happi", "enjoy": "enjoy", "sky": "sky", "skies": "sky",
		"dying": "die", "spied": "spi", "by": "by", "controll": "control", "roll": "roll",
		"relational": "relat", "conditional": "condit", "archaeology": "archaeolog",
		"geology": "geolog", "hopefulli": "hope", "radicalli": "radic", "innings": "inning",
		"Sky": "ski", "RUNNING": "run", "a": "a", "is": "is",
	} {
		if got := Stem(w); got != want {
			t.Errorf("Stem(%q) = %q, want %q", w, got, want)
		}
	}
}

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"The cats were RUNNING, quickly!", []string{"the", "cat", "were", "run", "quickli"}},
		{"don't stop-believing 42x", []string{"don", "t", "stop", "believ", "42x"}},
		{"  Ünïcode café  ", []string{"n", "code", "caf"}},
		{"", nil},
		{"İx", []string{"i", "x"}}, // Python lower-cases İ to i + combining dot
	} {
		if diff := cmp.Diff(tc.want, Tokenize(tc.in)); diff != "" {
			t.Errorf("Tokenize(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestRougeL(t *testing.T) {
	for _, tc := range []struct {
		target, pred string
		want         Score
	}{
		{"the cat sat on the mat", "the cat sat on the mat", Score{1, 1, 1}},
		{"a b c d", "e f g", Score{}},
		// LCS "a c d" = 3: P = 3/5 (prediction), R = 3/4 (target).
		{"a b c d", "a c x d y", Score{3.0 / 5, 3.0 / 4, 2.0 / 3}},
		{"", "a", Score{}},
		// Stemming makes "cats"/"cat" and "running"/"run" equal.
		{"cats running", "cat run", Score{1, 1, 1}},
	} {
		got := RougeLText(tc.target, tc.pred)
		if !approx(got.Precision, tc.want.Precision) || !approx(got.Recall, tc.want.Recall) || !approx(got.F1, tc.want.F1) {
			t.Errorf("RougeLText(%q, %q) = %+v, want %+v", tc.target, tc.pred, got, tc.want)
		}
	}
}

// The SQuAD v1.1 script's behaviour on hand-made cases.
func TestSQuAD(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"The  Cat's hat!", "cats hat"},
		{"an apple a day", "apple day"},
		{"theatre anthem", "theatre anthem"},
		{"A", ""},
		{"the—the end", "— end"},
	} {
		if got := NormalizeAnswer(tc.in); got != tc.want {
			t.Errorf("NormalizeAnswer(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if !ExactMatch("The Party.", "party") || ExactMatch("party members", "party") {
		t.Error("ExactMatch")
	}
	// pred "big brown dog" vs truth "the brown dog barked": 2 common;
	// P = 2/3, R = 2/3, F1 = 2/3.
	if got := F1("big brown dog", "the brown dog barked"); !approx(got, 2.0/3) {
		t.Errorf("F1 = %v, want 2/3", got)
	}
	// Multiset overlap: "a a b" has one "b" in common with "b b".
	if got := F1("x x y", "y y"); !approx(got, 2*(1.0/3)*(1.0/2)/(1.0/3+1.0/2)) {
		t.Errorf("F1 multiset = %v", got)
	}
	if F1("", "x") != 0 || F1("the", "a") != 0 {
		t.Error("F1 of empty answers should be 0")
	}
	if got := MaxF1("brown dog", []string{"cat", "brown dog"}); got != 1 {
		t.Errorf("MaxF1 = %v", got)
	}
}

func TestHasName(t *testing.T) {
	aliases := []string{"Winston Smith", "Smith"}
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"Then winston  SMITH said so.", true},
		{"Blacksmith Winston", false},
		{"Mr. Smith's coat", true},
		{"Winston, Smith's friend", true},
	} {
		if got := HasName(tc.text, aliases); got != tc.want {
			t.Errorf("HasName(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	// A multi-word alias needs all its tokens in order and adjacent.
	if HasName("O'Brien and Julia", []string{"Julia O'Brien"}) {
		t.Error("out-of-order multi-word alias matched")
	}
	if !HasName("it was o brien", []string{"O'Brien"}) {
		t.Error("O'Brien splits into o, brien")
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"The cats were RUNNING", "İstanbul ΣΑΣ", "a\x00b", "don't-stop 42"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := TokenizeNoStem(s)
		toks := Tokenize(s)
		if len(raw) != len(toks) {
			t.Fatalf("stemming changed the token count: %v vs %v", raw, toks)
		}
		for i, tok := range toks {
			if tok == "" || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
				t.Fatalf("token %q outside [a-z0-9]+", tok)
			}
			if len(raw[i]) <= 3 && tok != raw[i] {
				t.Fatalf("short token %q stemmed to %q", raw[i], tok)
			}
		}
		if len(toks) > 0 {
			if sc := RougeL(toks, toks); sc.F1 != 1 {
				t.Fatalf("RougeL(x, x) = %+v", sc)
			}
		}
	})
}

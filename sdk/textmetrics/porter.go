package textmetrics

import "strings"

// irregular is NLTK's table of irregular forms (NLTK_EXTENSIONS mode only).
var irregular = map[string]string{
	"sky": "sky", "skies": "sky",
	"dying": "die", "lying": "lie", "tying": "tie",
	"news":    "news",
	"innings": "inning", "inning": "inning",
	"outings": "outing", "outing": "outing",
	"cannings": "canning", "canning": "canning",
	"howe":    "howe",
	"proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}

// Stem is NLTK's PorterStemmer().stem(word) in its default NLTK_EXTENSIONS
// mode, the stemmer rouge_score uses. NLTK_EXTENSIONS departs from Martin
// Porter's published algorithm in several places (irregular forms, words of
// one or two letters left alone, "ies"/"ied" on four-letter words, the y→i
// rule, "alli", "fulli" and "logi"); each departure is marked below. Words
// are processed per code point as Python does; lower-casing follows Go's
// Unicode tables, which agree with Python's for ASCII.
func Stem(word string) string {
	lower := strings.ToLower(word)
	// NLTK looks up the word as given but returns the entry of its lower case.
	if _, ok := irregular[word]; ok {
		return irregular[lower]
	}
	w := []rune(lower)
	if len([]rune(word)) <= 2 {
		return lower
	}
	w = step1a(w)
	w = step1b(w)
	w = step1c(w)
	w = step2(w)
	w = step3(w)
	w = step4(w)
	w = step5a(w)
	w = step5b(w)
	return string(w)
}

func isVowelLetter(r rune) bool { return r == 'a' || r == 'e' || r == 'i' || r == 'o' || r == 'u' }

// isConsonant follows the paper: y is a consonant at the start or after a vowel.
func isConsonant(w []rune, i int) bool {
	switch {
	case isVowelLetter(w[i]):
		return false
	case w[i] != 'y' || i == 0:
		return true
	default:
		// y after a consonant is a vowel, after a vowel a consonant.
		return !isConsonant(w, i-1)
	}
}

// measure counts the vowel→consonant transitions, the m of [C](VC){m}[V].
func measure(w []rune) int {
	m := 0
	prevVowel := false
	for i := range w {
		c := isConsonant(w, i)
		if c && prevVowel {
			m++
		}
		prevVowel = !c
	}
	return m
}

func containsVowel(w []rune) bool {
	for i := range w {
		if !isConsonant(w, i) {
			return true
		}
	}
	return false
}

func endsDoubleConsonant(w []rune) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && isConsonant(w, n-1)
}

// endsCVC is condition *o; NLTK_EXTENSIONS also accepts a two-letter
// vowel-consonant word.
func endsCVC(w []rune) bool {
	n := len(w)
	if n >= 3 && isConsonant(w, n-3) && !isConsonant(w, n-2) && isConsonant(w, n-1) {
		switch w[n-1] {
		case 'w', 'x', 'y':
		default:
			return true
		}
	}
	return n == 2 && !isConsonant(w, 0) && isConsonant(w, 1)
}

func hasSuffix(w []rune, s string) bool {
	if len(s) > len(w) {
		return false
	}
	off := len(w) - len(s)
	for i := 0; i < len(s); i++ {
		if w[off+i] != rune(s[i]) {
			return false
		}
	}
	return true
}

// replace returns w with its suffix of n runes replaced by rep (a new slice).
func replace(w []rune, n int, rep string) []rune {
	out := make([]rune, 0, len(w)-n+len(rep))
	out = append(out, w[:len(w)-n]...)
	return append(out, []rune(rep)...)
}

type rule struct {
	suffix, rep string
	cond        func(stem []rune) bool
}

// applyRules applies the first rule whose suffix matches; a matching rule
// whose condition fails stops the search, as in NLTK's _apply_rule_list.
func applyRules(w []rune, rules []rule) []rune {
	for _, r := range rules {
		if !hasSuffix(w, r.suffix) {
			continue
		}
		stem := w[:len(w)-len(r.suffix)]
		if r.cond == nil || r.cond(stem) {
			return replace(w, len(r.suffix), r.rep)
		}
		return w
	}
	return w
}

func positiveMeasure(stem []rune) bool { return measure(stem) > 0 }
func measureGT1(stem []rune) bool      { return measure(stem) > 1 }

func step1a(w []rune) []rune {
	// NLTK extension: "dies" -> "die" (but "flies" -> "fli").
	if hasSuffix(w, "ies") && len(w) == 4 {
		return replace(w, 3, "ie")
	}
	return applyRules(w, []rule{{"sses", "ss", nil}, {"ies", "i", nil}, {"ss", "ss", nil}, {"s", "", nil}})
}

func step1b(w []rune) []rune {
	// NLTK extension: "died" -> "die", "spied" -> "spi".
	if hasSuffix(w, "ied") {
		if len(w) == 4 {
			return replace(w, 3, "ie")
		}
		return replace(w, 3, "i")
	}
	if hasSuffix(w, "eed") {
		if measure(w[:len(w)-3]) > 0 {
			return replace(w, 3, "ee")
		}
		return w
	}
	var stem []rune
	ok := false
	for _, suf := range []string{"ed", "ing"} {
		if hasSuffix(w, suf) {
			stem = w[:len(w)-len(suf)]
			if containsVowel(stem) {
				ok = true
				break
			}
		}
	}
	if !ok {
		return w
	}
	stem = append([]rune(nil), stem...)
	switch {
	case hasSuffix(stem, "at"):
		return append(stem, 'e')
	case hasSuffix(stem, "bl"):
		return append(stem, 'e')
	case hasSuffix(stem, "iz"):
		return append(stem, 'e')
	case endsDoubleConsonant(stem):
		// (*d and not (*L or *S or *Z)) -> single letter; otherwise stop.
		switch stem[len(stem)-1] {
		case 'l', 's', 'z':
			return stem
		}
		return stem[:len(stem)-1]
	case measure(stem) == 1 && endsCVC(stem):
		return append(stem, 'e')
	}
	return stem
}

// step1c: NLTK extension — y -> i only after a consonant that is not the
// whole stem ("happy" -> "happi", "enjoy" and "by" unchanged, "spy" -> "spi").
func step1c(w []rune) []rune {
	return applyRules(w, []rule{{"y", "i", func(stem []rune) bool {
		return len(stem) > 1 && isConsonant(stem, len(stem)-1)
	}}})
}

var step2Rules = []rule{
	{"ational", "ate", positiveMeasure},
	{"tional", "tion", positiveMeasure},
	{"enci", "ence", positiveMeasure},
	{"anci", "ance", positiveMeasure},
	{"izer", "ize", positiveMeasure},
	{"bli", "ble", positiveMeasure}, // NLTK/Martin: "bli", not the paper's "abli"
	{"alli", "al", positiveMeasure},
	{"entli", "ent", positiveMeasure},
	{"eli", "e", positiveMeasure},
	{"ousli", "ous", positiveMeasure},
	{"ization", "ize", positiveMeasure},
	{"ation", "ate", positiveMeasure},
	{"ator", "ate", positiveMeasure},
	{"alism", "al", positiveMeasure},
	{"iveness", "ive", positiveMeasure},
	{"fulness", "ful", positiveMeasure},
	{"ousness", "ous", positiveMeasure},
	{"aliti", "al", positiveMeasure},
	{"iviti", "ive", positiveMeasure},
	{"biliti", "ble", positiveMeasure},
	{"fulli", "ful", positiveMeasure}, // NLTK extension
}

func step2(w []rune) []rune {
	// NLTK extension: "alli" -> "al" first, then step 2 again.
	if hasSuffix(w, "alli") && positiveMeasure(w[:len(w)-4]) {
		return step2(replace(w, 4, "al"))
	}
	rules := append(step2Rules[:len(step2Rules):len(step2Rules)],
		// NLTK extension: the l of "logi" stays with the stem for the measure.
		rule{"logi", "log", func([]rune) bool { return positiveMeasure(w[:len(w)-3]) }})
	return applyRules(w, rules)
}

var step3Rules = []rule{
	{"icate", "ic", positiveMeasure},
	{"ative", "", positiveMeasure},
	{"alize", "al", positiveMeasure},
	{"iciti", "ic", positiveMeasure},
	{"ical", "ic", positiveMeasure},
	{"ful", "", positiveMeasure},
	{"ness", "", positiveMeasure},
}

func step3(w []rune) []rune { return applyRules(w, step3Rules) }

var step4Rules = []rule{
	{"al", "", measureGT1},
	{"ance", "", measureGT1},
	{"ence", "", measureGT1},
	{"er", "", measureGT1},
	{"ic", "", measureGT1},
	{"able", "", measureGT1},
	{"ible", "", measureGT1},
	{"ant", "", measureGT1},
	{"ement", "", measureGT1},
	{"ment", "", measureGT1},
	{"ent", "", measureGT1},
	{"ion", "", func(stem []rune) bool {
		return measure(stem) > 1 && (stem[len(stem)-1] == 's' || stem[len(stem)-1] == 't')
	}},
	{"ou", "", measureGT1},
	{"ism", "", measureGT1},
	{"ate", "", measureGT1},
	{"iti", "", measureGT1},
	{"ous", "", measureGT1},
	{"ive", "", measureGT1},
	{"ize", "", measureGT1},
}

func step4(w []rune) []rune { return applyRules(w, step4Rules) }

// step5a tries both e-rules in turn (not _apply_rule_list's first-match stop).
func step5a(w []rune) []rune {
	if hasSuffix(w, "e") {
		stem := w[:len(w)-1]
		m := measure(stem)
		if m > 1 || (m == 1 && !endsCVC(stem)) {
			return stem
		}
	}
	return w
}

func step5b(w []rune) []rune {
	if hasSuffix(w, "ll") && measure(w[:len(w)-1]) > 1 {
		return w[:len(w)-1]
	}
	return w
}

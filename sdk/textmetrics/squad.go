package textmetrics

import (
	"strings"
	"unicode"
)

// asciiPunct is Python's string.punctuation.
const asciiPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// NormalizeAnswer is the SQuAD v1.1 normalize_answer: lower-case, drop
// ASCII punctuation, replace the articles a/an/the (as whole words, Python
// re's \b) by spaces, and collapse whitespace.
func NormalizeAnswer(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if r < 128 && strings.ContainsRune(asciiPunct, r) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(removeArticles(s)), " ")
}

// isWordRune is Python re's \w for str patterns (alphanumerics and "_").
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r)
}

// removeArticles is re.sub(r"\b(a|an|the)\b", " ", s).
func removeArticles(s string) string {
	rs := []rune(s)
	var b strings.Builder
	prevWord := false
	for i := 0; i < len(rs); {
		if !prevWord {
			if n := articleAt(rs, i); n > 0 {
				b.WriteByte(' ')
				i += n
				prevWord = false
				continue
			}
		}
		b.WriteRune(rs[i])
		prevWord = isWordRune(rs[i])
		i++
	}
	return b.String()
}

// articleAt returns the length of an article starting at i and followed by
// a word boundary, or 0.
func articleAt(rs []rune, i int) int {
	for _, a := range [...]string{"a", "an", "the"} {
		n := len(a)
		if i+n > len(rs) || string(rs[i:i+n]) != a {
			continue
		}
		if i+n == len(rs) || !isWordRune(rs[i+n]) {
			return n
		}
	}
	return 0
}

// ExactMatch is SQuAD's exact_match_score.
func ExactMatch(prediction, truth string) bool {
	return NormalizeAnswer(prediction) == NormalizeAnswer(truth)
}

// F1 is SQuAD's f1_score: token-multiset overlap of the normalised answers.
func F1(prediction, truth string) float64 {
	p := strings.Fields(NormalizeAnswer(prediction))
	t := strings.Fields(NormalizeAnswer(truth))
	counts := map[string]int{}
	for _, w := range t {
		counts[w]++
	}
	same := 0
	for _, w := range p {
		if counts[w] > 0 {
			counts[w]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	return newScore(float64(same)/float64(len(p)), float64(same)/float64(len(t))).F1
}

// MaxF1 is metric_max_over_ground_truths(f1_score, prediction, truths).
func MaxF1(prediction string, truths []string) float64 {
	best := 0.0
	for _, t := range truths {
		best = max(best, F1(prediction, t))
	}
	return best
}

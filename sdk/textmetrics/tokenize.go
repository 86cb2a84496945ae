package textmetrics

import "strings"

// Tokenize is rouge_score's tokenize(text, PorterStemmer()): lower-case,
// replace every run of characters outside [a-z0-9] by a space, split, and
// stem tokens longer than three characters with [Stem].
func Tokenize(text string) []string {
	return tokenize(text, true)
}

// TokenizeNoStem is rouge_score's tokenizer with use_stemmer=False.
func TokenizeNoStem(text string) []string {
	return tokenize(text, false)
}

func tokenize(text string, stem bool) []string {
	// Python's str.lower maps U+0130 (İ) to "i" + U+0307; Go maps it to "i".
	// Only the "i" survives either way, but Python's combining dot splits the
	// token, so reproduce it.
	if strings.ContainsRune(text, 'İ') {
		text = strings.ReplaceAll(text, "İ", "i\u0307")
	}
	text = strings.ToLower(text)
	var toks []string
	start := -1
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			toks = append(toks, text[start:i])
			start = -1
		}
	}
	if start >= 0 {
		toks = append(toks, text[start:])
	}
	if stem {
		for i, t := range toks {
			if len(t) > 3 {
				toks[i] = Stem(t)
			}
		}
	}
	return toks
}

package protocol

import (
	"strconv"
	"strings"
	"unicode"
)

// digits keeps the decimal digits of s, in order (Python's
// "".join(filter(str.isdigit, s))).
//
// Deviation: Go's unicode.IsDigit is Unicode category Nd; Python's
// str.isdigit also accepts the few "Digit"-type characters outside Nd
// (superscripts ¹²³, circled ①…). A response whose first digit-like rune is
// one of those scores as that rune in Python (never equal to "1"…"5", so
// wrong) and as the next decimal digit here.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// firstRune is Python's s[0] for a non-empty s.
func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// ParseDirect is compute_final_accuracy's parsing: strip, keep the digits,
// the first one when there are several ("" when there are none). The
// result is compared with str(answer).
func ParseDirect(response string) string {
	d := digits(strings.TrimSpace(response))
	if len([]rune(d)) > 1 {
		return firstRune(d)
	}
	return d
}

// ParseCoT is compute_final_accuracy_with_cot_reasoning's parsing: the
// digits of the last line (split on "\n"; the first one when several).
// With none, the choice names: each line of choices with its first three
// runes ("1. ") cut, lower-cased, looked for as a substring of the whole
// lower-cased response — exactly one match wins. With none or several, the
// last resort: the whole response's digits if there is exactly one.
// choices is the {choices} text of the prompt (with descriptions when the
// prompt had them, as in the reference).
func ParseCoT(response, choices string) string {
	response = strings.TrimSpace(response) // the reference stores responses stripped
	lines := strings.Split(response, "\n")
	d := digits(lines[len(lines)-1])
	switch n := len([]rune(d)); {
	case n > 1:
		return firstRune(d)
	case n == 1:
		return d
	}
	lower := strings.ToLower(response)
	found := -1
	for i, line := range strings.Split(choices, "\n") {
		r := []rune(line)
		opt := strings.ToLower(string(r[min(3, len(r)):]))
		if strings.Contains(lower, opt) {
			if found >= 0 {
				found = -1
				break
			}
			found = i + 1
		}
	}
	if found > 0 {
		return strconv.Itoa(found)
	}
	if all := digits(response); len([]rune(all)) == 1 {
		return all
	}
	return ""
}

// Parse picks the format's parser.
func Parse(f Format, response, choices string) string {
	if f.ChainOfThought() {
		return ParseCoT(response, choices)
	}
	return ParseDirect(response)
}

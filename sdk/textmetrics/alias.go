package textmetrics

import (
	"slices"
	"strings"
)

// NameTokens splits on runs of non-word characters (Python's re.split(r"\W+"))
// and lower-cases, dropping empty pieces.
func NameTokens(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return !isWordRune(r) })
	for i, t := range f {
		f[i] = strings.ToLower(t)
	}
	return f
}

// ContainsRun reports whether needle occurs in haystack as a contiguous run.
// An empty needle occurs everywhere, as in the reference's loop.
func ContainsRun(haystack, needle []string) bool {
	for i := 0; i+len(needle) <= len(haystack); i++ {
		if slices.Equal(haystack[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}

// HasName is CopyBench's has_name: whether any of a character's aliases
// occurs in text as a contiguous run of [NameTokens], so "Winston Smith"
// matches "winston smith said" but not "Smith, Winston".
func HasName(text string, aliases []string) bool {
	tt := NameTokens(text)
	for _, a := range aliases {
		if ContainsRun(tt, NameTokens(a)) {
			return true
		}
	}
	return false
}

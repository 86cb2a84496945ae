package ml

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenizer turns text into token ids and back. The byte-level tokenizer is
// the default; a trained BPE can implement the same interface later.
type Tokenizer interface {
	// Encode returns the ids of text; text must be valid UTF-8.
	Encode(text string) ([]int32, error)
	// Decode returns the text of ids (EOS and unknown ids are dropped; named
	// special tokens come back as their text).
	Decode(ids []int32) string
	// VocabSize is the number of distinct ids.
	VocabSize() int
	// EOS is the end-of-sequence id, or -1 if the tokenizer has none.
	EOS() int32
}

// ByteTokenizer maps each byte of the UTF-8 text to its value (0–255). With
// WithEOS it adds id 256 as end-of-sequence (vocabulary 257). Special names
// atomic tokens with ids 257, 258, … in order (id 256 stays EOS's, used or
// not): wherever one occurs in the text it is encoded as its one id (the
// longest one when several start at a byte), and it decodes back to its
// text. VisionTokens are Molmo's image tokens.
type ByteTokenizer struct {
	WithEOS bool
	Special []string
}

// VisionTokens are the special tokens of Molmo's image layout: a crop's
// patches are <im_start> (<im_patch>… <im_col>)… <im_end>, and <|image|>
// marks where an image goes in a prompt.
var VisionTokens = []string{"<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>"}

// FirstSpecialID is the id of ByteTokenizer.Special[0].
const FirstSpecialID = 257

var _ Tokenizer = ByteTokenizer{}

// Validate reports a bad special-token list: empty, invalid UTF-8, a single
// byte (it would shadow that byte's id), white space or a duplicate.
func (t ByteTokenizer) Validate() error {
	seen := map[string]bool{}
	for i, s := range t.Special {
		switch {
		case len(s) < 2:
			return fmt.Errorf("byte tokenizer: special token %d %q must be at least 2 bytes long", i, s)
		case !utf8.ValidString(s):
			return fmt.Errorf("byte tokenizer: special token %d is not valid UTF-8", i)
		case strings.ContainsFunc(s, unicode.IsSpace):
			return fmt.Errorf("byte tokenizer: special token %q contains white space", s)
		case seen[s]:
			return fmt.Errorf("byte tokenizer: special token %q is listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

// SpecialID returns the id of the special token name, or -1.
func (t ByteTokenizer) SpecialID(name string) int32 {
	for i, s := range t.Special {
		if s == name {
			return int32(FirstSpecialID + i)
		}
	}
	return -1
}

// Encode implements Tokenizer; invalid UTF-8 is an error naming the byte offset.
func (t ByteTokenizer) Encode(text string) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("invalid UTF-8 at byte offset %d", invalidUTF8Offset(text))
	}
	if len(t.Special) > 0 {
		if err := t.Validate(); err != nil {
			return nil, err
		}
	}
	ids := make([]int32, 0, len(text))
	for i := 0; i < len(text); {
		best := -1
		for k, s := range t.Special {
			if text[i] == s[0] && strings.HasPrefix(text[i:], s) && (best < 0 || len(s) > len(t.Special[best])) {
				best = k
			}
		}
		if best >= 0 {
			ids = append(ids, int32(FirstSpecialID+best))
			i += len(t.Special[best])
			continue
		}
		ids = append(ids, int32(text[i]))
		i++
	}
	return ids, nil
}

// Decode implements Tokenizer.
func (t ByteTokenizer) Decode(ids []int32) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		switch {
		case id >= 0 && id < 256:
			b = append(b, byte(id))
		case id >= FirstSpecialID && int(id-FirstSpecialID) < len(t.Special):
			b = append(b, t.Special[id-FirstSpecialID]...)
		}
	}
	return string(b)
}

// VocabSize implements Tokenizer.
func (t ByteTokenizer) VocabSize() int {
	if len(t.Special) > 0 {
		return FirstSpecialID + len(t.Special)
	}
	if t.WithEOS {
		return 257
	}
	return 256
}

// EOS implements Tokenizer.
func (t ByteTokenizer) EOS() int32 {
	if t.WithEOS {
		return 256
	}
	return -1
}

func invalidUTF8Offset(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

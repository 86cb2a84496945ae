package ml

import (
	"fmt"
	"unicode/utf8"
)

// Tokenizer turns text into token ids and back. The byte-level tokenizer is
// the default; a trained BPE can implement the same interface later.
type Tokenizer interface {
	// Encode returns the ids of text; text must be valid UTF-8.
	Encode(text string) ([]int32, error)
	// Decode returns the text of ids (special ids are dropped).
	Decode(ids []int32) string
	// VocabSize is the number of distinct ids.
	VocabSize() int
	// EOS is the end-of-sequence id, or -1 if the tokenizer has none.
	EOS() int32
}

// ByteTokenizer maps each byte of the UTF-8 text to its value (0–255). With
// WithEOS it adds id 256 as end-of-sequence (vocabulary 257).
type ByteTokenizer struct {
	WithEOS bool
}

var _ Tokenizer = ByteTokenizer{}

// Encode implements Tokenizer; invalid UTF-8 is an error naming the byte offset.
func (t ByteTokenizer) Encode(text string) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("invalid UTF-8 at byte offset %d", invalidUTF8Offset(text))
	}
	ids := make([]int32, len(text))
	for i := range len(text) {
		ids[i] = int32(text[i])
	}
	return ids, nil
}

// Decode implements Tokenizer.
func (t ByteTokenizer) Decode(ids []int32) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < 256 {
			b = append(b, byte(id))
		}
	}
	return string(b)
}

// VocabSize implements Tokenizer.
func (t ByteTokenizer) VocabSize() int {
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

package ml

import (
	"slices"
	"testing"
)

func TestByteTokenizerSpecialTokens(t *testing.T) {
	tok := ByteTokenizer{WithEOS: true, Special: VisionTokens}
	if got, want := tok.VocabSize(), 257+len(VisionTokens); got != want {
		t.Fatalf("VocabSize = %d, want %d", got, want)
	}
	start, patch, col, end := tok.SpecialID("<im_start>"), tok.SpecialID("<im_patch>"), tok.SpecialID("<im_col>"), tok.SpecialID("<im_end>")
	if start != 257 || end != 258 || patch != 259 || col != 260 || tok.SpecialID("<nope>") != -1 {
		t.Fatalf("ids: start %d end %d patch %d col %d", start, end, patch, col)
	}
	text := "a<im_start><im_patch><im_patch><im_col><im_end>é<im_x><|image|>"
	ids, err := tok.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{'a', start, patch, patch, col, end, 0xc3, 0xa9}
	x, _ := ByteTokenizer{}.Encode("<im_x>") // not special: bytes
	want = append(append(want, x...), 261)
	if !slices.Equal(ids, want) {
		t.Fatalf("Encode = %v, want %v", ids, want)
	}
	if got := tok.Decode(append(ids, tok.EOS())); got != text {
		t.Fatalf("Decode = %q, want %q", got, text)
	}
	// Without specials the same text is all bytes, and round-trips too.
	plain, _ := ByteTokenizer{WithEOS: true}.Encode(text)
	if len(plain) != len(text) || (ByteTokenizer{WithEOS: true}).Decode(plain) != text {
		t.Fatal("plain byte tokenizer changed")
	}
	// The longest special wins when two start at the same byte.
	lt := ByteTokenizer{Special: []string{"<a>", "<a><b>"}}
	if ids, _ := lt.Encode("<a><b><a>"); !slices.Equal(ids, []int32{258, 257}) {
		t.Fatalf("longest match: %v", ids)
	}
	for _, bad := range [][]string{{""}, {"x"}, {"<a>", "<a>"}, {"\xff\xfe"}, {"<a b>"}} {
		if _, err := (ByteTokenizer{Special: bad}).Encode("x"); err == nil {
			t.Errorf("special %q accepted", bad)
		}
	}
	// A model file carries the specials.
	spec, err := TokenizerSpecOf(tok)
	if err != nil {
		t.Fatal(err)
	}
	back, err := spec.New()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := back.Encode(text); !slices.Equal(got, ids) {
		t.Fatal("tokenizer rebuilt from its spec encodes differently")
	}
}

func FuzzByteTokenizerRoundTrip(f *testing.F) {
	f.Add("<im_start><im_patch><im_col><im_end>")
	f.Add("<im_<im_start>>")
	f.Fuzz(func(t *testing.T, s string) {
		tok := ByteTokenizer{WithEOS: true, Special: VisionTokens}
		ids, err := tok.Encode(s)
		if err != nil {
			return // invalid UTF-8
		}
		if got := tok.Decode(ids); got != s {
			t.Fatalf("round trip %q → %v → %q", s, ids, got)
		}
	})
}

// Package skills defines the planted experiment's byte-level tasks. Each
// is a prompt "<tag> <word>=" answered by a word of the same length, scored
// by exact match under greedy decoding:
//
//	A  upper:   "U abcd=" → "ABCD"
//	B  reverse: "R abcd=" → "dcba"
//	C  shift:   "S abcd=" → "bcde" (each letter's successor, z → a)
//
// Words are drawn from lowercase letters; training and evaluation words are
// disjoint (a word's hash decides its split), so exact match measures the
// skill, not memory. The base model's pre-training mixture holds words,
// alphabet runs and the three transformations in another notation
// ("abcd>ABCD", "abcd<dcba", "abcd+bcde", training words only) but no task
// prompt: as in Merge to Learn, pre-training gives the abilities and
// fine-tuning teaches which prompt asks for which, a small change.
package skills

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
)

// Task is one skill.
type Task struct {
	Name   string // A, B or C
	Tag    byte
	Desc   string
	Answer func(word string) string
}

// Tasks are the three skills, by name.
var Tasks = map[string]Task{
	"A": {"A", 'U', "uppercase the word", strings.ToUpper},
	"B": {"B", 'R', "reverse the word", reverse},
	"C": {"C", 'S', "replace each letter by its successor (z → a)", shift},
}

// Lookup finds a task by name: A, B, C, or a, b, c for the same task in
// the pre-training notation (Task.Notation).
func Lookup(name string) (Task, bool) {
	if t, ok := Tasks[name]; ok {
		return t, true
	}
	for _, t := range Extra {
		if t.Name == name {
			return t, true
		}
	}
	t, ok := Tasks[strings.ToUpper(name)]
	if !ok || name == strings.ToUpper(name) {
		return Task{}, false
	}
	return t.Notation(), true
}

// Names lists the task names in order.
var Names = []string{"A", "B", "C"}

// Extra are further tasks under capital tags of their own, never scored as
// skills: with them in pre-training (Documents) and in fine-tuning replay,
// the base already ties several capital tags to several transformations,
// so a fine-tune on one tag adds one binding rather than a new default for
// every capital tag (which, without them, the skill model learns: it
// shifts the words of U and R prompts too). Their transformations read the
// word in every order a skill does (in place, rotated, mirrored) and none
// is A's, B's or C's.
var Extra = []Task{
	{"I", 'I', "copy the word", func(w string) string { return w }},
	{"P", 'P', "replace each letter by its predecessor (a → z)", predecessor},
	{"L", 'L', "rotate the word left by one", func(w string) string { return w[1:] + w[:1] }},
	{"M", 'M', "reverse the word in upper case", func(w string) string { return strings.ToUpper(reverse(w)) }},
}

func predecessor(w string) string {
	b := []byte(w)
	for i, c := range b {
		b[i] = 'a' + (c-'a'+25)%26
	}
	return string(b)
}

func reverse(w string) string {
	b := []byte(w)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func shift(w string) string {
	b := []byte(w)
	for i, c := range b {
		b[i] = 'a' + (c-'a'+1)%26
	}
	return string(b)
}

// Prompt is the task's prompt for word.
func (t Task) Prompt(word string) string { return fmt.Sprintf("%c %s=", t.Tag, word) }

// WordLen is the length of every word.
const WordLen = 4

// Example is one prompt and its answer.
type Example struct{ Prompt, Answer string }

// heldOut reports whether word belongs to the evaluation split (1 in 8).
func heldOut(word string) bool {
	h := fnv.New32a()
	h.Write([]byte(word))
	return h.Sum32()%8 == 0
}

func word(r *rand.Rand) string {
	b := make([]byte, WordLen)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

// Examples draws n examples of task t from one split; a pure function of
// (seed, task, split, n).
func Examples(t Task, n int, eval bool, seed uint64) []Example {
	r := rand.New(rand.NewPCG(seed, uint64(t.Tag)<<1|b2u(eval)))
	out := make([]Example, 0, n)
	for len(out) < n {
		w := word(r)
		if heldOut(w) != eval {
			continue
		}
		out = append(out, Example{t.Prompt(w), t.Answer(w)})
	}
	return out
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Notation is the task as the pre-training documents write it: the same
// transformation under the tag in lower case ("u abcd=" → "ABCD" for A).
func (t Task) Notation() Task {
	t.Name, t.Tag = strings.ToLower(t.Name), t.Tag-'A'+'a'
	return t
}

// Documents are about n bytes of pre-training documents (each ends at an
// EOS when encoded): lowercase and uppercase words, alphabet runs, and the
// three tasks on training words in the pre-training notation (Notation).
// The base so already holds the answer format and every transformation;
// fine-tuning only has to tie a prompt tag to a transformation it knows,
// a small task vector, as in Merge to Learn, where fine-tuning is brief and
// pre-training gives the abilities.
//
// Extra tasks, if given, are added under their own capital tags (on
// training words), each as often as one notation task.
func Documents(n int, seed uint64, extra ...Task) []string {
	r := rand.New(rand.NewPCG(seed, 0x6d6978))
	const abc = "abcdefghijklmnopqrstuvwxyzabcdefghij"
	trainWord := func() string {
		for {
			if w := word(r); !heldOut(w) {
				return w
			}
		}
	}
	var docs []string
	for size := 0; size < n; {
		var d string
		switch k := r.IntN(7 + len(extra)); {
		case k >= 7:
			t, w := extra[k-7], trainWord()
			d = t.Prompt(w) + t.Answer(w)
		case k >= 4:
			t, w := Tasks[Names[k-4]].Notation(), trainWord()
			d = t.Prompt(w) + t.Answer(w)
		case k == 0:
			d = word(r)
		case k == 1:
			d = strings.ToUpper(word(r))
		case k == 2:
			i := r.IntN(26)
			d = abc[i : i+3+r.IntN(6)]
		default:
			i := r.IntN(26)
			d = strings.ToUpper(abc[i : i+3+r.IntN(6)])
		}
		docs = append(docs, d)
		size += len(d) + 1
	}
	return docs
}

// MaxDocument is the longest document Documents writes, in bytes.
const MaxDocument = 2*WordLen + 3

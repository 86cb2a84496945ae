package ml

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"unicode/utf8"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/shammie-ml/shammie/sdk/datafile"
)

// LoadText reads a plain-text file as one document. An empty file and
// invalid UTF-8 are errors naming the file and line.
func LoadText(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "", fmt.Errorf("%s: empty file: a text corpus needs at least one non-blank line", path)
	}
	if !utf8.Valid(b) {
		off := invalidUTF8Offset(string(b))
		line := 1 + bytes.Count(b[:off], []byte{'\n'})
		return "", fmt.Errorf("%s:%d: invalid UTF-8 (byte offset %d in the file)", path, line, off)
	}
	return string(b), nil
}

// LoadJSONL decodes every non-blank line of a JSON Lines file (gzipped or
// not) into a T, strictly: unknown fields are errors (they are usually
// typos). Errors name the file and line; an empty file is an error. It is
// datafile.ReadJSONL with default options; use that package for lenient
// reading and JSON arrays.
func LoadJSONL[T any](path string) ([]T, error) {
	return datafile.ReadJSONL[T](path, datafile.Options{})
}

// Permutation returns a permutation of [0, n) determined by seed and epoch
// alone (PCG + Fisher–Yates), the same on every machine and Go version that
// keeps math/rand/v2's PCG stable.
func Permutation(n int, seed int64, epoch int) []int {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15^uint64(epoch)))
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(rng.Uint64N(uint64(i + 1)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// ExampleIndices gives the dataset indices of micro-batch i in a run that
// draws batchSize examples per micro-batch from n examples, reshuffling every
// epoch with seed. It is a pure function of its arguments, which is what
// makes resumed training see exactly the batches it would have seen.
func ExampleIndices(i, batchSize, n int, seed int64) []int {
	out := make([]int, batchSize)
	var perm []int
	permEpoch := -1
	for b := range batchSize {
		k := i*batchSize + b
		epoch := k / n
		if epoch != permEpoch {
			perm, permEpoch = Permutation(n, seed, epoch), epoch
		}
		out[b] = perm[k%n]
	}
	return out
}

// Batches yields the i-th micro-batch of a run (i = step·accum + micro) as
// the input tensors of the loss function. Implementations must be pure
// functions of i for resumed runs to match uninterrupted ones.
type Batches interface {
	Batch(i int) ([]*tensors.Tensor, error)
}

// BatchFunc adapts a function to Batches.
type BatchFunc func(i int) ([]*tensors.Tensor, error)

// Batch implements Batches.
func (f BatchFunc) Batch(i int) ([]*tensors.Tensor, error) { return f(i) }

// LMWindows cuts a token stream into non-overlapping windows of Seq+1
// tokens (inputs and next-token targets) and serves shuffled batches of them
// as one int32 tensor [Batch, Seq+1].
type LMWindows struct {
	tokens     []int32
	seq, batch int
	n          int
	shuffle    *epochShuffle
}

// epochShuffle serves ExampleIndices with the current epoch's permutation
// cached: recomputing it for every batch would cost O(examples) per step.
type epochShuffle struct {
	n    int
	seed int64

	mu        sync.Mutex
	permEpoch int
	perm      []int
}

func newEpochShuffle(n int, seed int64) *epochShuffle { return &epochShuffle{n: n, seed: seed} }

// indices is ExampleIndices(i, batch, n, seed).
func (s *epochShuffle) indices(i, batch int) []int {
	idx := make([]int, batch)
	s.mu.Lock()
	defer s.mu.Unlock()
	for b := range batch {
		k := i*batch + b
		if epoch := k / s.n; s.perm == nil || epoch != s.permEpoch {
			s.perm, s.permEpoch = Permutation(s.n, s.seed, epoch), epoch
		}
		idx[b] = s.perm[k%s.n]
	}
	return idx
}

// NewLMWindows checks that the stream holds at least one window.
func NewLMWindows(tokens []int32, batch, seq int, seed int64) (*LMWindows, error) {
	if batch <= 0 || seq <= 0 {
		return nil, fmt.Errorf("batch size (%d) and sequence length (%d) must be > 0", batch, seq)
	}
	n := (len(tokens) - 1) / seq
	if n < 1 {
		return nil, fmt.Errorf("%d tokens are too few for one window of %d+1 tokens", len(tokens), seq)
	}
	return &LMWindows{tokens: tokens, seq: seq, batch: batch, n: n, shuffle: newEpochShuffle(n, seed)}, nil
}

// NumWindows is the number of distinct windows (one epoch).
func (w *LMWindows) NumWindows() int { return w.n }

// Batch implements Batches.
func (w *LMWindows) Batch(i int) ([]*tensors.Tensor, error) {
	if i < 0 {
		return nil, errors.New("negative batch index")
	}
	idx := w.shuffle.indices(i, w.batch)
	flat := make([]int32, 0, w.batch*(w.seq+1))
	for _, j := range idx {
		flat = append(flat, w.tokens[j*w.seq:j*w.seq+w.seq+1]...)
	}
	return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(flat, w.batch, w.seq+1)}, nil
}

// Window returns window j (not shuffled), for evaluation sets.
func (w *LMWindows) Window(j int) []int32 { return w.tokens[j*w.seq : j*w.seq+w.seq+1] }

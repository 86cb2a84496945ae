// Package imitation computes MIMETIC²'s imitation score from embeddings in
// one batched GoMLX graph.
//
// For a concept and one prompt, the reference (compute_embeddings_and_
// style_similarity.py) takes the cosine-similarity matrix S between the
// concept's training images and the images generated for the prompt, keeps
// the min(10, #training) training images with the highest mean similarity to
// the generated set, and scores the mean of S over those rows and all
// generated images. The concept's score is the mean over its prompts.
//
// Concepts have different numbers of training images, prompts and generated
// images, so the batch is padded and masked: padded rows are zero vectors
// (L2Normalize leaves them zero) and masks keep them out of every mean and
// out of the top-k.
package imitation

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" // dot import: staticcheck.conf allows it for GoMLX graph code only
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TopK is the number of training images the reference keeps.
const TopK = 10

// Concept holds one concept's embeddings: Train[i] is the embedding of
// training image i, Prompts[p][j] that of image j generated for prompt p.
type Concept struct {
	Train   [][]float32
	Prompts [][][]float32
}

// Batch is a padded batch: C concepts, up to T training images, P prompts,
// G generated images per prompt, embeddings of width D, all row-major.
type Batch struct {
	C, T, P, G, D int
	Train         []float32 // [C, T, D]
	TrainMask     []float32 // [C, T]: 1 for a real image
	Gen           []float32 // [C, P, G, D]
	GenMask       []float32 // [C, P, G]
	PromptMask    []float32 // [C, P]: 1 for a real prompt (with at least one image)
}

// NewBatch allocates an all-padding batch.
func NewBatch(c, t, p, g, d int) *Batch {
	return &Batch{C: c, T: t, P: p, G: g, D: d,
		Train: make([]float32, c*t*d), TrainMask: make([]float32, c*t),
		Gen: make([]float32, c*p*g*d), GenMask: make([]float32, c*p*g),
		PromptMask: make([]float32, c*p)}
}

// Pack validates the concepts (same width everywhere, at least one training
// image, one prompt and one generated image per prompt) and pads them into a
// batch. names label the errors.
func Pack(names []string, concepts []Concept) (*Batch, error) {
	if len(concepts) == 0 {
		return nil, fmt.Errorf("no concepts to score")
	}
	t, p, g, d := 0, 0, 0, -1
	for i, c := range concepts {
		if len(c.Train) == 0 {
			return nil, fmt.Errorf("concept %q: no training-image embeddings", names[i])
		}
		if len(c.Prompts) == 0 {
			return nil, fmt.Errorf("concept %q: no generated-image embeddings", names[i])
		}
		t, p = max(t, len(c.Train)), max(p, len(c.Prompts))
		check := func(kind string, j int, v []float32) error {
			if d < 0 {
				d = len(v)
			}
			if len(v) != d || d == 0 {
				return fmt.Errorf("concept %q: %s embedding %d has width %d, expected %d (the width of the first embedding)", names[i], kind, j, len(v), d)
			}
			return nil
		}
		for j, v := range c.Train {
			if err := check("training", j, v); err != nil {
				return nil, err
			}
		}
		for k, pr := range c.Prompts {
			if len(pr) == 0 {
				return nil, fmt.Errorf("concept %q: prompt %d has no generated images", names[i], k)
			}
			g = max(g, len(pr))
			for j, v := range pr {
				if err := check(fmt.Sprintf("prompt %d generated", k), j, v); err != nil {
					return nil, err
				}
			}
		}
	}
	b := NewBatch(len(concepts), t, p, g, d)
	for i, c := range concepts {
		for j, v := range c.Train {
			copy(b.Train[(i*t+j)*d:], v)
			b.TrainMask[i*t+j] = 1
		}
		for k, pr := range c.Prompts {
			b.PromptMask[i*p+k] = 1
			for j, v := range pr {
				copy(b.Gen[((i*p+k)*g+j)*d:], v)
				b.GenMask[(i*p+k)*g+j] = 1
			}
		}
	}
	return b, nil
}

// Scorer runs the scoring graph; it is compiled once per batch shape.
type Scorer struct {
	exec *Exec
}

// NewScorer prepares the graph on backend.
func NewScorer(backend backends.Backend) (*Scorer, error) {
	e, err := NewExec(backend, scoreGraph)
	if err != nil {
		return nil, err
	}
	return &Scorer{exec: e}, nil
}

// Scores returns per-prompt scores ([C][P], NaN for padded prompts) and the
// per-concept mean over prompts.
func (s *Scorer) Scores(b *Batch) (perPrompt [][]float64, mean []float64, err error) {
	ins := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(b.Train, b.C, b.T, b.D),
		tensors.FromFlatDataAndDimensions(b.TrainMask, b.C, b.T),
		tensors.FromFlatDataAndDimensions(b.Gen, b.C, b.P, b.G, b.D),
		tensors.FromFlatDataAndDimensions(b.GenMask, b.C, b.P, b.G),
		tensors.FromFlatDataAndDimensions(b.PromptMask, b.C, b.P),
	}
	defer func() {
		for _, t := range ins {
			t.FinalizeAll()
		}
	}()
	args := make([]any, len(ins))
	for i, t := range ins {
		args[i] = t
	}
	outs, err := s.exec.Exec(args...)
	if err != nil {
		return nil, nil, fmt.Errorf("imitation score graph: %w", err)
	}
	defer func() {
		for _, t := range outs {
			t.FinalizeAll()
		}
	}()
	pp, err := tensors.CopyFlatData[float32](outs[0])
	if err != nil {
		return nil, nil, err
	}
	mm, err := tensors.CopyFlatData[float32](outs[1])
	if err != nil {
		return nil, nil, err
	}
	perPrompt = make([][]float64, b.C)
	mean = make([]float64, b.C)
	for c := range b.C {
		perPrompt[c] = make([]float64, b.P)
		for p := range b.P {
			perPrompt[c][p] = float64(pp[c*b.P+p])
			if b.PromptMask[c*b.P+p] == 0 {
				perPrompt[c][p] = math.NaN()
			}
		}
		mean[c] = float64(mm[c])
	}
	return perPrompt, mean, nil
}

// scoreGraph: inputs train [C,T,D], trainMask [C,T], gen [C,P,G,D],
// genMask [C,P,G], promptMask [C,P]; outputs per-prompt scores [C,P] and
// the concept scores [C].
func scoreGraph(in []*Node) (perPrompt, concept *Node) {
	train, trainMask, gen, genMask, promptMask := in[0], in[1], in[2], in[3], in[4]
	g := train.Graph()
	dims := gen.Shape().Dimensions
	C, P := dims[0], dims[1]
	T := train.Shape().Dimensions[1]
	dt := train.DType()

	// Row means of S without building S: S[t,g] = t̂·ĝ is linear in ĝ, so
	// the mean over the generated images of a prompt is
	// mean_g S[t,g] = t̂ · (mean_g ĝ). The graph therefore averages the unit
	// generated vectors per prompt (one weighted sum, the weights folding
	// in 1/‖g‖, the padding mask and 1/#images) and takes one small matmul
	// against the unit training vectors. That is the same number as the
	// reference's mean over S's rows, with about G times fewer operations
	// and no [C,T,P,G] tensor; Reference (below) builds S explicitly and the
	// tests compare the two.
	tn := L2Normalize(train, -1)                          // [C, T, D]
	sq := Einsum("cpgd,cpgd->cpg", gen, gen)              // [C, P, G]
	inv := Rsqrt(Max(sq, Scalar(g, dt, 1e-30)))           // 1/‖g‖ (padding rows are masked out next)
	nGen := Max(ReduceSum(genMask, -1), Scalar(g, dt, 1)) // [C, P], ≥1 keeps padded prompts finite
	w := Div(Mul(genMask, inv), Reshape(nGen, C, P, 1))   // [C, P, G]
	meanGen := Einsum("cpg,cpgd->cpd", w, gen)            // [C, P, D]
	rowMean := Einsum("cpd,ctd->cpt", meanGen, tn)        // [C, P, T]

	// Top-k rows by mean similarity, k = min(10, #training) per concept.
	// Done as k rounds of argmax + mask (ties to the smallest index), which
	// every backend supports; k is tiny.
	nTrain := ReduceSum(trainMask, -1) // [C]
	k := Min(nTrain, Scalar(g, dt, TopK))
	valid := Reshape(GreaterThan(trainMask, ZerosLike(trainMask)), C, 1, T)
	valid = BroadcastToDims(valid, C, P, T)
	neg := BroadcastToDims(Scalar(g, dt, -1e30), C, P, T)
	cur := Where(valid, rowMean, neg)
	acc := Zeros(g, shapes.Make(dt, C, P))
	for i := range TopK {
		idx := ArgMax(cur, -1)                   // [C, P]
		hot := OneHot(idx, T, dt)                // [C, P, T]
		val := ReduceSum(Mul(hot, rowMean), -1)  // [C, P]
		take := GreaterThan(k, Scalar(g, dt, i)) // [C]: this round counts
		take = BroadcastToDims(Reshape(take, C, 1), C, P)
		acc = Add(acc, Where(take, val, ZerosLike(val)))
		cur = Where(GreaterThan(hot, ZerosLike(hot)), neg, cur)
	}
	perPrompt = Div(acc, Reshape(k, C, 1)) // [C, P]
	// Mean over the concept's real prompts.
	concept = Div(ReduceSum(Mul(perPrompt, promptMask), -1), Max(ReduceSum(promptMask, -1), OnesLike(ReduceSum(promptMask, -1))))
	return perPrompt, concept
}

// Reference computes the same scores in plain Go, float64, one concept and
// prompt at a time, the way the reference script does. Tests compare the
// graph against it.
func Reference(c Concept) (perPrompt []float64, mean float64) {
	unit := func(v []float32) []float64 {
		n := 0.0
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		n = math.Sqrt(n)
		if n == 0 {
			n = 1
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x) / n
		}
		return out
	}
	train := make([][]float64, len(c.Train))
	for i, v := range c.Train {
		train[i] = unit(v)
	}
	for _, pr := range c.Prompts {
		rows := make([]float64, len(train))
		for i, tv := range train {
			for _, gv := range pr {
				u := unit(gv)
				dot := 0.0
				for j := range u {
					dot += tv[j] * u[j]
				}
				rows[i] += dot
			}
			rows[i] /= float64(len(pr))
		}
		order := make([]int, len(rows))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return rows[order[a]] > rows[order[b]] })
		k := min(TopK, len(rows))
		s := 0.0
		for _, i := range order[:k] {
			s += rows[i]
		}
		perPrompt = append(perPrompt, s/float64(k))
		mean += s / float64(k)
	}
	return perPrompt, mean / float64(len(c.Prompts))
}

// Package planted builds MOD's planted experiment: a reference model
// fine-tuned (SFT) on uniformly random responses, and two models aligned
// from it by DPO (the kit's DPOLoss) to two synthetic objectives that reward
// different positions of the response — objective "first" wants 'a' in the
// first half, objective "second" wants 'b' in the second half — so that the
// best response for any weights mixes both, which no single model produces.
package planted

import (
	gocontext "context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Alphabet of the responses and their length.
const (
	Alphabet = "abcd"
	Length   = 4
)

// Prompts of the planted task: the objectives do not depend on them.
var Prompts = []string{"q0:", "q1:", "q2:", "q3:", "q4:", "q5:", "q6:", "q7:"}

func prompt(rng *rand.Rand) string { return Prompts[rng.IntN(len(Prompts))] }

// Objectives names the two planted objectives.
var Objectives = []string{"first", "second"}

// Rewards are the planted objectives' rewards of a response: the share of
// 'a' in its first half and of 'b' in its second half.
func Rewards(resp string) []float64 {
	r := []float64{0, 0}
	for i := 0; i < len(resp) && i < Length; i++ {
		switch {
		case i < Length/2 && resp[i] == 'a':
			r[0] += 2.0 / Length
		case i >= Length/2 && resp[i] == 'b':
			r[1] += 2.0 / Length
		}
	}
	return r
}

// Options of the planted experiment.
type Options struct {
	Settings ml.Settings // model and SFT training
	DPOSteps int
	DPOLR    float64
	Beta     float64
	Pairs    int // preference pairs per objective
	Seed     int64
}

// Paths are the trained model artifacts.
type Paths struct {
	Reference string
	Models    []string
	Merged    string // θ = ½θ₁ + ½θ₂
}

func randomResponse(rng *rand.Rand) string {
	b := make([]byte, Length)
	for i := range b {
		b[i] = Alphabet[rng.IntN(len(Alphabet))]
	}
	return string(b)
}

// Train trains the reference and the two aligned models into dir and
// merges the two at equal weights.
func Train(ctx gocontext.Context, backend backends.Backend, dir string, o Options, rep sdk.Reporter) (Paths, error) {
	p := Paths{Reference: filepath.Join(dir, "reference.safetensors"), Merged: filepath.Join(dir, "merged.safetensors")}
	if err := TrainSFT(ctx, backend, p.Reference, o, rep); err != nil {
		return p, err
	}
	for k, name := range Objectives {
		path := filepath.Join(dir, "model_"+name+".safetensors")
		if err := TrainDPO(ctx, backend, p.Reference, path, k, o, rep); err != nil {
			return p, err
		}
		p.Models = append(p.Models, path)
	}
	return p, ml.WeightedSum(ctx, p.Merged, p.Models, []float64{0.5, 0.5})
}

// TrainSFT fine-tunes a fresh model on uniformly random responses to the
// prompts: the reference, written to out.
func TrainSFT(ctx gocontext.Context, backend backends.Backend, out string, o Options, rep sdk.Reporter) error {
	tok := ml.ByteTokenizer{WithEOS: true}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 14))
	var sft []ml.SFTExample
	for range 1000 {
		ex, err := ml.EncodeSFT(tok, prompt(rng), randomResponse(rng), 0)
		if err != nil {
			return err
		}
		sft = append(sft, ex)
	}
	s := o.Settings
	cfg := s.ModelConfig(tok.VocabSize())
	m, err := ml.NewTransformer(cfg)
	if err != nil {
		return err
	}
	refCtx := context.New()
	ml.SetInitSeed(refCtx, o.Seed)
	batches, err := ml.NewSFTBatches(sft, ml.SFTOptions{Batch: s.Batch, Seq: s.Seq, EOS: tok.EOS(), VocabSize: tok.VocabSize(), Seed: o.Seed})
	if err != nil {
		return err
	}
	tc := s.TrainConfig()
	tc.ModelConfig = cfg
	tr, err := ml.NewTrainer(backend, refCtx, func(ctx *context.Context, b []*graph.Node) *graph.Node {
		return m.LMLoss(ctx, b[0], b[1], nil)
	}, tc, rep)
	if err != nil {
		return err
	}
	if _, err := tr.Train(ctx, batches, nil); err != nil {
		return fmt.Errorf("sft: %w", err)
	}
	return ml.SaveModel(out, refCtx, m, tok, map[string]string{"planted": "sft"})
}

// TrainDPO aligns a copy of the reference to objective k by DPO (reverse
// KL, β = o.Beta) on o.Pairs planted pairs and writes it to out.
func TrainDPO(ctx gocontext.Context, backend backends.Backend, refPath, out string, k int, o Options, rep sdk.Reporter) error {
	refCtx := context.New()
	ref, err := ml.LoadModel(backend, refPath, refCtx)
	if err != nil {
		return err
	}
	tok := ref.Tokenizer
	refSc, err := ref.NewScorer(backend, refCtx)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), uint64(100+k)))
	var pairs []ml.PairExample
	half := Length / 2
	for len(pairs) < o.Pairs {
		// The two responses differ only in the half the objective
		// scores: the other half carries no preference.
		a, b := randomResponse(rng), []byte(randomResponse(rng))
		if k == 0 {
			copy(b[half:], a[half:])
		} else {
			copy(b[:half], a[:half])
		}
		ra, rb := Rewards(a)[k], Rewards(string(b))[k]
		if ra == rb {
			continue
		}
		chosen, rejected := a, string(b)
		if rb > ra {
			chosen, rejected = rejected, chosen
		}
		ex, err := ml.EncodePair(tok, prompt(rng), chosen, rejected, 0)
		if err != nil {
			return err
		}
		pairs = append(pairs, ex)
	}
	s := o.Settings
	pb, err := ml.NewPairBatches(pairs, ml.PairOptions{Batch: s.Batch, Seq: s.Seq, EOS: tok.EOS(), VocabSize: tok.VocabSize(), Seed: o.Seed + int64(k)})
	if err != nil {
		return err
	}
	if err := pb.ScoreReference(refSc, 64, nil); err != nil {
		return err
	}
	polCtx := context.New()
	pol, err := ml.LoadModel(backend, refPath, polCtx)
	if err != nil {
		return err
	}
	dc := ml.TrainConfig{Steps: o.DPOSteps, LR: o.DPOLR, WarmupSteps: o.DPOSteps / 10, ModelConfig: ref.Config, ClipNorm: 1}
	dtr, err := ml.NewTrainer(backend, polCtx, pol.DPOLossFn(ml.DPOOptions{Divergence: ml.ReverseKL, Beta: o.Beta}), dc, rep)
	if err != nil {
		return err
	}
	if _, err := dtr.Train(ctx, pb, nil); err != nil {
		return fmt.Errorf("dpo %s: %w", Objectives[k], err)
	}
	return ml.SaveModel(out, polCtx, pol.Transformer, tok, map[string]string{"planted": "dpo " + Objectives[k]})
}

// Truth scores generations with the planted rewards (the response ends at
// EOS, which the tokenizer drops from the text).
func Truth(_ string, gen string) []float64 {
	return Rewards(strings.TrimSpace(gen))
}

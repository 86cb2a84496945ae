package pipeline

import (
	gocontext "context"
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/compo/internal/prefs"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// SFTResult is what supervised fine-tuning reports.
type SFTResult struct {
	FinalLoss float64
	Truncated int
	Cond      prefs.Conditioning
}

// SFT trains a new model on the chosen replies of pairs, each prompt
// conditioned on its community (or, for NoContextFraction of them, on none)
// as cond.Mode says, and writes it to out as one model artifact.
func SFT(goctx gocontext.Context, backend backends.Backend, pairs []prefs.Pair, mode string, o Train,
	out, version string, rep sdk.Reporter) (SFTResult, error) {
	cond := prefs.Conditioning{Mode: mode, Communities: prefs.Communities(pairs)}
	cfg := o.ModelConfig(tokenizer.VocabSize())
	// Windows hold seq+1 tokens (seq inputs), plus the prefix position.
	cfg.MaxSeqLen, cfg.QKNorm, cfg.PrefixVocab = o.Seq+2, true, cond.PrefixVocab()
	m, err := ml.NewTransformer(cfg)
	if err != nil {
		return SFTResult{}, err
	}
	community := contexts(pairs, o.NoContextFraction, o.Seed)
	examples := make([]ml.SFTExample, len(pairs))
	for i, p := range pairs {
		prompt, id, err := cond.Prompt(p, community[i])
		if err != nil {
			return SFTResult{}, err
		}
		if examples[i], err = ml.EncodeSFT(tokenizer, prompt, p.Chosen, id); err != nil {
			return SFTResult{}, fmt.Errorf("%s: %w", p.Source, err)
		}
	}
	batches, err := ml.NewSFTBatches(examples, ml.SFTOptions{Batch: o.Batch, Seq: o.Seq, EOS: tokenizer.EOS(),
		VocabSize: cfg.VocabSize, WithPrefix: cfg.PrefixVocab > 0, Seed: o.Seed})
	if err != nil {
		return SFTResult{}, err
	}
	if n := batches.Truncated(); n > 0 {
		rep.Logf("sft: %d of %d examples cut on the left to fit seq %d", n, len(examples), o.Seq)
	}
	ctx := context.New()
	ml.SetInitSeed(ctx, o.Seed)
	loss := func(ctx *context.Context, b []*graph.Node) *graph.Node {
		var prefix *graph.Node
		if len(b) > 2 {
			prefix = b[2]
		}
		return m.LMLoss(ctx, b[0], b[1], prefix)
	}
	tr, err := ml.NewTrainer(backend, ctx, loss, o.config(cfg), rep)
	if err != nil {
		return SFTResult{}, err
	}
	res, err := tr.Train(goctx, batches, nil)
	if err != nil {
		return SFTResult{}, err
	}
	if err := saveModel(out, ctx, m, cond, "sft", version); err != nil {
		return SFTResult{}, err
	}
	return SFTResult{FinalLoss: res.FinalLoss, Truncated: batches.Truncated(), Cond: cond}, nil
}

// DPOResult is what DPO training reports (the reward metrics of its last
// step).
type DPOResult struct {
	FinalLoss, Accuracy, Margin float64
	Truncated                   int
	Cond                        prefs.Conditioning
}

// DPO trains the SFT model at sftPath by f-DPO on pairs with π_ref = the
// SFT model (its log-probs computed once, before the first step, while the
// policy still equals it) and writes the policy to out.
func DPO(goctx gocontext.Context, backend backends.Backend, pairs []prefs.Pair, sftPath string, o Train, d ml.DPOOptions,
	out, version string, rep sdk.Reporter) (DPOResult, error) {
	pol, err := loadModel(backend, sftPath)
	if err != nil {
		return DPOResult{}, err
	}
	examples, err := encodePairs(pol.cond, pairs, contexts(pairs, o.NoContextFraction, o.Seed))
	if err != nil {
		return DPOResult{}, err
	}
	cfg := pol.Info.Config
	seq := min(o.Seq, cfg.MaxSeqLen-cfg.PrefixPositions())
	pb, err := ml.NewPairBatches(examples, ml.PairOptions{Batch: o.Batch, Seq: seq, EOS: tokenizer.EOS(),
		VocabSize: cfg.VocabSize, WithPrefix: cfg.PrefixVocab > 0, Seed: o.Seed})
	if err != nil {
		return DPOResult{}, err
	}
	if n := pb.Truncated(); n > 0 {
		rep.Logf("dpo: %d of %d pairs cut to fit seq %d", n, pb.Len(), seq)
	}
	sc, err := pol.scorer()
	if err != nil {
		return DPOResult{}, err
	}
	if err := pb.ScoreReference(sc, 4*o.Batch, func(done, total int) {
		rep.Progress("reference log-probs", int64(done), int64(total), "rows")
	}); err != nil {
		return DPOResult{}, err
	}
	w := newWatch(rep)
	tr, err := ml.NewTrainer(backend, pol.ctx, pol.DPOLossFn(d), o.config(cfg), w)
	if err != nil {
		return DPOResult{}, err
	}
	res, err := tr.Train(goctx, pb, nil)
	if err != nil {
		return DPOResult{}, err
	}
	if err := saveModel(out, pol.ctx, pol.Transformer, pol.cond, "dpo", version); err != nil {
		return DPOResult{}, err
	}
	return DPOResult{FinalLoss: res.FinalLoss, Accuracy: w.get("train/rewards/accuracy"),
		Margin: w.get("train/rewards/margin"), Truncated: pb.Truncated(), Cond: pol.cond}, nil
}

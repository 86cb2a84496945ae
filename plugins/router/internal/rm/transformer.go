package rm

import (
	gocontext "context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// TransformerConfig sizes the sdk/ml representation model.
type TransformerConfig struct {
	DModel, Heads, Layers int
	SeqLen                int // bytes per window and per encoded response
	Steps, Batch          int // LM pretraining
	LR                    float64
	Seed                  int64
}

// DefaultTransformer is a CPU-sized byte-level model.
func DefaultTransformer() TransformerConfig {
	return TransformerConfig{DModel: 64, Heads: 4, Layers: 2, SeqLen: 128, Steps: 200, Batch: 16, LR: 3e-3, Seed: 1}
}

// TransformerRepresent is the sdk/ml alternative to the hashed bag of words:
// it pretrains a small byte-level causal transformer (sdk/ml) on the texts
// themselves — a language-modelling objective, no preference labels, so
// every mixture's RM shares one representation — and represents each text by
// the mean of its final hidden states over its first SeqLen bytes,
// L2-normalised. Returns row-major len(texts) × DModel.
func TransformerRepresent(goctx gocontext.Context, backend backends.Backend, texts []string, cfg TransformerConfig, rep sdk.Reporter) ([]float32, error) {
	tok := ml.ByteTokenizer{WithEOS: true}
	model, err := ml.NewTransformer(ml.Config{VocabSize: tok.VocabSize(), DModel: cfg.DModel, NumHeads: cfg.Heads,
		NumLayers: cfg.Layers, MaxSeqLen: cfg.SeqLen})
	if err != nil {
		return nil, fmt.Errorf("representation transformer: %w", err)
	}
	encoded := make([][]int32, len(texts))
	var stream []int32
	for i, t := range texts {
		ids, err := tok.Encode(t)
		if err != nil {
			return nil, fmt.Errorf("text %d: %w", i, err)
		}
		encoded[i] = ids
		stream = append(append(stream, ids...), tok.EOS())
	}
	windows, err := ml.NewLMWindows(stream, cfg.Batch, cfg.SeqLen, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("representation transformer: %w", err)
	}
	ctx := context.New()
	ml.SetInitSeed(ctx, cfg.Seed)
	loss := func(ctx *context.Context, batch []*Node) *Node { return model.LMLoss(ctx, batch[0], nil, nil) }
	tr, err := ml.NewTrainer(backend, ctx, loss, ml.TrainConfig{Steps: cfg.Steps, LR: cfg.LR, WarmupSteps: cfg.Steps / 10, ClipNorm: 1}, rep)
	if err != nil {
		return nil, err
	}
	res, err := tr.Train(goctx, windows, nil)
	if err != nil {
		return nil, fmt.Errorf("representation transformer pretraining: %w", err)
	}
	if rep != nil {
		rep.Logf("router: representation transformer pretrained %d steps, final LM loss %.3f", cfg.Steps, res.FinalLoss)
	}
	// Encoding: right-padded byte windows; the model is causal, so padding
	// after a text cannot change its hidden states, and the mask drops the
	// padded positions from the mean.
	enc, err := context.NewExec(backend, ctx, func(ctx *context.Context, tokens, mask *Node) *Node {
		h := model.Forward(ctx, ml.Inputs{Tokens: tokens}).Hidden // [B,S,D]
		m := ExpandAxes(mask, -1)
		return Div(ReduceSum(Mul(h, m), 1), ReduceSum(m, 1))
	})
	if err != nil {
		return nil, err
	}
	const batch = 256
	d, s := cfg.DModel, cfg.SeqLen
	out := make([]float32, len(texts)*d)
	for start := 0; start < len(texts); start += batch {
		if err := goctx.Err(); err != nil {
			return nil, err
		}
		toks := make([]int32, batch*s)
		mask := make([]float32, batch*s)
		for b := 0; b < batch && start+b < len(texts); b++ {
			ids := encoded[start+b]
			if len(ids) == 0 {
				ids = []int32{tok.EOS()}
			}
			n := min(len(ids), s)
			copy(toks[b*s:], ids[:n])
			for j := 0; j < n; j++ {
				mask[b*s+j] = 1
			}
		}
		for b := range batch { // fully padded rows: keep the mean finite
			if mask[b*s] == 0 {
				mask[b*s] = 1
			}
		}
		pooled, err := enc.Exec(tensors.FromFlatDataAndDimensions(toks, batch, s), tensors.FromFlatDataAndDimensions(mask, batch, s))
		if err != nil {
			return nil, fmt.Errorf("encoding with the representation transformer: %w", err)
		}
		vals := tensors.MustCopyFlatData[float32](pooled[0])
		for b := 0; b < batch && start+b < len(texts); b++ {
			row := vals[b*d : (b+1)*d]
			var norm float64
			for _, v := range row {
				norm += float64(v) * float64(v)
			}
			inv := float32(1 / math.Max(math.Sqrt(norm), 1e-12))
			for j, v := range row {
				out[(start+b)*d+j] = v * inv
			}
		}
	}
	return out, nil
}

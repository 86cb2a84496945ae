package videoqa

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/planted"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/protocol"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// TrainOptions of the planted training.
type TrainOptions struct {
	Model  TinyConfig
	Train  ml.TrainConfig
	Batch  int
	Counts []int // frame counts, cycled batch by batch: the model learns to answer from any of them
	Seed   uint64
	Report sdk.Reporter
}

// PlantedExamples renders planted items as examples with k frames sampled
// by count, choices in the item's order.
func PlantedExamples(items []planted.Item, k int) ([]Example, error) {
	out := make([]Example, len(items))
	for i, it := range items {
		idx, err := protocol.SampleByCount(it.Clip.T, k)
		if err != nil {
			return nil, err
		}
		fr, err := it.Clip.Select(idx)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(it.Choices))
		for j, c := range it.Choices {
			names[j] = planted.ClassNames[c]
		}
		q := Query{Indices: idx, ClipFrames: it.Clip.T}
		out[i] = Example{Frames: fr, Times: q.Times(), Choices: names, Answer: it.Answer}
	}
	return out, nil
}

// Train trains a fresh Tiny on freshly generated planted clips (batch i is
// a pure function of the seed and i, so resuming is exact) and returns it
// with its last training loss.
func Train(ctx context.Context, backend backends.Backend, gctx *gomlxctx.Context, o TrainOptions) (*Tiny, float64, error) {
	m, err := NewTiny(o.Model)
	if err != nil {
		return nil, 0, err
	}
	if len(o.Counts) == 0 {
		return nil, 0, fmt.Errorf("no training frame counts")
	}
	batches := ml.BatchFunc(func(i int) ([]*tensors.Tensor, error) {
		items, err := planted.Generate(o.Seed*1_000_003+uint64(i)+1, o.Batch, o.Model.Size)
		if err != nil {
			return nil, err
		}
		ex, err := PlantedExamples(items, o.Counts[i%len(o.Counts)])
		if err != nil {
			return nil, err
		}
		return m.Tensors(ex)
	})
	tc := o.Train
	tc.ModelConfig = o.Model
	tr, err := ml.NewTrainer(backend, gctx, m.Loss, tc, o.Report)
	if err != nil {
		return nil, 0, err
	}
	res, err := tr.Train(ctx, batches, nil)
	if err != nil {
		return nil, 0, err
	}
	return m, res.FinalLoss, nil
}

package model

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/vlm/internal/planted"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// TestImagePathReachesAnswer checks the image path end to end, the way a
// VLM that ignores its image would fail:
//   - untrained: the answer logits change when the image tokens are zeroed
//     (they reach the <im_patch> slots before the answer, unmasked), and
//     the image tokens are not drowned by the token embeddings;
//   - trained on 8 planted pointing examples with one identical prompt, the
//     model memorises their coordinates — possible only through the image —
//     so the loss with each example's own image falls well below the loss
//     with the images rolled by one across the batch.
func TestImagePathReachesAnswer(t *testing.T) {
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	m, err := New(Config{Tiling: small, FeatureLayers: [2]int{1, 0}, PoolHeads: 2, ProjHidden: 64,
		ViT: ml.Config{DModel: 32, NumHeads: 2, NumLayers: 2, MaxSeqLen: 64, EncoderOnly: true, Bidirectional: true, NoRoPE: true},
		LM:  ml.Config{VocabSize: Tokenizer().VocabSize(), DModel: 64, NumHeads: 2, NumLayers: 2, MaxSeqLen: 160}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := planted.Generate(planted.Options{Images: 9, Size: 32, MinObjects: 1, MaxObjects: 1, Shapes: []string{"circle"},
		Colors: []string{"red"}, Radius: 0.15, Noise: 0.3, TestShare: 0.1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var own []Example
	for _, e := range d.Examples {
		if e.Task == "point" && len(own) < 8 {
			own = append(own, Example{Image: Image{H: 32, W: 32, Pix: d.Pixels[e.Image*32*32*3 : (e.Image+1)*32*32*3]}, Prompt: e.Prompt, Answer: e.Answer})
		}
	}
	if len(own) != 8 || own[0].Prompt != own[7].Prompt || own[0].Answer == own[1].Answer {
		t.Fatalf("want 8 pointing examples with one prompt and different answers, got %d", len(own))
	}
	rolled := make([]Example, len(own))
	for i := range own {
		rolled[i] = own[i]
		rolled[i].Image = own[(i+1)%len(own)].Image
	}
	l, err := m.Layout(32, 32)
	if err != nil {
		t.Fatal(err)
	}
	toks, _, err := m.Encode(l, own[0].Prompt, own[0].Answer)
	if err != nil {
		t.Fatal(err)
	}
	seq := len(toks) + 8
	bOwn, err := m.Batch(l, own, seq)
	if err != nil {
		t.Fatal(err)
	}
	bRolled, err := m.Batch(l, rolled, seq)
	if err != nil {
		t.Fatal(err)
	}
	root := context.New()
	ml.SetInitSeed(root, 3)
	ctx := root.In(Root)

	// Untrained: answer logits with the image tokens vs with zeros there.
	probe := context.MustNewExec(backend, ctx, func(ctx *context.Context, b []*graph.Node) []*graph.Node {
		img := m.ImageTokens(ctx, b[0], b[1], b[2], b[6])
		emb := PlaceTokens(img, b[3])
		in := graph.Slice(b[4], graph.AxisRange(), graph.AxisRange(0, seq))
		with := m.LM.Forward(ctx.In(LMScope), ml.Inputs{Tokens: in, Embeddings: emb}).Logits
		without := m.LM.Forward(ctx.In(LMScope), ml.Inputs{Tokens: in, Embeddings: graph.ZerosLike(emb)}).Logits
		// Mean |Δ logit| over the answer positions (the inputs that predict
		// weighted targets).
		w := graph.ConvertDType(graph.Slice(b[5], graph.AxisRange(), graph.AxisRange(1, seq+1)), with.DType())
		diff := graph.ReduceSum(graph.Abs(graph.Sub(with, without)), -1)
		n := float64(with.Shape().Dim(-1))
		meanDiff := graph.DivScalar(graph.Div(graph.ReduceAllSum(graph.Mul(diff, w)), graph.ReduceAllSum(w)), n)
		rms := graph.Sqrt(graph.ReduceAllMean(graph.Square(img)))
		return []*graph.Node{meanDiff, rms}
	})
	out := probe.MustExec(tensorsAny(bOwn)...)
	meanDiff, imgRMS := float64(out[0].Value().(float32)), float64(out[1].Value().(float32))
	tokRMS := 0.0
	for _, v := range ml.VariablesUnder(root, "/"+Root+"/"+LMScope) {
		if v.Name() == "table" {
			tv, err := v.Value()
			if err != nil {
				t.Fatal(err)
			}
			x, _ := tensors.CopyFlatData[float32](tv)
			for _, f := range x {
				tokRMS += float64(f) * float64(f)
			}
			tokRMS = math.Sqrt(tokRMS / float64(len(x)))
		}
	}
	t.Logf("untrained: mean |Δ logit| at the answer, image vs zeros: %.3g; image-token rms %.3g, token-embedding rms %.3g", meanDiff, imgRMS, tokRMS)
	if meanDiff < 1e-3 {
		t.Errorf("the answer's logits barely depend on the image tokens: mean |Δ| %.3g", meanDiff)
	}
	if tokRMS == 0 || imgRMS < 0.1*tokRMS {
		t.Errorf("image tokens (rms %.3g) drowned by the token embeddings (rms %.3g)", imgRMS, tokRMS)
	}

	// Trained: memorise 8 images' coordinates.
	const steps = 90
	tr, err := ml.NewTrainer(backend, ctx, m.Loss, ml.TrainConfig{Steps: steps, LR: 0.003, WarmupSteps: 5, MinLRRatio: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fixed := ml.BatchFunc(func(int) ([]*tensors.Tensor, error) { return bOwn, nil })
	for s := 1; s <= steps; s++ {
		if _, err := tr.Step(s, fixed); err != nil {
			t.Fatal(err)
		}
	}
	// Scored on the x coordinate's characters only: given x, the rest of a
	// memorised answer follows from the teacher-forced text alone.
	xOnly := func(b []*tensors.Tensor, exs []Example) []*tensors.Tensor {
		w := make([]float32, len(exs)*(seq+1))
		for i, e := range exs {
			at := len(l.Tokens) + len(e.Prompt) + strings.Index(e.Answer, `x="`) + 3
			for k := at; e.Answer[k-len(l.Tokens)-len(e.Prompt)] != '"'; k++ {
				w[i*(seq+1)+k] = 1
			}
		}
		out := append([]*tensors.Tensor{}, b...)
		out[5] = tensors.FromFlatDataAndDimensions(w, len(exs), seq+1)
		return out
	}
	lOwn, err := tr.Evaluate([][]*tensors.Tensor{xOnly(bOwn, own)})
	if err != nil {
		t.Fatal(err)
	}
	lRolled, err := tr.Evaluate([][]*tensors.Tensor{xOnly(bRolled, rolled)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d steps on 8 images: loss of the x coordinate %.4f with their own images, %.4f with the images rolled by one", steps, lOwn, lRolled)
	if !(lOwn < 0.5*lRolled) {
		t.Errorf("the model did not learn to read the image: loss %.4f own vs %.4f rolled images", lOwn, lRolled)
	}
}

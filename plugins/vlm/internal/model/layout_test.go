package model

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/tiling"
)

var small = tiling.Config{Crop: 32, Patch: 4, LeftMargin: 2, RightMargin: 2, MaxCrops: 12}

// TestLayoutSingleCrop: a 32×32 image is one crop, no global view, 4×4
// pooled windows: Molmo's layout is <im_start> (4 × <im_patch>, <im_col>)×4
// <im_end>, and the windows read each of the 64 patches once.
func TestLayoutSingleCrop(t *testing.T) {
	tok := Tokenizer()
	l, err := NewLayout(small, tok, 64, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	if l.Global || l.Crops != 1 || l.Pooled != 16 || len(l.Tokens) != 22 {
		t.Fatalf("layout: global %v crops %d pooled %d tokens %d", l.Global, l.Crops, l.Pooled, len(l.Tokens))
	}
	want := "<im_start>"
	for range 4 {
		want += "<im_patch><im_patch><im_patch><im_patch><im_col>"
	}
	want += "<im_end>"
	if got := tok.Decode(l.Tokens); got != want {
		t.Errorf("tokens %q\nwant   %q", got, want)
	}
	seen := map[int32]int{}
	for _, r := range l.Pool {
		seen[r]++
	}
	if len(seen) != 64 {
		t.Errorf("windows read %d distinct patches, want 64", len(seen))
	}
	// Window 0 is patches (0,0) (0,1) (1,0) (1,1) of the 8×8 grid.
	if got := l.Pool[:4]; got[0] != 0 || got[1] != 1 || got[2] != 8 || got[3] != 9 {
		t.Errorf("first window rows %v, want [0 1 8 9]", got)
	}
	for i, f := range l.Frac {
		if f != 1 {
			t.Fatalf("patch %d of an unpadded image has image share %v", i, f)
		}
	}
}

// TestLayoutMultiCrop: a 48×64 image needs several crops; a global view
// comes first; the tiles' kept patches cover the resized image exactly once;
// padding shares are 0 outside the placed image and fractional at its edge.
func TestLayoutMultiCrop(t *testing.T) {
	tok := Tokenizer()
	l, err := NewLayout(small, tok, 64, 40, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Global || l.Crops != 1+l.Tiling.Crops() || l.Tiling.Crops() < 2 {
		t.Fatalf("layout %+v", l.Tiling)
	}
	n := 8
	per := n * n
	gh, gw := l.Tiling.ResizedH/4, l.Tiling.ResizedW/4
	if l.Pooled != per/4+gh*gw/4 {
		t.Errorf("pooled %d, want %d global + %d tiled", l.Pooled, per/4, gh*gw/4)
	}
	tiled := map[int32]bool{}
	for _, r := range l.Pool[per:] { // after the global view's 16 windows × 4
		if r < int32(per) {
			t.Fatalf("a tiled window reads global patch %d", r)
		}
		if tiled[r] {
			t.Fatalf("patch row %d read twice", r)
		}
		tiled[r] = true
	}
	if len(tiled) != gh*gw {
		t.Errorf("tiled windows read %d patches, want %d", len(tiled), gh*gw)
	}
	var full, none, partial int
	for _, f := range l.Frac {
		switch {
		case f == 1:
			full++
		case f == 0:
			none++
		default:
			partial++
		}
	}
	if full == 0 || none == 0 {
		t.Errorf("a 40×64 image padded to a square canvas: %d full, %d padded, %d partial patches", full, none, partial)
	}
	crops := l.AppendCrops(nil, Image{H: 40, W: 64, Pix: make([]uint8, 40*64*3)}, 32)
	if len(crops) != l.Crops*32*32*3 {
		t.Errorf("crops: %d floats, want %d", len(crops), l.Crops*32*32*3)
	}
	if CheckTiling(tiling.Config{Crop: 28, Patch: 4, LeftMargin: 2, RightMargin: 2, MaxCrops: 4}) == nil {
		t.Error("7 patches a crop (odd) accepted")
	}
}

// TestModelShapesAndArtifact builds a tiny model, runs the loss on a batch
// of two 40×64 images (multi-crop), saves and reloads it and checks the
// reloaded model gives the same loss.
func TestModelShapesAndArtifact(t *testing.T) {
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	tok := Tokenizer()
	cfg := Config{Tiling: small, FeatureLayers: [2]int{1, 0}, PoolHeads: 2, ProjHidden: 16,
		ViT: ml.Config{DModel: 16, NumHeads: 2, NumLayers: 2, MaxSeqLen: 64, EncoderOnly: true, Bidirectional: true, NoRoPE: true},
		LM:  ml.Config{VocabSize: tok.VocabSize(), DModel: 16, NumHeads: 2, NumLayers: 1, MaxSeqLen: 256}}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Layout(40, 64)
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]uint8, 40*64*3)
	for i := range pix {
		pix[i] = uint8(i * 7)
	}
	img := Image{H: 40, W: 64, Pix: pix}
	exs := []Example{{Image: img, Prompt: "Point to the dot.", Answer: `<point x="10.0" y="20.0" alt="dot">dot</point>`}, {Image: img, Prompt: "Hi", Answer: "There are none."}}
	toks, _, err := m.Encode(l, exs[0].Prompt, exs[0].Answer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := m.Batch(l, exs, len(toks)-1)
	if err != nil {
		t.Fatal(err)
	}
	loss := func(ctx *context.Context) float64 {
		e := context.MustNewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node { return m.Loss(ctx, in) })
		out := e.MustExec(tensorsAny(batch)...)[0]
		return float64(out.Value().(float32))
	}
	root := context.New()
	ml.SetInitSeed(root, 5)
	before := loss(root.In(Root))
	if before < 4 || before > 7 { // ≈ ln 262 for an untrained model
		t.Errorf("untrained loss %v, want ≈ ln(262) = 5.6", before)
	}
	path := t.TempDir() + "/vlm.safetensors"
	if err := m.Save(path, root.In(Root), map[string]string{"plugin": "test"}); err != nil {
		t.Fatal(err)
	}
	fresh := context.New()
	m2, meta, err := Load(path, fresh.In(Root))
	if err != nil {
		t.Fatal(err)
	}
	if meta["plugin"] != "test" || m2.Config != m.Config {
		t.Errorf("reloaded config %+v, meta %v", m2.Config, meta)
	}
	if after := loss(fresh.In(Root)); after != before {
		t.Errorf("reloaded model's loss %v, saved model's %v", after, before)
	}
	a, err := m2.NewAnswerer(backend, fresh.In(Root))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := a.Answer(l, exs, 4)
	if err != nil || len(ans) != 2 {
		t.Errorf("answers %q, %v", ans, err)
	}
	if _, err := m.Batch(l, exs, 10); err == nil {
		t.Error("a window shorter than the example was accepted")
	}
}

func tensorsAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// TestDecodingMatchesTraining checks the two paths from an example to the
// LM's inputs: the training window (image tokens ‖ prompt, the pooled
// tokens placed at the <im_patch> slots) and greedy decoding (the same
// context with the pooled tokens as input embeddings). The first greedy
// token must be the one the training path's logits rank first after the
// prompt; a misplaced image token changes it.
func TestDecodingMatchesTraining(t *testing.T) {
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	tok := Tokenizer()
	m, err := New(Config{Tiling: small, FeatureLayers: [2]int{1, 0}, PoolHeads: 2, ProjHidden: 16,
		ViT: ml.Config{DModel: 16, NumHeads: 2, NumLayers: 2, MaxSeqLen: 64, EncoderOnly: true, Bidirectional: true, NoRoPE: true},
		LM:  ml.Config{VocabSize: tok.VocabSize(), DModel: 16, NumHeads: 2, NumLayers: 2, MaxSeqLen: 256}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Layout(32, 32)
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]uint8, 32*32*3)
	for i := range pix {
		pix[i] = uint8(i * 13)
	}
	ex := Example{Image: Image{H: 32, W: 32, Pix: pix}, Prompt: "Point to the dot.", Answer: "x"}
	p, _ := tok.Encode(ex.Prompt)
	want := append(append([]int32{}, l.Tokens...), p...)
	seq := len(want) + 2
	b, err := m.Batch(l, []Example{ex}, seq)
	if err != nil {
		t.Fatal(err)
	}
	win, _ := tensors.CopyFlatData[int32](b[4])
	if diff := cmp.Diff(want, win[:len(want)]); diff != "" {
		t.Errorf("window before the answer (-want +got):\n%s", diff)
	}
	root := context.New()
	ml.SetInitSeed(root, 7)
	ctx := root.In(Root)
	logits := context.MustNewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node {
		img := m.ImageTokens(ctx, in[0], in[1], in[2], in[6])
		w := graph.Slice(in[4], graph.AxisRange(), graph.AxisRange(0, seq))
		return m.LM.Forward(ctx.In(LMScope), ml.Inputs{Tokens: w, Embeddings: PlaceTokens(img, in[3])}).Logits
	}).MustExec(tensorsAny(b)...)[0].Value().([][][]float32)[0][len(want)-1]
	best := 0
	for v := range logits {
		if logits[v] > logits[best] {
			best = v
		}
	}
	a, err := m.NewAnswerer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := a.Answer(l, []Example{ex}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Decode([]int32{int32(best)}); ans[0] != got {
		t.Errorf("greedy decoding answered %q, the training path ranks %q (token %d) first", ans[0], got, best)
	}
}

package gpubench

import (
	"math"
	"testing"
)

// TestTrainFLOPsPerToken checks the count at GPT-2 small's shape: 12 layers
// of d 768 hold 85M weights besides the embedding; with the 50257×768 head
// and attention at seq 1024 a training step costs 6·(85M + 39M) +
// 12·12·1024·768 ≈ 0.51 + 0.23 + 0.11 GFLOP per token. An MoE counts only
// its active experts (plus the router).
func TestTrainFLOPsPerToken(t *testing.T) {
	// A plain 4·d MLP is 2·d·4d; SwiGLU's three matrices at d_ff = 8d/3 match it.
	gpt2 := Shape{Layers: 12, DModel: 768, Seq: 1024, Vocab: 50257, DFF: 2048}
	got := gpt2.TrainFLOPsPerToken()
	want := 6*(12*(4*768*768+3*768*2048)+768*50257) + 12*12*1024*768.0
	if math.Abs(got-want) > 1 || got < 0.8e9 || got > 0.9e9 {
		t.Errorf("GPT-2 small: %.4g FLOPs/token, want %.4g (≈ 0.85 GFLOP)", got, want)
	}
	moe := Shape{Layers: 8, DModel: 1024, Seq: 1024, Vocab: 256, Experts: 64, TopK: 8, ExpertHid: 1024}
	dense := Shape{Layers: 8, DModel: 1024, Seq: 1024, Vocab: 256, DFF: 8 * 1024}
	if d := moe.TrainFLOPsPerToken() - dense.TrainFLOPsPerToken(); d != 6*8*1024*64 {
		t.Errorf("MoE minus the dense model of its active width = %g, want the router's 6·L·d·E", d)
	}
	if MFU(1e9, 4e5, 800) != 0.5 || MFU(1, 1, 0) != 0 {
		t.Error("MFU arithmetic")
	}
}

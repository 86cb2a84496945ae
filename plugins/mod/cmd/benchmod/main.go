// Command benchmod times MOD decoding of K models (greedy, reverse KL: the
// K policies advance in lockstep, one KV cache each) against decoding the
// same prompts with each single model alone (the kit's Decoder.Generate,
// one prompt at a time as MOD does), for K = 2 and 3 on randomly
// initialised byte-level transformers. The last line is
//
//	bench-mod: tok_s=N single_tok_s=N overhead=X models=K backend=NAME
//
// for the largest K, with overhead = MOD time ÷ (K × single-model time):
// 1.0 means lockstep costs nothing beyond running the K models.
package main

import (
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/mod/internal/combine"
	"github.com/shammie-ml/shammie/plugins/mod/internal/lockstep"
	"github.com/shammie-ml/shammie/sdk/ml"
)

func main() {
	backendName := flag.String("backend", "go", "backend (go, xla:cuda with -tags xla)")
	dModel := flag.Int("d_model", 128, "model width")
	layers := flag.Int("layers", 2, "layers")
	prompts := flag.Int("prompts", 8, "prompts decoded (one at a time)")
	newTokens := flag.Int("new_tokens", 64, "tokens generated per prompt")
	flag.Parse()
	backend, err := ml.OpenBackend(*backendName)
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Finalize()
	tok := ml.ByteTokenizer{}
	cfg := ml.Config{VocabSize: tok.VocabSize(), DModel: *dModel, NumHeads: 4, NumLayers: *layers, MaxSeqLen: 32 + *newTokens}
	var decs []*ml.Decoder
	for seed := range int64(3) {
		m, err := ml.NewTransformer(cfg)
		if err != nil {
			log.Fatal(err)
		}
		ctx := context.New()
		ml.SetInitSeed(ctx, seed+1)
		d, err := m.NewDecoder(backend, ctx)
		if err != nil {
			log.Fatal(err)
		}
		decs = append(decs, d)
	}
	ps := make([][]int32, *prompts)
	for i := range ps {
		ps[i], _ = tok.Encode(fmt.Sprintf("prompt number %d: tell me", i))
	}
	// Warm-up: compile every graph once.
	for _, d := range decs {
		if _, err := d.Generate(ps[:1], ml.DecodeOptions{MaxNewTokens: 2}); err != nil {
			log.Fatal(err)
		}
	}
	single := func(d *ml.Decoder) time.Duration {
		t0 := time.Now()
		for _, p := range ps {
			if _, err := d.Generate([][]int32{p}, ml.DecodeOptions{MaxNewTokens: *newTokens}); err != nil {
				log.Fatal(err)
			}
		}
		return time.Since(t0)
	}
	var last string
	for _, k := range []int{2, 3} {
		var singleT time.Duration
		for _, d := range decs[:k] {
			singleT += single(d)
		}
		w := make([]float64, k)
		for i := range w {
			w[i] = 1 / float64(k)
		}
		opt := lockstep.Options{Rule: combine.Rule{Div: combine.ReverseKL}, Weights: w, MaxNewTokens: 2, Beams: 1}
		if _, err := lockstep.Decode(lockstep.Models{Policies: decs[:k]}, ps[0], opt); err != nil { // warm-up
			log.Fatal(err)
		}
		t0 := time.Now()
		for _, p := range ps {
			if _, err := lockstep.Decode(lockstep.Models{Policies: decs[:k]}, p, lockstep.Options{
				Rule: combine.Rule{Div: combine.ReverseKL}, Weights: w, MaxNewTokens: *newTokens, Beams: 1}); err != nil {
				log.Fatal(err)
			}
		}
		modT := time.Since(t0)
		toks := float64(len(ps) * *newTokens)
		last = fmt.Sprintf("bench-mod: tok_s=%.1f single_tok_s=%.1f overhead=%.3f models=%d backend=%s",
			toks/modT.Seconds(), toks*float64(k)/singleT.Seconds(), modT.Seconds()/singleT.Seconds(), k, *backendName)
		fmt.Println(last)
	}
}

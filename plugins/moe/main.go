// Command shammie-plugin-moe trains a sparse mixture-of-experts byte-level
// language model (the sdk/ml transformer with OLMoE's MoE feed-forward:
// bias-free softmax router, top-k, dropless SwiGLU experts, load-balancing
// and router z-losses) on labelled text domains, and runs OLMoE's routing
// analyses: domain and vocabulary specialisation, router saturation,
// expert co-activation, expert load over training.
//
// Modes:
//   - generate: write the planted two-domain corpus (Markov chains over the
//     two halves of the byte range) as one file per domain.
//   - train: train on domain files and write the model, the analyses, the
//     specialisation table (beside OLMoE-1B-7B's when a reference is given)
//     and the plots.
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(plugin{}) }

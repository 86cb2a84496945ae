// Command shammie-plugin-vlm is a Molmo-style vision-language model with
// 2-D pointing (Deitke et al. 2024): a ViT over multi-crop tiles, a
// connector that pools 2×2 patch windows with attention and projects them
// into a decoder LM, caption pre-training then a mixture with pointing and
// counting, scored with Molmo's PointingEval.
//
// Modes:
//   - generate: planted images (shapes on noise, exact masks), captions,
//     pointing and counting questions.
//   - train: stage 1 captions, stage 2 the mixture; the model artifact and
//     held-out pointing F1 / counting accuracy beside the baselines.
//   - evaluate: score a model artifact on a bundle's held-out questions.
//   - ask: answer prompts about user PNG/JPEG images from a manifest.
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(plugin{}) }

// Command shammie-plugin-router routes preference instances to human or LM
// annotators under a budget (HyPER: Miranda et al. 2024, "Hybrid
// Preferences: Learning to Route Instances for Human vs. AI Feedback").
//
// Modes:
//   - generate: write a planted data set (latent gold; LM labels accurate
//     except on a planted subject; humans uniformly noisier).
//   - route: sample knapsack label mixtures, train a Bradley–Terry reward
//     model per mixture (batched in one GoMLX graph), fit the quadratic
//     performance prediction model (PPM), route at each budget (topk and
//     simulated) and measure the routings against all-human, all-LM and
//     random routing at the same budget.
//   - ppm: fit the PPM on existing proxy-RM result rows (the reference's
//     proxy_rm_validation_set_features_rewardbench.jsonl) and report its
//     held-out RMSE and learning curve.
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(plugin{}) }

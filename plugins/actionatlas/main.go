// Command shammie-plugin-actionatlas is an ActionAtlas-style video MCQA
// harness (Salehi et al. 2024): the reference's frame sampling (by count or
// fps), prompts, answer parsing and bootstrap interval over clips stored
// as frame sequences, and a tiny video-QA model built from the sdk/ml
// encoder.
//
// Modes:
//   - planted: train the tiny model on planted clips whose classes differ
//     only in motion order, one model per seed, and measure accuracy
//     against frames sampled (1 frame: chance; 8: ≈ 100 %), drawn beside
//     the ActionAtlas leaderboard.
//   - eval: run the protocol with a tiny model over ActionAtlas-layout
//     metadata and clips.
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(plugin{}) }

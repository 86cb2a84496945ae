// Command shammie-plugin-fit is the Shammie plugin for FIT / MIMETIC²
// ("How Many Van Goghs Does It Take to Hang a Painting? Finding the
// Imitation Threshold", Verma et al. 2024): it sorts concepts by their
// training-image count, scores how closely a text-to-image model imitates
// each (given, or computed from embeddings in one GoMLX graph), and places
// the imitation threshold at the first PELT change point of score against
// count, with a bootstrap interval. Its "generate" mode makes a demo
// embedding set with a planted onset.
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(&Plugin{}) }

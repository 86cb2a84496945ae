// Command shammie-plugin-mcqa localises where a transformer decides the
// answer symbol of a multiple-choice question (Wiegreffe et al. 2024,
// "Answer, Assemble, Ace"): the logit lens of the residual stream,
// attention output, MLP output and each head at the last token, and
// activation patching of base/contrast pairs layer by layer.
//
// Modes:
//   - planted: train a small model whose answer can only pass through the
//     last-position attention output of one known layer L*, write it, and
//     probe it: the plugin's decisive_layer must come out as L*.
//   - probe: probe a model artifact (byte tokenizer) on the Colors task
//     (memory_colors.csv) or on planted questions.
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(plugin{}) }

// Command shammie-plugin-merge is the Shammie plugin for model merging
// ("Merge to Learn: Efficiently Adding Skills to Language Models with Model
// Merging", Morrison et al. 2024): train a skill on the base model alone,
// then merge it into the general model. Its "merge" mode streams
// checkpoints of one architecture through linear averaging, task
// arithmetic, TIES, DARE or WiSE-FT, with given or swept weights or the
// paper's |D|/|G| heuristic, holding one tensor per input in memory.
// "report" reproduces the paper's Table 2 and trade-off curves from the
// authors' results table; "generate" writes checkpoints with planted task
// vectors and a known ideal merge.
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(&Plugin{}) }

// Command shammie-plugin-compo is ComPO (Kumar, Park et al. 2024, "ComPO:
// Community Preferences for Language Model Personalization"): a language
// model personalised to communities by supervised fine-tuning on the replies
// each community preferred, then DPO (β = 0.1, π_ref = the SFT model), with
// the community in the prompt — as text (the reference's template) or as
// the kit's learned prefix id. Evaluation conditions on the true community,
// on none and on a random one, on planted communities with a known answer
// or on real preference data (ComPRed, HH-RLHF).
//
//	main.go               this doc comment and sdk.Serve
//	plugin.go             version, config, schema, Metadata/Schema/ValidateConfig/Run
//	internal/pipeline     the modes: sft, dpo, eval (and generate's wiring)
//	internal/prefs        pair layouts, ComPRed filtering, split, conditioning
//	internal/planted      planted communities with mutually exclusive tastes
//	VERSION, CHANGELOG.md the plugin's version (stamped at build) and history
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(&Plugin{}) }

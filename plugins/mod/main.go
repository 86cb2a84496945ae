// Command shammie-plugin-mod is MOD, multi-objective decoding (Shi et al.
// 2024, "Decoding-time language model alignment with multiple objectives"):
// K models, each aligned to one objective under one f-divergence from a
// common reference, are combined at decoding time for any weights w on the
// simplex, π_w = π_ref·(f′)⁻¹(Σ wᵢ f′(πᵢ/π_ref) − Z), every model decoding
// in lockstep with its own KV cache.
//
//	main.go               this doc comment and sdk.Serve, nothing else
//	plugin.go             version, config, schema, Metadata/Schema/ValidateConfig/Run
//	internal/combine      the combination rules and the exact normaliser
//	internal/lockstep     greedy and beam decoding of K models in lockstep
//	internal/pipeline     the sweep over the simplex, baselines, rewards, plots
//	VERSION, CHANGELOG.md the plugin's version (stamped at build) and history
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(&Plugin{}) }

// Command shammie-plugin-copybench is CopyBench (Chen et al. 2024,
// "CopyBench: Measuring Literal and Non-Literal Reproduction of
// Copyright-Protected Text in Language Model Generation"): literal copying
// (ROUGE-L of 50-token continuations >= 0.8), character copying (>= 3 of a
// book's characters named, none in the prompt), event copying (>= 5 plot
// events supported; an offline lexical proxy replaces the paper's Flan-T5
// judge), balanced against fact recall (QA F1). Fluency judging is out of
// scope. Modes: planted (a tiny model trained on synthetic books, copying
// measured on trained and held-out books) and evaluate (a model artifact on
// the real CopyBench files).
//
//	main.go               this doc comment and sdk.Serve
//	plugin.go             version, config, schema, Metadata/Schema/ValidateConfig/Run
//	internal/pipeline     the modes, generation and aggregation
//	internal/benchdata    CopyBench's files and prompt templates
//	internal/scoring      the reference's metrics (on sdk/textmetrics)
//	internal/planted      synthetic books with a known answer
//	VERSION, CHANGELOG.md the plugin's version (stamped at build) and history
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(&Plugin{}) }

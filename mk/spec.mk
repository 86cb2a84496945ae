# Spec language (host/internal/configs, configschema, lang, dag): golden
# diagnostics, fuzzing and the planning benchmark.

SPEC_PKGS := ./internal/configs/... ./internal/configschema/... ./internal/lang/... ./internal/dag/...
FUZZTIME ?= 20s

.PHONY: test-spec update-spec-golden fuzz-spec bench-spec

test-spec: ## Spec language tests only (specsuite goldens, variables, functions, DAG).
	cd host && $(GO) test -count=1 $(SPEC_PKGS)

update-spec-golden: ## Rewrite host/internal/configs/testdata/specsuite/*.diags.golden (review the diff!).
	cd host && $(GO) test -count=1 -run TestSpecSuite ./internal/configs/ -update

fuzz-spec: ## Fuzz the spec loader/planner and the formatter, FUZZTIME each (default 20s).
	cd host && $(GO) test -run '^$$' -fuzz '^FuzzLoadFile$$' -fuzztime $(FUZZTIME) ./internal/configs/
	cd host && $(GO) test -run '^$$' -fuzz '^FuzzFormat$$' -fuzztime $(FUZZTIME) ./internal/configs/

bench-spec: ## Time planning + config evaluation of 100/1000/10000-instance sweeps.
	cd host && $(GO) test -run '^$$' -bench BenchmarkPlanAndEvalSweep -benchtime 3x ./internal/dag/

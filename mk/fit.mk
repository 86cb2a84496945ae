# FIT / MIMETIC² imitation-threshold plugin targets.

.PHONY: test-fit bench-fit run-fit run-fit-mimetic2

test-fit: ## Fit plugin tests only (incl. the real-count test when ../shared/data exists).
	cd plugins/fit && $(GO) test -count=1 ./...

# PELT on 100 000 concepts (three signal shapes, median of 3; the first,
# imitation-score shaped, is reported) and imitation scores of 400 concepts ×
# 5 prompts × (100 training × 200 generated) embeddings of width 512 in one
# batched GoMLX graph (~1 GB of inputs, ~5 GB peak RSS on the go backend).
# FIT_BENCH_BACKEND picks the backend (default go); xla:cuda needs
# FIT_BENCH_TAGS=xla (cgo) and PJRT_PLUGIN_LIBRARY_PATH. Last line:
# bench-fit: pelt100k_s=N scores_s=N
FIT_BENCH_BACKEND ?= go
FIT_BENCH_TAGS ?=
bench-fit: ## Fit: time PELT on 100k concepts and the batched imitation-score graph.
	cd plugins/fit && $(GO) run -tags '$(FIT_BENCH_TAGS)' ./cmd/fitbench -backend $(FIT_BENCH_BACKEND)

run-fit: build ## Fit: generated concepts with a planted onset (specs/fit.hcl).
	$(BIN)/shammie init specs/fit.hcl
	$(BIN)/shammie run specs/fit.hcl

run-fit-mimetic2: build ## Fit: real LAION counts of the classical artists, onset planted at 112 (needs ../shared/data).
	$(BIN)/shammie init specs/fit-mimetic2.hcl
	$(BIN)/shammie run specs/fit-mimetic2.hcl

# plugins/mod (MOD, multi-objective decoding: K aligned models combined at
# decoding time under an f-divergence).

.PHONY: test-mod run-mod bench-mod

test-mod: ## MOD plugin tests (bandit vectors, exact normaliser, sequence-level enumeration, lockstep decoding, validation).
	cd plugins/mod && $(GO) test -count=1 ./...

run-mod: build ## MOD: the sft → dpo (one per objective) → mod chain on planted data (specs/compo-mod.hcl needs plugin compo).
	$(BIN)/shammie init specs/mod.hcl
	$(BIN)/shammie run specs/mod.hcl

# Issue 14's benchmark: greedy MOD decoding (reverse KL) of K = 2 and K = 3
# random byte-level transformers (d_model 128, 2 layers, 8 prompts × 64
# tokens, one prompt at a time), each model with its own KV cache, vs each
# model decoding the same prompts alone with Decoder.Generate. overhead =
# MOD time ÷ (K × single-model time), target ≤ 1.2. Last line (K = 3):
# bench-mod: tok_s=N single_tok_s=N overhead=X models=K backend=NAME
BENCH_MOD_BACKEND ?= go
BENCH_MOD_FLAGS ?=
bench-mod: ## MOD decoding of K=2,3 models vs single-model decoding (last line machine-readable).
	@mkdir -p $(BIN)
	cd plugins/mod && $(GO) build $(if $(filter xla:%,$(BENCH_MOD_BACKEND)),-tags xla) -o $(BIN)/benchmod ./cmd/benchmod
	$(BIN)/benchmod -backend $(BENCH_MOD_BACKEND) $(BENCH_MOD_FLAGS)

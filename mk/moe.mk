# plugins/moe (sparse mixture-of-experts LM with OLMoE's routing analyses).

.PHONY: test-moe run-moe run-olmoe bench-moe bench-moe-gpu

BENCH_MOE_BACKEND ?= go
BENCH_MOE_STEPS ?= 10
BENCH_MOE_FLAGS ?=
# Debian's python3-torch lives in the system Python; a pyenv python3 earlier
# on PATH would not see it.
BENCH_MOE_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

test-moe: ## plugins/moe tests (sparse==dense, losses, planted specialisation, collapse, plugin harness).
	cd plugins/moe && $(GO) test -count=1 ./...

run-moe: build ## The MoE spec on the planted two-domain corpus (no external data).
	$(BIN)/shammie init specs/moe.hcl
	$(BIN)/shammie run specs/moe.hcl

run-olmoe: build ## The MoE spec on OLMoE's five domain samples (needs ../shared/data), table beside OLMoE's.
	$(BIN)/shammie init specs/olmoe.hcl
	$(BIN)/shammie run specs/olmoe.hcl

# Issue 6's benchmark: MoE (E=8, k=2, expert_hidden 176) and a dense model
# with the same active parameters (d_ff 352), 2 layers, d_model 128, 4 heads,
# seq 64, batch 16, bytes; Shammie (plus a graph of only each step's
# matmuls) and PyTorch CPU configured as bench-train (Debian python3-torch +
# libopenblas0-pthread via tools/benchtrain/install_torch.sh, 2 threads,
# OPENBLAS_NUM_THREADS=1). Last line:
# bench-moe: shammie_tok_s=N pytorch_tok_s=N ratio=R matmul_ratio=M dense_ratio=D backend=NAME
bench-moe: ## MoE training step: Shammie vs PyTorch CPU, MoE vs dense (last line machine-readable).
	tools/benchtrain/install_torch.sh
	@mkdir -p $(BIN)
	cd plugins/moe && $(GO) build $(if $(filter xla:%,$(BENCH_MOE_BACKEND)),-tags xla) -o $(BIN)/benchmoe ./cmd/benchmoe
	$(BIN)/benchmoe -backend $(BENCH_MOE_BACKEND) -steps $(BENCH_MOE_STEPS) -torch-script tools/benchmoe/bench_moe.py -python $(BENCH_MOE_PYTHON) $(BENCH_MOE_FLAGS)

bench-moe-gpu: ## On a GPU machine with JAX+torch CUDA: MoE on xla:cuda vs PyTorch CUDA, with MFU.
	tools/benchmoe/gpu.sh

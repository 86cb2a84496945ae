# plugins/compo (ComPO community preference optimisation) and the DPO-step
# benchmark of issue 14.

.PHONY: test-compo run-compo run-compo-hh bench-dpo

BENCH_DPO_BACKEND ?= go
BENCH_DPO_STEPS ?= 20
# BENCH_DPO_FLAGS="-d-model 32 -seq 32 -batch 2 -steps 2 -warmup 1" checks it end to end quickly.
BENCH_DPO_FLAGS ?=
BENCH_DPO_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

test-compo: ## plugins/compo tests (loaders, filtering, split, conditioning, planted chain sft→dpo→eval).
	cd plugins/compo && $(GO) test -count=1 ./...

run-compo: build ## ComPO on planted communities (specs/compo.hcl; no external data).
	$(BIN)/shammie init specs/compo.hcl
	$(BIN)/shammie run specs/compo.hcl

run-compo-hh: build ## ComPO's pipeline on the HH-RLHF harmless test pairs vs SFT and length baselines (needs ../shared/data).
	$(BIN)/shammie init specs/compo-hh.hcl
	$(BIN)/shammie run specs/compo-hh.hcl

# One DPO step (standard DPO, β 0.1, reference log-probs precomputed) on the
# bench-train transformer (2 layers, d_model 128, 4 heads, bytes), 8 pairs
# = 16 rows of 64 tokens, in Shammie and in PyTorch CPU configured by
# internal/torchref (Debian python3-torch + libopenblas0-pthread via
# tools/benchtrain/install_torch.sh, 2 threads), plus a graph of only the
# step's matmuls. Last line:
# bench-dpo: shammie_tok_s=N pytorch_tok_s=N ratio=R matmul_ratio=M backend=NAME
bench-dpo: ## One DPO training step: Shammie vs PyTorch CPU on the same model and batch (last line machine-readable).
	tools/benchtrain/install_torch.sh
	@mkdir -p $(BIN)
	cd tools && $(GO) build $(if $(filter xla:%,$(BENCH_DPO_BACKEND)),-tags xla) -o $(BIN)/benchdpo ./benchdpo
	$(BIN)/benchdpo -backend $(BENCH_DPO_BACKEND) -steps $(BENCH_DPO_STEPS) -torch-script tools/benchdpo/torch_dpo.py -python $(BENCH_DPO_PYTHON) $(BENCH_DPO_FLAGS)

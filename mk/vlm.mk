# plugins/vlm (Molmo-style vision-language model with 2-D pointing and
# counting, Deitke et al. 2024).

.PHONY: test-vlm run-vlm bench-vlm

BENCH_VLM_BACKEND ?= go
BENCH_VLM_STEPS ?= 10
# BENCH_VLM_FLAGS="-batch 2 -steps 1 -warmup 1" checks it end to end quickly.
BENCH_VLM_FLAGS ?=
BENCH_VLM_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

test-vlm: ## plugins/vlm tests (layout, connector, planted data, bundle, manifest, reduced pointing run vs the centre baseline).
	cd plugins/vlm && $(GO) test -count=1 ./...

run-vlm: build ## The vlm spec (about 27 min on 2 cores): planted coloured circles, captions then the pointing/counting mixture, held-out PointingEval and counting every 400 steps and at the end.
	$(BIN)/shammie init specs/vlm.hcl
	$(BIN)/shammie run specs/vlm.hcl

# Issue 16's benchmark: one training step of the vlm model (48×48 images:
# 2×2 tiling + global view = 5 crops of 32 px, patch 4; ViT 3×64; connector;
# LM 2×128; batch 16) in Shammie (plus a graph of only the step's matmuls)
# and in PyTorch CPU configured as bench-train (internal/torchref). Last line:
# bench-vlm: shammie_tok_s=N pytorch_tok_s=N ratio=R matmul_ratio=M backend=NAME
bench-vlm: ## One vlm training step (ViT + connector + LM): Shammie vs PyTorch CPU on the same batch (last line machine-readable).
	tools/benchtrain/install_torch.sh
	@mkdir -p $(BIN)
	cd plugins/vlm && $(GO) build $(if $(filter xla:%,$(BENCH_VLM_BACKEND)),-tags xla) -o $(BIN)/benchvlm ./cmd/benchvlm
	$(BIN)/benchvlm -backend $(BENCH_VLM_BACKEND) -steps $(BENCH_VLM_STEPS) -torch-script plugins/vlm/cmd/benchvlm/torch_vlm.py -python $(BENCH_VLM_PYTHON) $(BENCH_VLM_FLAGS)

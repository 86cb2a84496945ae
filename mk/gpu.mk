# GPU path (issue 17): XLA builds, the GPU benchmark and its CPU dry run.
.PHONY: build-xla bench-gpu bench-gpu-dry gpu-bundle
BENCH_GPU_BIN ?= bin/gpu
# The plugins specs/default.hcl uses (gpu-bundle builds them for the spec comparison).
BENCH_GPU_SPEC_PLUGINS ?= fit router moe merge compo mod mcqa

build-xla: ## Build the host and every plugin with XLA support (-tags xla, cgo) into ./bin; then `shammie run --backend xla:cuda SPEC`.
	$(MAKE) --no-print-directory build XLA=1

# On a GPU machine with torch (CUDA) and JAX's CUDA PJRT plugin: dense
# GPT-2-small, OLMoE-shaped MoE and batch-16 decoding on xla:cuda against
# PyTorch eager and torch.compile, then specs/default.hcl on the CPU and on
# xla:cuda compared by tools/runcompare. Last line:
# bench-gpu: dense_ratio=R dense_mfu=M moe_ratio=R moe_mfu=M decode_ratio=R gpu=NAME
bench-gpu: ## GPU benchmark vs PyTorch eager/torch.compile + spec outputs CPU vs xla:cuda (last line machine-readable).
	tools/benchgpu/bench.sh

bench-gpu-dry: ## The same script on the CPU with tiny sizes (backend go, torch CPU): proves it builds, runs and prints its line.
	BENCH_GPU_DRY=1 tools/benchgpu/bench.sh

# A GPU machine without Go: build the benchmark binaries here (-tags xla,
# stripped) into $(BENCH_GPU_BIN), with the host and default.hcl's plugins in
# $(BENCH_GPU_BIN)/specbin, and bring that folder; bench.sh and specs.sh use
# them when they find no Go.
gpu-bundle: ## Build the GPU benchmark's binaries (-tags xla, stripped) into bin/gpu for a machine without Go.
	@mkdir -p $(BENCH_GPU_BIN)
	cd tools && $(GO) build -tags xla -ldflags "-s -w" -o $(CURDIR)/$(BENCH_GPU_BIN)/benchtrain-xla ./benchtrain
	cd tools && $(GO) build -tags xla -ldflags "-s -w" -o $(CURDIR)/$(BENCH_GPU_BIN)/benchdecode-xla ./benchdecode
	cd tools && $(GO) build -ldflags "-s -w" -o $(CURDIR)/$(BENCH_GPU_BIN)/runcompare ./runcompare
	cd plugins/moe && $(GO) build -tags xla -ldflags "-s -w" -o $(CURDIR)/$(BENCH_GPU_BIN)/benchmoe-xla ./cmd/benchmoe
	@mkdir -p $(BENCH_GPU_BIN)/specbin
	$(GO) build -tags xla -ldflags "-s -w $(HOST_LDFLAGS)" -o $(BENCH_GPU_BIN)/specbin/shammie ./host/cmd/shammie
	@for p in $(BENCH_GPU_SPEC_PLUGINS); do v=$$(cat plugins/$$p/VERSION); echo "build specbin/shammie-plugin-$${p}_v$$v (xla, stripped)"; \
	  $(GO) build -tags xla -ldflags "-s -w -X main.version=$$v" -o $(BENCH_GPU_BIN)/specbin/shammie-plugin-$${p}_v$$v ./plugins/$$p; done
	@echo "packing (xz) for a device call's 64 MiB: $(BENCH_GPU_BIN)/bench.tar.xz, $(BENCH_GPU_BIN)/specbin.tar.xz"
	tar -C $(BENCH_GPU_BIN) -cf - benchtrain-xla benchdecode-xla benchmoe-xla runcompare | xz -6 -T0 > $(BENCH_GPU_BIN)/bench.tar.xz
	tar -C $(BENCH_GPU_BIN) -cf - specbin | xz -6 -T0 > $(BENCH_GPU_BIN)/specbin.tar.xz
	@ls -la $(BENCH_GPU_BIN)/*.tar.xz

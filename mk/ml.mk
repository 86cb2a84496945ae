# sdk/ml (the GoMLX model kit) targets.

.PHONY: test-ml bench-train bench-train-gpu

BENCH_TRAIN_BACKEND ?= go
BENCH_TRAIN_STEPS ?= 20
# Debian's python3-torch lives in /usr/bin/python3's dist-packages (a pyenv
# python3 earlier on PATH would not see it).
BENCH_TRAIN_PYTHON ?= /usr/bin/python3

test-ml: ## sdk/ml tests only (gradient checks, overfit, resume, safetensors via Python).
	cd sdk && $(GO) test -count=1 ./ml/...

# Training-step benchmark of issue 3: the kit's transformer (2 layers,
# d_model 128, 4 heads, seq 64, batch 16, bytes) in Shammie and in PyTorch
# CPU (Debian python3-torch + libopenblas0-pthread, installed by the script;
# 2 torch threads, OPENBLAS_NUM_THREADS=1, the machine's OPENBLAS_CORETYPE/L2_SIZE replaced by the
# best kernel for the CPU: see internal/torchref),
# plus a graph of only the step's matmuls. Last line:
# bench-train: shammie_tok_s=N pytorch_tok_s=N ratio=R matmul_ratio=M backend=NAME
# BENCH_TRAIN_BACKEND=xla:cuda needs `-tags xla` (see bench-train-gpu).
bench-train: ## Training step: Shammie vs PyTorch CPU on the same model (last line machine-readable).
	tools/benchtrain/install_torch.sh
	@mkdir -p $(BIN)
	cd tools && $(GO) build $(if $(filter xla:%,$(BENCH_TRAIN_BACKEND)),-tags xla) -o $(BIN)/benchtrain ./benchtrain
	$(BIN)/benchtrain -backend $(BENCH_TRAIN_BACKEND) -steps $(BENCH_TRAIN_STEPS) -torch-script tools/benchtrain/torch_ref.py -python $(BENCH_TRAIN_PYTHON)

bench-train-gpu: ## On a GPU machine with JAX+torch CUDA: Shammie xla:cuda vs PyTorch CUDA.
	@mkdir -p $(BIN)
	cd tools && $(GO) build -tags xla -o $(BIN)/benchtrain-xla ./benchtrain
	tools/benchtrain/gpu.sh

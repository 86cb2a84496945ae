# Decoding benchmark of issue 9 (sdk/ml's Decoder; tools/benchdecode).

.PHONY: bench-decode

BENCH_DECODE_BACKEND ?= go
BENCH_DECODE_PYTHON ?= /usr/bin/python3
# Extra flags, e.g. a tiny check: BENCH_DECODE_FLAGS="-d-model 32 -max-prompt 12 -new-tokens 8 -reps 1"
BENCH_DECODE_FLAGS ?=

# Greedy decoding with the KV cache: 16 prompts of 8…64 random bytes in one
# left-padded batch, 64 new tokens each, model of bench-train (2 layers,
# d_model 128, 4 heads, QK-norm), in Shammie and in PyTorch CPU on the same
# weights (Debian python3-torch + libopenblas0-pthread via
# tools/benchtrain/install_torch.sh, configured by internal/torchref, 2 threads).
# The two must agree (logits after the prompts, every token) before timing.
# Last line:
# bench-decode: shammie_tok_s=N pytorch_tok_s=N ratio=R backend=NAME
bench-decode: ## Greedy KV-cache decoding, batch 16, mixed prompt lengths: Shammie vs PyTorch CPU (last line machine-readable).
	tools/benchtrain/install_torch.sh
	@mkdir -p $(BIN)
	cd tools && $(GO) build $(if $(filter xla:%,$(BENCH_DECODE_BACKEND)),-tags xla) -o $(BIN)/benchdecode ./benchdecode
	$(BIN)/benchdecode -backend $(BENCH_DECODE_BACKEND) -python $(BENCH_DECODE_PYTHON) -torch-script tools/benchdecode/torch_decode.py $(BENCH_DECODE_FLAGS)

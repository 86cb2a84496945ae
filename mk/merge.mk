# plugins/merge (model merging: Merge to Learn; streamed task arithmetic,
# TIES, DARE, WiSE-FT; Table 2 report).

.PHONY: test-merge run-merge run-merge-report bench-merge

test-merge: ## Merge plugin tests (operators' hand-computed vectors, streaming, validation, Table 2 when ../shared/data exists).
	cd plugins/merge && $(GO) test -count=1 ./...

run-merge: build ## Merge: planted checkpoints by every operator, then the planted train-then-merge experiment (specs/merge.hcl, ~12 min on 2 cores).
	$(BIN)/shammie init specs/merge.hcl
	$(BIN)/shammie run specs/merge.hcl

run-merge-report: build ## Merge: Table 2 and trade-off curves from the authors' results (needs ../shared/data).
	$(BIN)/shammie init specs/merge-report.hcl
	$(BIN)/shammie run specs/merge-report.hcl

# Issue 9's benchmark: generate K=3 fine-tuned checkpoints and their base,
# BENCH_MERGE_MB MiB each (default 1024, i.e. 1 GiB; 64 float32 tensors),
# in a temporary directory (BENCH_MERGE_DIR, default $TMPDIR), then merge
# them with task arithmetic through the streaming reader/writer in a fresh
# process whose peak RSS (VmHWM) is reported. mb_s counts input MiB read
# (all K+1 checkpoints) per second of merging. Last line:
# bench-merge: mb_s=N peak_rss_mb=N models=K
BENCH_MERGE_MB ?= 1024
BENCH_MERGE_DIR ?=
bench-merge: ## Merge K=3 generated 1 GiB checkpoints with task arithmetic, streamed (last line machine-readable).
	@mkdir -p $(BIN)
	cd plugins/merge && $(GO) build -o $(BIN)/mergebench ./cmd/mergebench
	$(BIN)/mergebench -mb $(BENCH_MERGE_MB) -models 3 $(if $(BENCH_MERGE_DIR),-dir $(BENCH_MERGE_DIR))

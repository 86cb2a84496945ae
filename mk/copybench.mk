# plugins/copybench (CopyBench: literal and non-literal copying, fact recall).

.PHONY: test-copybench test-copybench-planted run-copybench

test-copybench: ## plugins/copybench tests (metrics, real-file checks, planted memorisation).
	cd plugins/copybench && $(GO) test -count=1 ./...

run-copybench: build ## CopyBench on planted books, then the planted model on the real files (needs ../shared/data).
	$(BIN)/shammie init specs/copybench.hcl
	$(BIN)/shammie run specs/copybench.hcl

test-copybench-planted: ## The full planted-memorisation setting (six books, five events; minutes on 2 cores). The reduced one runs in test-copybench.
	cd plugins/copybench && COPYBENCH_PLANTED=1 $(GO) test -count=1 -run TestPlantedMemorisationFull -v ./internal/pipeline/

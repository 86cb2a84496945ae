# Run store (host/internal/runstore) and reporting (host/internal/report).

.PHONY: test-runstore bench-runstore report

REPORT_RUN ?= latest
REPORT_DIR ?= out/report

test-runstore: ## Run store + report tests only (with the race detector: steps record in parallel).
	cd host && $(GO) test -count=1 -race ./internal/runstore/ ./internal/report/

# The store's share of the per-step host overhead (BeginStep, events, output,
# Finish with fsyncs, cache entry), and the same without fsync to show their
# cost. Best of 3. Last line: bench-runstore: step_record_ms=N nofsync_ms=N
bench-runstore: ## Time the run store's bookkeeping per step (ms).
	@cd host && $(GO) test -run '^$$' -bench '^BenchmarkStepRecord$$' -benchtime 500x -count 3 ./internal/runstore/ \
	  | tee /dev/stderr | awk '/^BenchmarkStepRecord\/fsync/ {if (a=="" || $$3<a) a=$$3} /^BenchmarkStepRecord\/nofsync/ {if (b=="" || $$3<b) b=$$3} \
	    END {if (a=="" || b=="") exit 1; printf "bench-runstore: step_record_ms=%.2f nofsync_ms=%.2f\n", a/1e6, b/1e6}'

report: build ## Write plots + report.md of a run (REPORT_RUN=latest) into REPORT_DIR (out/report).
	$(BIN)/shammie report $(REPORT_RUN) -o $(REPORT_DIR)

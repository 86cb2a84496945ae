# Host engine targets (see tools/benchhost).
.PHONY: bench-host bench-store test-host

bench-host: ## Host overhead per step (fresh process) and a 1000-step no-op sweep, against the targets.
	cd tools && $(GO) run ./benchhost -root $(CURDIR)

test-host: ## Run the host module's tests (unit + testscript end-to-end).
	cd host && $(GO) test -count=1 ./...

bench-store: ## Run store and planner at scale: runs list of 10k runs, plan of 100k+100k dependent instances, cached 1k rerun (BENCH_STORE_RUNS/INSTANCES/SWEEP shrink it).
	cd tools && $(GO) run ./benchstore -root $(CURDIR)

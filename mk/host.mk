# Host engine targets (see tools/benchhost).
.PHONY: bench-host test-host

bench-host: ## Host overhead per step (fresh process) and a 1000-step no-op sweep, against the targets.
	cd tools && $(GO) run ./benchhost -root $(CURDIR)

test-host: ## Run the host module's tests (unit + testscript end-to-end).
	cd host && $(GO) test -count=1 ./...

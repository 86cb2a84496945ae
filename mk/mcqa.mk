# plugins/mcqa (where a transformer decides the answer symbol: logit lens
# and activation patching, Wiegreffe et al. 2024).

.PHONY: test-mcqa run-mcqa

test-mcqa: ## plugins/mcqa tests (CPython random, Colors task, planted layer found by patching and lens, plugin harness).
	cd plugins/mcqa && $(GO) test -count=1 ./...

run-mcqa: build ## The mcqa spec: planted model, then probes on planted questions and the Colors task (Colors needs ../shared/data).
	$(BIN)/shammie init specs/mcqa.hcl
	$(BIN)/shammie run specs/mcqa.hcl

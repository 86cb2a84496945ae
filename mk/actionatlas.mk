# plugins/actionatlas (ActionAtlas video MCQA harness, Salehi et al. 2024).

.PHONY: test-actionatlas run-actionatlas

test-actionatlas: ## plugins/actionatlas tests (protocol after the reference, clip readers, stub-model harness, planted frame-count curve, plugin harness).
	cd plugins/actionatlas && $(GO) test -count=1 ./...

run-actionatlas: build ## The actionatlas spec: planted frame-count curve over seeds beside the leaderboard (needs ../shared/data), then the protocol's eval on the planted clips.
	$(BIN)/shammie init specs/actionatlas.hcl
	$(BIN)/shammie run specs/actionatlas.hcl

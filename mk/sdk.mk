# SDK core (protocol, Serve, pluginhost, plugintest) and the example plugin.

.PHONY: test-sdk test-linreg run-linreg fuzz-datafile

test-sdk: ## SDK core tests only (protocol, Serve, pluginhost, plugintest, datafile; sdk/ml has its own).
	cd sdk && $(GO) test -count=1 . ./pluginhost/... ./plugintest/... ./datafile/...

fuzz-datafile: ## Fuzz the record-file readers (sdk/datafile) for FUZZTIME (default 20s).
	cd sdk && $(GO) test -run '^$$' -fuzz '^FuzzRecords$$' -fuzztime $(FUZZTIME) ./datafile/

test-linreg: ## Example plugin tests (builds its binary once).
	cd examples/linreg && $(GO) test -count=1 ./...

run-linreg: build ## Run the example plugin's spec (a small learning-rate sweep).
	$(BIN)/shammie init examples/linreg/linreg.hcl
	$(BIN)/shammie run examples/linreg/linreg.hcl

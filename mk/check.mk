# Code habits (`make check`, run by .ci/run before `make test`): formatting,
# vet, staticcheck, the shipped specs, and a short fuzzing pass over every
# reader of outside input.

STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(CURDIR)/.cache/staticcheck-$(STATICCHECK_VERSION)/staticcheck
# Seconds of fuzzing per target in `make check` (longer: make fuzz-check FUZZTIME_CHECK=1m).
FUZZTIME_CHECK ?= 5s
# Fuzz targets: "module package target". Add a line for every new parser or
# binary reader.
FUZZ_TARGETS := \
	"sdk . FuzzDecodeValue" \
	"sdk ./ml FuzzSafetensorsHeader" \
	"sdk ./textmetrics FuzzTokenize" \
	"sdk ./datafile FuzzRecords" \
	"sdk ./pointing FuzzParse" \
	"sdk ./ml FuzzByteTokenizerRoundTrip" \
	"host ./internal/ui FuzzPreview" \
	"plugins/compo ./internal/prefs FuzzLoad" \
	"host ./internal/configs FuzzLoadFile" \
	"host ./internal/configs FuzzFormat" \
	"host ./internal/depsfile FuzzLoad" \
	"host ./internal/executor/slurm FuzzSlurmOutput" \
	"plugins/fit ./internal/embfile FuzzReadNPY" \
	"plugins/fit ./internal/embfile FuzzReadSafetensors" \
	"plugins/router ./internal/prefdata FuzzRead" \
	"plugins/actionatlas ./internal/protocol FuzzParse" \
	"plugins/actionatlas ./internal/clip FuzzReadBundle" \
	"plugins/actionatlas ./internal/clip FuzzManifest" \
	"plugins/actionatlas ./internal/pipeline FuzzLeaderboard"
# Every spec the repository ships.
SHIPPED_SPECS := $(filter-out %/shammie.lock.hcl,$(wildcard specs/*.hcl) $(wildcard examples/*/*.hcl))

.PHONY: check check-code check-specs fuzz-check

check: check-code check-specs fuzz-check ## gofmt, go vet, staticcheck, shammie fmt -check + init + validate of every shipped spec, brief fuzzing.

$(STATICCHECK):
	GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

check-code: $(STATICCHECK) ## gofmt -l, go vet and staticcheck (staticcheck.conf) over every module.
	@echo "== gofmt -l"; out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "$$out"; echo "run gofmt -w on these"; exit 1; fi
	@for m in $(MODULES); do echo "== go vet $$m"; (cd $$m && $(GO) vet ./...); done
	@for m in $(MODULES); do echo "== staticcheck $$m"; (cd $$m && $(STATICCHECK) ./...); done

check-specs: build ## shammie fmt -check, then init + validate of every spec under specs/ and examples/.
	$(BIN)/shammie fmt -check $(SHIPPED_SPECS)
	@for s in $(SHIPPED_SPECS); do \
	  if grep -q 'shared/data' $$s && [ ! -d ../shared/data ]; then echo "== $$s: skipped, needs ../shared/data"; continue; fi; \
	  echo "== $$s"; $(BIN)/shammie init $$s >/dev/null && $(BIN)/shammie validate $$s; \
	done

fuzz-check: ## Run each fuzz target of FUZZ_TARGETS for FUZZTIME_CHECK (default 5s).
	@for t in $(FUZZ_TARGETS); do set -- $$t; echo "== fuzz $$3 ($$1/$$2, $(FUZZTIME_CHECK))"; \
	  tools/fuzzcheck/run.sh $$1 $$2 $$3 $(FUZZTIME_CHECK) || exit 1; done

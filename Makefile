# Shammie: `make run` builds everything and runs the default spec on the CPU
# backend; `make test` runs every test. Component-specific targets (benchmarks,
# generators) live in mk/*.mk, one file per component.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := $(CURDIR)/bin
# Every Go module of the workspace.
MODULES := sdk host $(wildcard plugins/*) $(wildcard examples/*) tools
PLUGINS := $(notdir $(wildcard plugins/*))
EXAMPLES := $(notdir $(wildcard examples/*))
# simplego deadlocks were seen with its default parallelism (see sdk/ml).
export GOMLX_BACKEND ?= go

.PHONY: all build run test test-short proto clean help
all: build

help: ## List targets.
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## Build the host and every plugin into ./bin.
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/shammie ./host/cmd/shammie
	@for p in $(PLUGINS); do echo "build shammie-plugin-$$p"; $(GO) build -o $(BIN)/shammie-plugin-$$p ./plugins/$$p; done
	@for p in $(EXAMPLES); do echo "build shammie-plugin-$$p (example)"; $(GO) build -o $(BIN)/shammie-plugin-$$p ./examples/$$p; done

run: build ## Build everything and run the default spec (CPU backend, generated data).
	$(BIN)/shammie init specs/default.hcl
	$(BIN)/shammie run specs/default.hcl

test: build ## Run all tests of every module.
	@for m in $(MODULES); do echo "== go test $$m"; (cd $$m && $(GO) test -count=1 -timeout 12m ./...); done

proto: ## Regenerate the protocol's Go code (protoc from Debian, pinned Go generators).
	command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	GOBIN=$(CURDIR)/.cache/protobin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOBIN=$(CURDIR)/.cache/protobin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	cd sdk && PATH=$(CURDIR)/.cache/protobin:$$PATH protoc -I proto \
	  --go_out=. --go_opt=module=github.com/shammie-ml/shammie/sdk \
	  --go-grpc_out=. --go-grpc_opt=module=github.com/shammie-ml/shammie/sdk \
	  proto/shammie/plugin/v1/plugin.proto

clean: ## Remove build outputs and the local run store.
	rm -rf $(BIN) .shammie .cache

-include mk/*.mk

# Shammie: `make run` builds everything and runs the default spec on the CPU
# backend; `make test` runs every test. Component-specific targets (benchmarks,
# generators) live in mk/*.mk, one file per component.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := $(CURDIR)/bin
# Every Go module of the workspace (internal: helpers for this repository's own tests and
# benchmarks, importable by its modules only, never released).
MODULES := sdk internal host $(wildcard plugins/*) $(patsubst %/go.mod,%,$(wildcard examples/*/go.mod)) tools
PLUGINS := $(notdir $(wildcard plugins/*))
# Go example plugins (examples/python-plugin has a go.mod for its end-to-end
# test only; mk/python-plugin.mk installs its launcher).
EXAMPLES := $(notdir $(patsubst %/main.go,%,$(wildcard examples/*/main.go)))
# A module's version is its VERSION file; make build stamps it into the binary.
version = $(shell cat $(1)/VERSION 2>/dev/null || echo 0.0.0-dev)
HOST_LDFLAGS := -X github.com/shammie-ml/shammie/host/internal/command.Version=$(call version,host)
# `make build XLA=1` builds the host and plugins with -tags xla (cgo): the
# plugins then open the xla:cuda backend (mk/gpu.mk, README "Running on a GPU").
GOTAGS := $(if $(filter 1 yes true,$(XLA)),-tags xla)

.PHONY: all build run test test-short proto tags clean help
all: build

help: ## List targets.
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## Build the host and every plugin into ./bin (plugins as shammie-plugin-<name>_v<version>); XLA=1 adds -tags xla.
	@mkdir -p $(BIN)
	$(GO) build $(GOTAGS) -ldflags "$(HOST_LDFLAGS)" -o $(BIN)/shammie ./host/cmd/shammie
	@for d in $(addprefix plugins/,$(PLUGINS)) $(addprefix examples/,$(EXAMPLES)); do \
	  p=$${d#*/}; \
	  if [ ! -f $$d/VERSION ]; then echo "build shammie-plugin-$$p (no VERSION file)"; $(GO) build $(GOTAGS) -o $(BIN)/shammie-plugin-$$p ./$$d; continue; fi; \
	  v=$$(cat $$d/VERSION); echo "build shammie-plugin-$${p}_v$$v$(if $(GOTAGS), (xla))"; \
	  rm -f $(BIN)/shammie-plugin-$$p; \
	  $(GO) build $(GOTAGS) -ldflags "-X main.version=$$v" -o $(BIN)/shammie-plugin-$${p}_v$$v ./$$d; \
	done
	@$(MAKE) --no-print-directory python-plugin

run: build ## Build everything and run the default spec (CPU backend, generated data).
	$(BIN)/shammie init specs/default.hcl
	$(BIN)/shammie run specs/default.hcl

test: build ## Run all tests of every module.
	@failed=(); for m in $(MODULES); do echo "== go test $$m"; \
	  (cd $$m && $(GO) test -count=1 -timeout 12m ./...) || failed+=($$m); done; \
	  if (( $${#failed[@]} )); then echo "FAILED modules: $${failed[*]}"; exit 1; fi

proto: ## Regenerate the protocol's Go code (protoc from Debian, pinned Go generators).
	command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	GOBIN=$(CURDIR)/.cache/protobin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOBIN=$(CURDIR)/.cache/protobin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	cd sdk && PATH=$(CURDIR)/.cache/protobin:$$PATH protoc -I proto \
	  --go_out=. --go_opt=module=github.com/shammie-ml/shammie/sdk \
	  --go-grpc_out=. --go-grpc_opt=module=github.com/shammie-ml/shammie/sdk \
	  proto/shammie/plugin/v1/plugin.proto

tags: ## Tag each module at its VERSION (sdk/v0.2.0, plugins/fit/v0.2.0, ...); run on main after a release.
	@for m in $(MODULES); do [ -f $$m/VERSION ] || continue; t="$$m/v$$(cat $$m/VERSION)"; \
	  if git rev-parse -q --verify "refs/tags/$$t" >/dev/null; then echo "$$t exists"; else git tag "$$t" && echo "tagged $$t"; fi; done

clean: ## Remove build outputs and the local run store.
	rm -rf $(BIN) .shammie .cache

-include mk/*.mk

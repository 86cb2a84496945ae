# examples/python-plugin: a plugin written in Python (Debian's python3 with
# python3-grpcio, python3-protobuf, python3-cryptography, python3-torch).

PYPLUGIN := examples/python-plugin
PYPLUGIN_DEPS := python3-grpcio python3-protobuf python3-cryptography python3-torch

.PHONY: python-plugin python-plugin-deps python-plugin-proto test-python-plugin

# The launcher is what the host starts (from a private copy) and what
# `shammie init` locks: a two-line script with the absolute path of plugin.py.
python-plugin: ## Install the Python plugin's launcher into ./bin as shammie-plugin-pyclassifier_v<VERSION>.
	@mkdir -p $(BIN)
	@v=$$(cat $(PYPLUGIN)/VERSION); out=$(BIN)/shammie-plugin-pyclassifier_v$$v; echo "install shammie-plugin-pyclassifier_v$$v (python)"; \
	  rm -f $$out; printf '#!/bin/sh\nexec /usr/bin/python3 -u %s/plugin.py "$$@"\n' "$(CURDIR)/$(PYPLUGIN)" > $$out; chmod 755 $$out

python-plugin-deps: ## Install the Debian packages the Python plugin needs (as root; CI runs this).
	@if /usr/bin/python3 -c 'import grpc, google.protobuf, cryptography, torch' 2>/dev/null; then echo "python plugin deps: present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PYPLUGIN_DEPS); \
	else echo "python plugin deps missing and not root: apt-get install $(PYPLUGIN_DEPS) (its test skips meanwhile)"; fi

python-plugin-proto: ## Regenerate the Python plugin's protocol code (gen/) with Debian's protoc.
	command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	rm -rf $(PYPLUGIN)/gen && mkdir -p $(PYPLUGIN)/gen
	protoc -I sdk/proto --python_out=$(PYPLUGIN)/gen sdk/proto/shammie/plugin/v1/plugin.proto

test-python-plugin: python-plugin-deps ## The Python plugin end to end through the host (init, run, crash, SIGINT).
	cd $(PYPLUGIN) && $(GO) test -count=1 ./...

# Dashboard (`shammie ui`, host/internal/ui): browser tests and benchmark.
# The browser tests drive Debian's chromium headless through chromedp; the
# `chromium` target installs it (apt-get, as root) and is a prerequisite of
# `make test`, so CI runs them. Without root or apt the tests skip, saying why.

.PHONY: chromium test-ui bench-ui ui-screenshot

chromium: ## Install Debian's chromium for the dashboard's browser tests (as root; nothing if present).
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$${SHAMMIE_CHROMIUM:-}" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium for the dashboard's browser tests (apt-get)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "warning: could not install chromium: the dashboard's browser tests will skip"; \
	else echo "warning: chromium not found and not root: the dashboard's browser tests will skip"; fi

test: chromium

test-ui: chromium ## Dashboard tests: API, path traversal, DNS rebinding, and the browser tests.
	cd host && $(GO) test -count=1 ./internal/ui/

# Time from navigation start to the first render, in headless chromium, of
# the runs list of a store with BENCH_UI_RUNS runs and of the run page whose
# chart shows a BENCH_UI_POINTS-point metric (downsampled on the server).
# Last line: bench-ui: list_ms=N chart_ms=N runs=N points=N
BENCH_UI_RUNS ?= 500
BENCH_UI_POINTS ?= 100000
bench-ui: chromium ## Time to first render of the runs list and of a 100K-point chart (headless chromium).
	@cd host && SHAMMIE_BENCH_UI=1 BENCH_UI_RUNS=$(BENCH_UI_RUNS) BENCH_UI_POINTS=$(BENCH_UI_POINTS) \
	  $(GO) test -count=1 -run '^TestBenchUI$$' -v ./internal/ui/ | tee /dev/stderr | grep '^bench-ui:' | tail -1

ui-screenshot: chromium ## Refresh docs/ui.png, the README's dashboard screenshot, from the browser test.
	rm -rf .cache/ui-shots && mkdir -p .cache/ui-shots
	cd host && SHAMMIE_TEST_ARTIFACTS=$(CURDIR)/.cache/ui-shots $(GO) test -count=1 -run '^TestBrowser$$' ./internal/ui/
	cp .cache/ui-shots/dashboard.png docs/ui.png

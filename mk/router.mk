# Router plugin (HyPER) targets.

.PHONY: bench-router test-router run-hyper run-hyper-noise run-hyper-real

test-router: ## Router plugin tests only.
	cd plugins/router && $(GO) test -count=1 ./...

# Scale benchmark: score 1 000 000 random candidate routings of 10 000
# instances with a 64-feature quadratic PPM. Backend from ROUTER_BENCH_BACKEND
# (default go: bitset masks, popcount feature counts on all cores, the PPM as
# batched GoMLX matmuls — the full million, no extrapolation; xla:cuda builds
# with -tags xla, needs PJRT_PLUGIN_LIBRARY_PATH, and uses dense mask matmuls
# on the device). ROUTER_BENCH_CANDIDATES / ROUTER_BENCH_CHUNK override the
# size. Prints the time split (masks/counts/PPM, CPU seconds) and last:
# bench-router: score1m_s=N
ROUTER_BENCH_BACKEND ?= go
bench-router: ## Router: time scoring 1M candidate mixtures × 10k instances with the PPM.
	@cd plugins/router && ROUTER_BENCH=1 ROUTER_BENCH_BACKEND=$(ROUTER_BENCH_BACKEND) $(GO) test $(if $(filter xla%,$(ROUTER_BENCH_BACKEND)),-tags xla) -count=1 -timeout 60m -run '^TestScore1MBench$$' -v ./internal/ppm | tee /tmp/bench-router.$$$$.log | grep -v '^bench-router:' ; \
	  grep '^bench-router:' /tmp/bench-router.$$$$.log | tail -2; rm -f /tmp/bench-router.$$$$.log

run-hyper: build ## Router: planted-data routing spec.
	$(BIN)/shammie init specs/hyper.hcl
	$(BIN)/shammie run specs/hyper.hcl

run-hyper-noise: build ## Router: the no-weakness control (must report gain_is_noise).
	$(BIN)/shammie run specs/hyper-noise.hcl

run-hyper-real: build ## Router: PPM on the real proxy-RM rows (needs ../shared/data).
	$(BIN)/shammie init specs/hyper-real.hcl
	$(BIN)/shammie run specs/hyper-real.hcl

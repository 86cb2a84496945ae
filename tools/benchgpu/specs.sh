#!/usr/bin/env bash
# tools/benchgpu/specs.sh BACKEND SPEC...: runs each spec through the host
# twice — on the CPU ("go") and on BACKEND (xla:cuda) — and compares the
# outputs with tools/runcompare (strings, orders and integral values such as
# planted thresholds exactly, other numbers within BENCH_GPU_RTOL=0.05 /
# BENCH_GPU_ATOL=0.02; timings ignored). Called by bench.sh; one line per
# spec: `specs: SPEC outputs=N equal=E near=N differ=D missing=M`.
#
# The host and plugins come from `make build XLA=1` when Go is here (bin/),
# else from a bin/ built elsewhere (make gpu-bundle); BENCH_GPU_NO_BUILD=1
# uses bin/ as it is. A spec that reads
# ../shared/data needs it beside the checkout.
set -uo pipefail
cd "$(dirname "$0")/../.."
BACKEND=${1:?usage: specs.sh BACKEND SPEC...}; shift
OUTDIR=${BENCH_GPU_OUT:-out/benchgpu}
BIN=${BENCH_GPU_BIN:-bin/gpu}
mkdir -p "$OUTDIR"
if [[ ! -x $BIN/specbin/shammie ]] && command -v go >/dev/null && [[ -z ${BENCH_GPU_NO_BUILD:-} ]]; then
  echo "== specs: make build${BACKEND/#xla:*/ XLA=1} (host and plugins)"
  if [[ $BACKEND == xla:* ]]; then make --no-print-directory build XLA=1 >"$OUTDIR/build.log" 2>&1; else make --no-print-directory build >"$OUTDIR/build.log" 2>&1; fi \
    || { tail -20 "$OUTDIR/build.log"; echo "specs: build failed" >&2; exit 1; }
fi
# Without Go: the host and plugins of `make gpu-bundle` ($BIN/specbin); the
# host refuses plugins in a folder others can write, so tighten what travelled.
HOST=bin/shammie
if [[ -x $BIN/specbin/shammie ]]; then
  chmod 755 "$BIN/specbin" && chmod 555 "$BIN"/specbin/*
  HOST=$BIN/specbin/shammie
  export SHAMMIE_PLUGIN_PATH=$BIN/specbin
fi
[[ -x $HOST && -x $BIN/runcompare ]] || { echo "specs: no $HOST or $BIN/runcompare (make build XLA=1, or make gpu-bundle; bench.sh builds runcompare)" >&2; exit 1; }
status=0
for spec in "$@"; do
  name=$(basename "$spec" .hcl)
  echo "== specs: $spec on go and on $BACKEND"
  "$HOST" init "$spec" >"$OUTDIR/$name-init.log" 2>&1 || { tail -5 "$OUTDIR/$name-init.log"; status=1; continue; }
  for run in cpu dev; do
    b=go; [[ $run == dev ]] && b=$BACKEND
    tag=$run
    rm -rf "$OUTDIR/store-$name-$tag"
    start=$SECONDS
    "$HOST" run --json --no-cache --store "$OUTDIR/store-$name-$tag" --backend "$b" "$spec" >"$OUTDIR/$name-$tag.jsonl" 2>"$OUTDIR/$name-$tag.err"
    rc=$?
    echo "  $run ($b): exit $rc in $((SECONDS - start))s ($OUTDIR/$name-$tag.jsonl)"
    ((rc == 0)) || { tail -5 "$OUTDIR/$name-$tag.err"; status=1; }
  done
  "$BIN/runcompare" -rtol "${BENCH_GPU_RTOL:-0.05}" -atol "${BENCH_GPU_ATOL:-0.02}" -ignore '*time*' -ignore '*_ms' -ignore '*seconds*' \
    "$OUTDIR/$name-cpu.jsonl" "$OUTDIR/$name-dev.jsonl" >"$OUTDIR/$name-compare.txt" 2>&1
  rc=$?
  grep -E '^(DIFFER|MISSING)' "$OUTDIR/$name-compare.txt" | head -20 | sed 's/^/  /'
  echo "specs: $spec $(tail -1 "$OUTDIR/$name-compare.txt" | sed 's/^runcompare: //')"
  ((rc == 0)) || status=1
done
exit $status

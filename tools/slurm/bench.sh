#!/usr/bin/env bash
# make bench-slurm: a no-op sweep of SLURM_BENCH_N (200) instances through the
# local single-node Slurm test cluster (one job array, throttled to
# SLURM_BENCH_PARALLELISM) against the same sweep on the local executor.
# Needs root (the cluster is started with tools/slurm/cluster.sh and stopped
# afterwards if this script started it). Last line:
#
#   bench-slurm: slurm_s=N local_s=N per_step_overhead_ms=N
set -euo pipefail
N=${SLURM_BENCH_N:-200}
PAR=${SLURM_BENCH_PARALLELISM:-32}
POLL=${SLURM_BENCH_POLL:-1s}
root=$(cd "$(dirname "$0")/../.." && pwd)
GO=${GO:-go}
# The store must be visible to the jobs: on a one-node cluster any local dir is.
work=$(mktemp -d /tmp/shammie-bench-slurm-XXXXXX)
started=
cleanup() {
  rm -rf "$work"
  if [[ -n $started ]]; then "$root/tools/slurm/cluster.sh" stop; fi
}
trap cleanup EXIT

mkdir -p "$work/bin"
(cd "$root" && $GO build -o "$work/bin/shammie" ./host/cmd/shammie)
(cd "$root/tools" && $GO build -o "$work/bin/shammie-plugin-noop" ./benchhost/noopplugin)
if ! squeue -h >/dev/null 2>&1; then started=1; fi
"$root/tools/slurm/cluster.sh" start >/dev/null

cat >"$work/sweep.hcl" <<SPEC
plugin "noop" {}

step "sweep" {
  plugin = plugin.noop
  count  = $N
  config {
    i = count.index
  }
}
SPEC
export SHAMMIE_PLUGIN_PATH=$work/bin
cd "$work"
./bin/shammie init sweep.hcl >/dev/null

now() { date +%s.%N; }
t0=$(now)
./bin/shammie run --executor slurm --executor-opt poll="$POLL" --parallelism "$PAR" --no-cache --store "$work/slurm-store" sweep.hcl >"$work/slurm.log"
t1=$(now)
./bin/shammie run --parallelism "$(nproc)" --no-cache --store "$work/local-store" sweep.hcl >"$work/local.log"
t2=$(now)

# Where the Slurm time goes: the first submission (after the probe job), the
# queue wait of each task (submitted -> running, as far as polling sees it),
# and the mean step duration the records hold.
mean_ms() { grep -h '^  "duration_ms"' "$1"/runs/*/steps/*/step.json | tr -dc '0-9\n' | awk '{s+=$1; n++} END {if (n) printf "%.0f", s/n; else print 0}'; }
first_submit=$(grep -m1 'submitted as Slurm job' "$work/slurm.log" || true)
arrays=$(grep -o 'submitted as Slurm job [0-9]*' "$work/slurm.log" | sort -u | wc -l)
echo "slurm: $N instances in $arrays array(s), throttle %$PAR, poll $POLL; mean step record $(mean_ms "$work/slurm-store") ms (local: $(mean_ms "$work/local-store") ms)"
echo "slurm: first submission: ${first_submit:-none}"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$N" 'BEGIN {
  s = b - a; l = c - b
  printf "bench-slurm: slurm_s=%.2f local_s=%.2f per_step_overhead_ms=%.1f\n", s, l, (s - l) * 1000 / n
}'

#!/usr/bin/env bash
# Runs one fuzz target for a while: run.sh DIR PKG TARGET FUZZTIME.
#
# Go 1.26's fuzz coordinator can report "context deadline exceeded" as a
# failure when a duration -fuzztime ends while a worker is mid-input
# (go.dev/issue/75804, fixed in Go 1.27), with no failing input. A real
# failure writes its input under PKG/testdata/fuzz/TARGET; so a failing
# exit fails the check when such a file appeared, or when the output is
# anything but that race. The race is reported, not hidden.
set -uo pipefail
dir=$1 pkg=$2 target=$3 fuzztime=$4
corpus="$dir/${pkg#./}/testdata/fuzz/$target"
before=$(ls "$corpus" 2>/dev/null | sort)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd "$dir" && go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" "$pkg") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
((rc == 0)) && exit 0
after=$(ls "$corpus" 2>/dev/null | sort)
if [[ "$before" == "$after" ]] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
  echo "fuzzcheck: $target stopped with Go's fuzztime race (go.dev/issue/75804): no failing input was written; not a failure"
  exit 0
fi
exit "$rc"

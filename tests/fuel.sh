#!/usr/bin/env bash
# Fuel under wasmi, the metering interpreter of on-chain runtimes: the wasm32
# module of tests/wasm run by tests/fuel (firesale-fuel) with fuel metering
# on. One health evaluation (2 and 8 assets), the first liquidation unit of
# each golden scenario, and each golden cascade. wasmi charges fuel when a
# region is entered (a function body, a loop body, an if/else arm) for the
# whole region, so the counts follow the code entered; they are exact and
# the same on every run. Fails if the module's golden lines under wasmi
# differ from tests/golden/digests.txt or a count passes its ceiling in
# tests/fuel.ceilings. Needs the wasm32-unknown-unknown target.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --release -p firesale-wasm --target wasm32-unknown-unknown
cargo build -q --release -p firesale-fuel
target_dir=${CARGO_TARGET_DIR:-target}
wasm=$target_dir/wasm32-unknown-unknown/release/firesale_wasm.wasm
bin=$target_dir/release/firesale-fuel

"$bin" --lines "$wasm" | diff -u tests/golden/digests.txt - \
  || { echo "FAIL: the module's golden lines under wasmi differ from tests/golden/digests.txt"; exit 1; }

counts=$("$bin" "$wasm")
failed=0
printf '%-14s %12s %12s\n' workload fuel ceiling
while read -r workload ceiling; do
  case "$workload" in ''|'#'*) continue ;; esac
  fuel=$(awk -v w="$workload" '$1 == w { print $2 }' <<< "$counts")
  [ -n "$fuel" ] || { echo "FAIL: no fuel for $workload"; exit 1; }
  printf '%-14s %12s %12s\n' "$workload" "$fuel" "$ceiling"
  if [ "$fuel" -gt "$ceiling" ]; then
    echo "FAIL: $workload takes $fuel fuel, over its ceiling $ceiling"
    failed=1
  fi
done < tests/fuel.ceilings
# Every workload the binary measures has a ceiling.
while read -r workload _; do
  grep -q "^$workload " tests/fuel.ceilings \
    || { echo "FAIL: $workload has no ceiling in tests/fuel.ceilings"; failed=1; }
done <<< "$counts"
exit "$failed"

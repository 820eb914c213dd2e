#!/usr/bin/env bash
# Instruction counts under callgrind: one health evaluation (2 and 8 assets),
# one liquidation unit, and the default market's whole cascade. Only the
# instructions inside each workload's `measured_*` function count
# (host-harness/examples/instructions.rs), so the counts do not move with
# machine noise. Fails if a count passes its ceiling in
# tests/instructions.ceilings: a regression shows as a failed CI step.
# Needs valgrind (.ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --release -p firesale-harness --example instructions
bin=target/release/examples/instructions
failed=0
printf '%-12s %14s %14s\n' workload instructions ceiling
while read -r workload per ceiling; do
  case "$workload" in ''|'#'*) continue ;; esac
  total=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      --toggle-collect='*measured_*' "$bin" "$workload" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  [ -n "$total" ] || { echo "FAIL: no count for $workload"; exit 1; }
  count=$((total / per))
  printf '%-12s %14s %14s\n' "$workload" "$count" "$ceiling"
  if [ "$count" -gt "$ceiling" ]; then
    echo "FAIL: $workload takes $count instructions, over its ceiling $ceiling"
    failed=1
  fi
done < tests/instructions.ceilings
exit "$failed"

#!/usr/bin/env bash
# Cross-target determinism: the golden digests, the kernel's and the next
# engine's, under Miri on a big-endian target (s390x) and a 32-bit one
# (i686), which must match the committed files computed on x86_64. Miri interprets every instruction (about 1.5
# minutes a scenario), so CI checks the scenario with the most arithmetic
# (cross margin over exponential and square-root curves: exp, sqrt, the
# waterfall); `bash tests/miri.sh all` checks all four.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal --component miri,rust-src || true
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "SKIPPED: Miri is not available on this machine (nightly with the miri component)."
  exit 0
fi

if [ "${1:-}" = all ]; then scenarios="0 1 2 3"; else scenarios="2"; fi
for target in s390x-unknown-linux-gnu i686-unknown-linux-gnu; do
  for index in $scenarios; do
    echo "==> golden $index, kernel and next engine, under Miri on $target"
    FIRESALE_GOLDEN_ONLY=$index cargo +nightly miri test -q -p firesale-golden --target "$target" --test digests
  done
done
for target in s390x-unknown-linux-gnu i686-unknown-linux-gnu; do
  echo "==> the next representation's fixtures under Miri on $target"
  cargo +nightly miri test -q -p firesale-next --features fixtures --target "$target" --lib \
    fixtures::tests::the_fixtures_line_is_the_committed_one
  echo "==> the next engine's deleveraging digests under Miri on $target"
  cargo +nightly miri test -q -p firesale-next --target "$target" --lib \
    engine::deleverage_tests::deleveraging_runs_have_the_committed_digests
  echo "==> the next engine's ranked deleveraging digests under Miri on $target"
  cargo +nightly miri test -q -p firesale-next --target "$target" --lib \
    engine::ranked_tests::ranked_runs_have_the_committed_digests
done
echo "OK: golden digests (kernel and next engine), next's fixtures and deleveraging digests (pro rata and ranked) under Miri on s390x (big-endian) and i686 (32-bit) match x86_64"

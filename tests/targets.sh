#!/usr/bin/env bash
# Runs the golden scenarios on the three targets and fails unless every
# digest equals the host's: the host (x86_64), a Cortex-M3 under QEMU
# (lm3s6965evb), and wasm32 under Node. Also checks the firmware's flash,
# static RAM and measured stack against the budgets in docs/targets.md.
# Needs: rustup targets thumbv7m-none-eabi and wasm32-unknown-unknown,
# qemu-system-arm, node, and binutils' `size` (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

FLASH_BUDGET=114688  # bytes: vector table + .text + .rodata + .data (112 KiB)
# Issue 21's floors for the firmware running the golden scenarios in the
# engine being rebuilt (next/): 64 KiB of flash, 16 KiB of stack.
NEXT_FLASH_FLOOR=65536
NEXT_STACK_FLOOR=16384
RAM_BUDGET=1024      # bytes: .data + .bss
STACK_BUDGET=53248   # bytes: measured high-water mark

out=target/golden
mkdir -p "$out"

cargo run -q --release -p firesale-golden --example print > "$out/host-full.txt"
grep '^golden ' "$out/host-full.txt" > "$out/host.txt"
# The next engine's golden lines on the host: the committed file.
grep '^next golden' "$out/host-full.txt" | diff -u tests/golden/next-digests.txt - \
  || { echo "FAIL: the next engine's golden lines on the host differ from the committed file"; exit 1; }

(cd tests/embedded && cargo build -q --release --target-dir ../../target)
elf=target/thumbv7m-none-eabi/release/firesale-embedded
timeout 120 qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic \
  -semihosting-config enable=on,target=native -kernel "$elf" > "$out/qemu-full.txt" 2> "$out/qemu-stderr.txt" \
  || { echo "firmware failed:"; cat "$out/qemu-full.txt" "$out/qemu-stderr.txt"; exit 1; }
grep '^golden ' "$out/qemu-full.txt" > "$out/qemu.txt"

# The engine being rebuilt (issue 21) on the Cortex-M3: its fixtures, and
# the golden scenarios in it (a firmware of their own, whose flash and stack
# are the issue's floor).
(cd tests/embedded && cargo build -q --release --bin next --bin next-golden --target-dir ../../target)
next_elf=target/thumbv7m-none-eabi/release/next
next_golden_elf=target/thumbv7m-none-eabi/release/next-golden
for bin in next next-golden; do
  timeout 120 qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic \
    -semihosting-config enable=on,target=native -kernel "target/thumbv7m-none-eabi/release/$bin" \
    > "$out/qemu-$bin-full.txt" 2> /dev/null \
    || { echo "$bin firmware failed:"; cat "$out/qemu-$bin-full.txt"; exit 1; }
done

cargo build -q --release -p firesale-wasm --target wasm32-unknown-unknown
node tests/wasm/run.mjs target/wasm32-unknown-unknown/release/firesale_wasm.wasm > "$out/node-full.txt"
grep '^golden ' "$out/node-full.txt" > "$out/node.txt"

# The defmt variant: the device sends interned ids and raw values over
# semihosting; defmt-print formats them on the host with the ELF's table.
if command -v defmt-print >/dev/null; then
  (cd tests/embedded && cargo build -q --release --features defmt --target-dir ../../target/defmt)
  defmt_elf=target/defmt/thumbv7m-none-eabi/release/firesale-embedded
  timeout 120 qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic \
    -semihosting-config enable=on,target=native -kernel "$defmt_elf" 2> /dev/null \
    | defmt-print -e "$defmt_elf" > "$out/defmt-full.txt"
  grep '^golden ' "$out/defmt-full.txt" > "$out/defmt.txt"
  echo "firmware with defmt (decoded by defmt-print):"; cat "$out/defmt.txt"
  diff -u "$out/host.txt" "$out/defmt.txt" || { echo "FAIL: defmt firmware digests differ"; exit 1; }
else
  echo "defmt-print not installed: skipping the defmt variant"
fi

echo "host (x86_64):";            cat "$out/host.txt"
echo "firmware (Cortex-M3, QEMU):"; cat "$out/qemu.txt"
echo "wasm32 (Node):";            cat "$out/node.txt"
diff -u "$out/host.txt" "$out/qemu.txt" || { echo "FAIL: firmware digests differ from the host's"; exit 1; }
diff -u "$out/host.txt" "$out/node.txt" || { echo "FAIL: wasm digests differ from the host's"; exit 1; }
diff -u tests/golden/digests.txt "$out/host.txt" || { echo "FAIL: host digests differ from the committed golden file"; exit 1; }
echo "OK: $(wc -l < "$out/host.txt") golden digests equal on host, Cortex-M3 and wasm32"

# next/fixtures.txt and tests/golden/next-digests.txt are the host's lines
# (firesale-next's and firesale-golden's own tests check them).
for target in qemu-next-full node-full; do
  grep '^next fixtures' "$out/$target.txt" | diff -u next/fixtures.txt - \
    || { echo "FAIL: the next representation's fixtures differ on $target"; exit 1; }
done
for target in qemu-next-golden-full node-full; do
  grep '^next golden' "$out/$target.txt" | diff -u tests/golden/next-digests.txt - \
    || { echo "FAIL: the next engine's golden lines differ on $target"; exit 1; }
done
next_flash=$(size -A "$next_elf" | awk '$1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" || $1 == ".data" { f += $2 } END { print f }')
next_stack=$(sed -n 's/^stack high-water \([0-9]*\) bytes.*/\1/p' "$out/qemu-next-full.txt")
echo "OK: the next representation's fixtures equal on host, Cortex-M3 and wasm32 ($(cat next/fixtures.txt))"
echo "OK: $(wc -l < tests/golden/next-digests.txt) next golden lines equal on host, Cortex-M3 and wasm32"
printf 'next fixtures firmware: flash %s B, stack high-water %s B\n' "$next_flash" "$next_stack"
golden_flash=$(size -A "$next_golden_elf" | awk '$1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" || $1 == ".data" { f += $2 } END { print f }')
golden_stack=$(sed -n 's/^stack high-water \([0-9]*\) bytes.*/\1/p' "$out/qemu-next-golden-full.txt")
printf 'next golden firmware: flash %s B (floor %s), stack high-water %s B (floor %s)\n' \
  "$golden_flash" "$NEXT_FLASH_FLOOR" "$golden_stack" "$NEXT_STACK_FLOOR"
[ "$golden_flash" -le "$NEXT_FLASH_FLOOR" ] || { echo "FAIL: next golden firmware flash over issue 21's floor"; exit 1; }
[ "$golden_stack" -le "$NEXT_STACK_FLOOR" ] || { echo "FAIL: next golden firmware stack over issue 21's floor"; exit 1; }

read -r flash ram < <(size -A "$elf" | awk '
  $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
  $1 == ".data" { flash += $2; ram += $2 }
  $1 == ".bss" || $1 == ".uninit" { ram += $2 }
  END { print flash, ram }')
stack=$(sed -n 's/^stack high-water \([0-9]*\) bytes.*/\1/p' "$out/qemu-full.txt")
if [ -n "${defmt_elf:-}" ]; then
  defmt_flash=$(size -A "$defmt_elf" | awk '$1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" || $1 == ".data" { f += $2 } END { print f }')
  defmt_stack=$(sed -n 's/^stack high-water \([0-9]*\) bytes.*/\1/p' "$out/defmt-full.txt")
  printf 'firmware with defmt: flash %s B, stack high-water %s B\n' "$defmt_flash" "$defmt_stack"
fi
printf 'firmware: flash %s B (budget %s), static RAM %s B (budget %s), stack high-water %s B (budget %s)\n' \
  "$flash" "$FLASH_BUDGET" "$ram" "$RAM_BUDGET" "$stack" "$STACK_BUDGET"
[ "$flash" -le "$FLASH_BUDGET" ] || { echo "FAIL: flash over budget"; exit 1; }
[ "$ram" -le "$RAM_BUDGET" ] || { echo "FAIL: static RAM over budget"; exit 1; }
[ -n "$stack" ] && [ "$stack" -le "$STACK_BUDGET" ] || { echo "FAIL: stack over budget"; exit 1; }

// Runs the golden scenarios in the wasm32 build of the kernel under Node and
// prints one line each, as the host and the firmware do.
// Usage: node tests/wasm/run.mjs target/wasm32-unknown-unknown/release/firesale_wasm.wasm
import { readFileSync } from "node:fs";

const path = process.argv[2];
if (!path) {
  console.error("usage: node run.mjs PATH_TO_WASM");
  process.exit(2);
}
const { instance } = await WebAssembly.instantiate(readFileSync(path), {});
const { golden_count, golden_line, line_buffer, memory } = instance.exports;
let failed = false;
for (let i = 0; i < golden_count(); i++) {
  const len = golden_line(i);
  if (len === 0) {
    console.log(`golden ${i} error`);
    failed = true;
    continue;
  }
  const bytes = new Uint8Array(memory.buffer, line_buffer(), len);
  console.log(new TextDecoder().decode(bytes));
}
// The next number representation's fixtures (issue 21), if the module has them.
if (instance.exports.next_line) {
  const len = instance.exports.next_line();
  if (len === 0) {
    console.log("next fixtures error");
    failed = true;
  } else {
    console.log(new TextDecoder().decode(new Uint8Array(memory.buffer, line_buffer(), len)));
  }
}
// The golden scenarios in the engine being rebuilt, if the module has them.
if (instance.exports.next_golden_line) {
  for (let i = 0; i < golden_count(); i++) {
    const len = instance.exports.next_golden_line(i);
    if (len === 0) {
      console.log(`next golden ${i} error`);
      failed = true;
      continue;
    }
    console.log(new TextDecoder().decode(new Uint8Array(memory.buffer, line_buffer(), len)));
  }
}
process.exit(failed ? 1 : 0);

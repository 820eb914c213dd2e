//! Fuzz target `scan_equivalence`: see `firesale_tests::fuzzing::scan_equivalence` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| firesale_tests::fuzzing::scan_equivalence(data));

//! Fuzz target `cascade_audit`: see `firesale_tests::fuzzing::cascade_audit` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| firesale_tests::fuzzing::cascade_audit(data));

//! Fuzz target `next_cascade`: see `firesale_tests::fuzzing::next_cascade` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| firesale_tests::fuzzing::next_cascade(data));

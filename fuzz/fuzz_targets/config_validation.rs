//! Fuzz target `config_validation`: see `firesale_tests::fuzzing::config_validation` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| firesale_tests::fuzzing::config_validation(data));

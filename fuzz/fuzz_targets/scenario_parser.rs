//! Fuzz target `scenario_parser`: see `firesale_tests::fuzzing::scenario_parser`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| firesale_tests::fuzzing::scenario_parser(data));

//! Arbitrary markets, policies and shocks, run under random step budgets with
//! the conservation audit, the health check and the fixed-point check after
//! every step. Any panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (scenario, budgets) = firesale_tests::bytes::scenario(data);
    // Invalid configurations are fine (a named error); broken invariants panic.
    let _ = firesale_tests::try_run_checked(&scenario, &budgets);
});

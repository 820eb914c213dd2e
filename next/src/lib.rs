//! # firesale-next
//!
//! The number representation the kernel moves to under issue 21, built and
//! measured here before the engine is carried over: amounts as `i64` integers
//! in each asset's base units, prices and ratios as decimal fixed point, every
//! product within a native `i128` and every quotient one 128-by-64-bit
//! division. `firesale-core` is still the kernel every command runs; this
//! crate holds the pieces already carried over, each tested on its own and
//! counted by `bash tests/instructions.sh` beside the kernel's.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

#[cfg(test)]
extern crate std;

pub mod account;
pub mod digest;
pub mod divisor;
pub mod engine;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod ledger;
pub mod liquidate;
pub mod num;
pub mod policy;
pub mod pool;
pub mod venue;

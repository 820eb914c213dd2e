//! firesale-core: a deterministic liquidation-cascade kernel.
#![no_std]
#![forbid(unsafe_code)]

pub mod num;
pub mod account;
pub mod asset;
pub mod error;
pub mod venue;

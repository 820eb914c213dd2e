//! # firesale-core
//!
//! A `no_std`, fixed-point, deterministic liquidation-cascade kernel.
//!
//! Given accounts holding leveraged positions ([`account`]), markets with
//! finite liquidity ([`venue`]), a liquidation [`policy`], and scheduled
//! [`shock`]s, the [`engine`] computes exactly and reproducibly how
//! liquidations propagate: who is liquidated, in what order, at what prices,
//! how far prices fall, how much bad debt arises and who absorbs it
//! ([`ledger`]).
//!
//! The kernel allocates nothing and owns no large arrays: the caller hands it
//! the accounts' balances and a scratch area ([`engine::Storage`]), fixed at
//! construction. It never panics: every failure is an [`error::Error`]. It
//! uses no floats in any state-changing path, so a run's [`Engine::digest`]
//! is the same on every target.
#![no_std]
#![forbid(unsafe_code)]
// The lints in Cargo.toml deny unwrap, panics, indexing and unchecked
// arithmetic in the kernel; unit tests may use them to state expectations.
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

pub mod account;
pub mod asset;
pub mod containment;
pub mod digest;
pub mod engine;
pub mod error;
pub mod event;
pub mod ledger;
pub mod num;
pub mod policy;
pub mod report;
pub mod shock;
pub mod venue;

#[cfg(test)]
mod test_rng;

pub use asset::{AssetConfig, HealthTier, Weights};
pub use containment::{
    AdlRanking, AssetLimits, AuctionCurve, AuctionRule, Backstop, Breaker, Containment,
    KeeperCapital, OracleRule, RateLimit, Settlement,
};
pub use engine::{Engine, EngineConfig, StepOutcome, Storage};
pub use error::{ConfigError, Error};
pub use event::{Event, EventSink, Termination};
pub use num::{Price, Qty, Ratio, Value};
pub use policy::Policy;
pub use report::Report;
pub use shock::{Shock, ShockKind};
pub use venue::VenueConfig;

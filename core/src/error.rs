//! Errors: every one names what is wrong and where.

use crate::num::ArithError;
use crate::venue::VenueError;

/// A parameter of an asset, named in configuration errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AssetParam {
    /// The oracle price.
    Price,
    /// Asset weights (init, liquidation-end, maint).
    AssetWeights,
    /// Liability weights (init, liquidation-end, maint).
    LiabilityWeights,
    /// The liquidation bonus.
    LiquidationBonus,
    /// The protocol's share of the bonus.
    ProtocolFee,
    /// The dust size.
    Dust,
    /// The venue's kind (the quote asset must be asset 0 and only it).
    VenueKind,
    /// The venue's liquidity (depth, reserve, volume, λ).
    VenueLiquidity,
    /// The venue's resilience.
    VenueResilience,
    /// The venue's floor price.
    VenueFloor,
    /// The venue's fee.
    VenueFee,
    /// The order book's level count or tick.
    VenueLevels,
    /// The per-round notional cap must be above zero.
    NotionalCap,
    /// The circuit breaker's move must be above zero.
    BreakerMove,
    /// The circuit breaker's window must be 1 to 15 rounds.
    BreakerWindow,
    /// The circuit breaker's pause must be at least 1 round.
    BreakerPause,
    /// The auction rule: buf ≥ 1, a curve that falls, tail ≥ 1, cusp in
    /// [0, 1), penalty, tip and chip ≥ 0, and not on the quote asset.
    Auction,
}

/// A parameter of the policy or the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EngineParam {
    /// The close factor must be in (0, 1].
    CloseFactor,
    /// The full-close health factor must be in (0, 1].
    FullCloseHealthFactor,
    /// The full-close debt value must be >= 0.
    FullCloseDebtValue,
    /// The round cap must be at least 1.
    MaxRounds,
    /// The oracle lag exceeds the most the kernel stores.
    OracleLag,
    /// The insurance fund must be >= 0.
    InsuranceFund,
    /// The global per-round notional cap must be above zero.
    RateLimit,
    /// Keeper capital: amounts >= 0, `max >= initial`, `max > 0`.
    KeeperCapital,
    /// The oracle's TWAP window must be at least 1 round, and with the lag
    /// at most 16 rounds back.
    OracleTwap,
    /// The oracle's heartbeat must be at least 1 round.
    OracleHeartbeat,
    /// The oracle's deviation threshold must be in [0, 1).
    OracleDeviation,
    /// More per-asset limits than assets.
    AssetLimits,
    /// The backstop threshold must be in (0, 1].
    Backstop,
    /// Equilibrium settlement needs oracle lag 0, the plain oracle, no other
    /// containment, and no account short a risky asset (it settles sales).
    Settlement,
}

/// What the configuration asks that the kernel cannot hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Capacity {
    /// Assets (the quote asset included).
    Assets,
    /// Accounts (ids are `u32`).
    Accounts,
    /// The balance storage is not `accounts × assets` long.
    BalanceStorage,
    /// The scratch storage is shorter than the accounts.
    ScratchStorage,
    /// The flag storage is shorter than `flag_words(accounts)`.
    FlagStorage,
}

/// What overflowed while the engine was being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Magnitude {
    /// The venue's starting state (for a pool: base reserve × price).
    Venue,
    /// The price times a weight.
    WeightedPrice,
    /// The sum of all accounts' balances of the asset.
    BalanceTotal,
}

/// An invalid configuration, naming the parameter and where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// An asset's parameter is out of range or out of order.
    Asset {
        /// Index of the asset.
        asset: u8,
        /// The parameter at fault.
        param: AssetParam,
    },
    /// Under this bonus a liquidation could lower health: the collateral's
    /// maint asset weight × (1 + bonus) must stay below the liability's
    /// maint liability weight.
    BonusLowersHealth {
        /// Index of the collateral asset.
        collateral: u8,
        /// Index of the liability asset.
        liability: u8,
    },
    /// A policy or engine parameter is out of range.
    Engine(EngineParam),
    /// More than the kernel can hold, or storage of the wrong size.
    CapacityExceeded {
        /// What overflowed.
        what: Capacity,
        /// The most allowed (or the size expected).
        limit: usize,
        /// What was asked.
        got: usize,
    },
    /// A number too large for the kernel's fixed point.
    TooLarge {
        /// The asset.
        asset: u8,
        /// What overflowed.
        what: Magnitude,
    },
    /// An account's balances are too large for its health at the starting
    /// prices (collateral at its full price, debts at the liquidation-end
    /// weight, the largest the kernel uses): the first scan would fail.
    AccountTooLarge {
        /// The account.
        account: u32,
    },
    /// A shock is out of round order, names an unknown or quote asset, or has
    /// a non-positive price, ratio or quantity.
    Shock {
        /// Index of the shock in the schedule.
        index: u16,
    },
}

/// A kernel failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The configuration is invalid.
    Config(ConfigError),
    /// A computation overflowed.
    Arithmetic {
        /// Round in which it happened (a round's start that failed was
        /// undone: this is the round it was starting).
        round: u32,
        /// Account being processed, if any.
        account: Option<u32>,
        /// The asset whose venue or price was being computed, when the
        /// failure was in one asset's market (a shock, a trade, a price, a
        /// recovery).
        asset: Option<u8>,
        /// The shock being applied, by its index in the schedule, when a
        /// shock failed.
        shock: Option<u16>,
        /// The failure.
        kind: ArithError,
    },
    /// A checked invariant failed: a kernel bug, reported rather than hidden.
    Invariant(Invariant),
}

/// An invariant the kernel checks while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Invariant {
    /// A liquidation lowered the account's maintenance health.
    HealthLowered {
        /// The account.
        account: u32,
    },
    /// A liquidation seized more than the account held.
    OverSeized {
        /// The account.
        account: u32,
    },
    /// A unit wrote a second other account's row before a savepoint.
    UndoJournalFull,
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

/// Failure inside a round, before the engine adds where it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepFault {
    Arith(ArithError),
    /// An arithmetic failure in one asset's market, or in a shock.
    ArithAt {
        asset: u8,
        shock: Option<u16>,
        kind: ArithError,
    },
    VenueExhausted {
        asset: u8,
    },
    Invariant(Invariant),
}

impl From<ArithError> for StepFault {
    fn from(e: ArithError) -> Self {
        StepFault::Arith(e)
    }
}

impl StepFault {
    pub(crate) fn from_venue(asset: u8, e: VenueError) -> Self {
        match e {
            VenueError::Exhausted => StepFault::VenueExhausted { asset },
            VenueError::Arith(kind) => StepFault::ArithAt {
                asset,
                shock: None,
                kind,
            },
        }
    }

    /// The fault, placed in asset `asset`'s market if it has no place yet.
    pub(crate) fn in_asset(self, asset: u8) -> Self {
        match self {
            StepFault::Arith(kind) => StepFault::ArithAt {
                asset,
                shock: None,
                kind,
            },
            other => other,
        }
    }

    /// The fault, placed in shock `index` on asset `asset`.
    pub(crate) fn in_shock(self, asset: u8, index: u16) -> Self {
        match self {
            StepFault::Arith(kind) | StepFault::ArithAt { kind, .. } => StepFault::ArithAt {
                asset,
                shock: Some(index),
                kind,
            },
            other => other,
        }
    }
}

//! Containment: what real engines use to slow a cascade down. Every
//! mechanism is off in [`Containment::OFF`], which runs exactly the plain
//! sequential engine (same events, same digest).
//!
//! - Rate limits on liquidations per round: accounts, and debt value
//!   repaid, globally and per collateral asset (MakerDAO's `Hole` and
//!   `hole`, dYdX's per-block limits). What is over a cap waits for the next
//!   round.
//! - Keeper capital: liquidators bring the debt they repay out of a finite
//!   quote budget, replenished each round; sale proceeds come back to it a
//!   round later. When it runs out, liquidations wait.
//! - The oracle: a time-weighted average over a window of rounds, published
//!   on a heartbeat or a deviation threshold (Chainlink's rule), with a
//!   staleness guard that pauses liquidations against a price too old.
//! - Circuit breakers: an asset whose venue price moved more than a set
//!   fraction within a window of rounds halts: liquidations touching it
//!   pause for a set number of rounds while its venue recovers.
//!
//! - A backstop vault (Hyperliquid's HLP) that takes over, whole and at no
//!   price impact, an account whose equity fell below a share of its
//!   maintenance margin.
//! - Auto-deleveraging: an underwater account the insurance fund cannot
//!   make whole is closed against opposite positions at its bankruptcy
//!   price, ranked or pro-rata, instead of selling into the market.
//!
//! Budgets are measured in the value of the debt repaid at the oracle price
//! of the moment: what a keeper must bring, known before the trade.

use crate::error::{AssetParam, ConfigError, EngineParam};
use crate::num::{Ratio, Value};

/// Caps on the liquidations of one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateLimit {
    /// Most accounts liquidated per round; 0 for no cap.
    pub max_accounts_per_round: u32,
    /// Most debt value repaid per round over all assets; `None` for no cap.
    pub max_notional_per_round: Option<Value>,
}

/// The liquidators' quote budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeeperCapital {
    /// Quote available in round 1.
    pub initial: Value,
    /// Quote added at the start of each later round.
    pub replenish_per_round: Value,
    /// The budget never exceeds this.
    pub max: Value,
}

/// How the oracle price is formed and published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OracleRule {
    /// Rounds averaged (1: the lagged venue price itself). With the lag,
    /// at most [`crate::engine::MAX_ORACLE_LAG`] + 1 rounds back.
    pub twap_rounds: u8,
    /// A new price is published at least every this many rounds (≥ 1).
    pub heartbeat_rounds: u8,
    /// ... or as soon as it differs from the published one by this fraction
    /// (0: every round).
    pub deviation: Ratio,
    /// Liquidations touching an asset whose price is older than this many
    /// rounds wait; 0 for no guard.
    pub max_age_rounds: u8,
}

/// A volatility halt on one asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Breaker {
    /// Trips when the venue price moved by more than this fraction ...
    pub max_move: Ratio,
    /// ... against its price this many rounds before (1 to 15).
    pub window_rounds: u8,
    /// Liquidations touching the asset pause for this many rounds (≥ 1).
    pub pause_rounds: u8,
}

/// How a Dutch auction's price falls with the rounds since it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuctionCurve {
    /// `top × (1 − elapsed / rounds)`, zero from `rounds` on (MakerDAO's
    /// `LinearDecrease`, `tau`).
    Linear {
        /// Rounds to reach zero (≥ 1).
        rounds: u32,
    },
    /// `top × cut^(elapsed / step_rounds)` (`StairstepExponentialDecrease`).
    Stairstep {
        /// The factor per step, in (0, 1).
        cut: Ratio,
        /// Rounds per step (≥ 1).
        step_rounds: u32,
    },
}

/// Dutch-auction disposal of seized collateral (MakerDAO Liquidations 2.0,
/// `clip.sol`): instead of selling into the venue at once, the collateral
/// and the debt go into an auction whose price starts at oracle × `buf` and
/// falls; keepers take collateral when the price is below what the venue
/// pays them, within their capital.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AuctionRule {
    /// Start price over the oracle (≥ 1).
    pub buf: Ratio,
    /// The price curve.
    pub curve: AuctionCurve,
    /// Restart after this many rounds (`tail`; ≥ 1).
    pub tail_rounds: u32,
    /// ... or when the price falls below this share of its start (`cusp`,
    /// in [0, 1)).
    pub cusp: Ratio,
    /// The penalty: the auction tries to raise the debt × (1 + penalty)
    /// (`chop` − 1); the penalty goes to the insurance fund.
    pub penalty: Ratio,
    /// Flat incentive paid to the keeper that starts an auction (`tip`).
    pub tip: Value,
    /// Plus this share of the amount to raise (`chip`).
    pub chip: Ratio,
}

/// Containment settings of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AssetLimits {
    /// A circuit breaker on the asset's venue price.
    pub breaker: Option<Breaker>,
    /// Most debt value repaid per round by liquidations seizing this asset
    /// (MakerDAO's per-collateral `hole`).
    pub max_notional_per_round: Option<Value>,
    /// Dutch-auction disposal of this asset when seized for quote debt.
    pub auction: Option<AuctionRule>,
}

/// How auto-deleveraging picks the opposite positions it closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AdlRanking {
    /// Highest (mark / entry) × (notional / equity) first, ties by id
    /// (Hyperliquid). Entry is the run's starting price, the same for all,
    /// so the rank is by leverage.
    Ranked,
    /// Every opposite position in proportion to its size.
    ProRata,
}

/// Hyperliquid's backstop liquidator vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backstop {
    /// The vault takes over a liquidatable account whose equity is below
    /// this share of its maintenance margin (Hyperliquid: 2/3), in (0, 1].
    pub below: Ratio,
}

/// How a round's liquidation sales settle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Settlement {
    /// Each liquidation trades when it runs, lowest health first.
    #[default]
    Sequential,
    /// All sales of a round clear at one price per asset: the greatest
    /// fixed point of the price map, found by iteration from above
    /// (Cifuentes–Ferrucci–Shin, Cont–Schaanning). docs/equilibrium.md.
    Equilibrium,
}

/// Every containment setting of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Containment<'c> {
    /// Per-round caps.
    pub rate_limit: RateLimit,
    /// The keepers' budget; `None` for unlimited keepers.
    pub keepers: Option<KeeperCapital>,
    /// The oracle.
    pub oracle: OracleRule,
    /// Per asset, in asset order; shorter than the assets (or empty) means
    /// no limits on the rest.
    pub per_asset: &'c [AssetLimits],
    /// The backstop vault; `None` for none.
    pub backstop: Option<Backstop>,
    /// Auto-deleveraging; `None` for none (the waterfall socializes).
    pub deleveraging: Option<AdlRanking>,
    /// How a round's sales settle.
    pub settlement: Settlement,
}

impl Containment<'_> {
    /// Every mechanism off: the plain engine.
    pub const OFF: Containment<'static> = Containment {
        rate_limit: RateLimit {
            max_accounts_per_round: 0,
            max_notional_per_round: None,
        },
        keepers: None,
        oracle: OracleRule::SPOT,
        per_asset: &[],
        backstop: None,
        deleveraging: None,
        settlement: Settlement::Sequential,
    };

    /// Checks every setting; the error names it (and the asset).
    pub fn validate(&self, assets: usize, lag: usize) -> Result<(), ConfigError> {
        let engine = |p| Err(ConfigError::Engine(p));
        if self
            .rate_limit
            .max_notional_per_round
            .is_some_and(|v| !v.is_positive())
        {
            return engine(EngineParam::RateLimit);
        }
        if let Some(k) = self.keepers {
            let valid = !k.initial.is_negative()
                && !k.replenish_per_round.is_negative()
                && k.max >= k.initial
                && k.max.is_positive();
            if !valid {
                return engine(EngineParam::KeeperCapital);
            }
        }
        let o = self.oracle;
        let history = crate::engine::MAX_ORACLE_LAG + 1;
        if o.twap_rounds == 0 || lag.saturating_add(usize::from(o.twap_rounds)) > history {
            return engine(EngineParam::OracleTwap);
        }
        if o.heartbeat_rounds == 0 {
            return engine(EngineParam::OracleHeartbeat);
        }
        if o.deviation.is_negative() || o.deviation.0 >= crate::num::Fx::ONE {
            return engine(EngineParam::OracleDeviation);
        }
        if self
            .backstop
            .is_some_and(|b| !b.below.is_positive() || b.below.0 > crate::num::Fx::ONE)
        {
            return engine(EngineParam::Backstop);
        }
        if self.settlement == Settlement::Equilibrium {
            // Equilibrium marks every account at the clearing price and
            // sells only: the mechanisms that delay, redirect or price sales
            // otherwise do not apply to it.
            let plain = lag == 0
                && self.oracle == OracleRule::SPOT
                && self.keepers.is_none()
                && self.rate_limit.max_accounts_per_round == 0
                && self.rate_limit.max_notional_per_round.is_none()
                && self.backstop.is_none()
                && self.deleveraging.is_none()
                && self.per_asset.iter().all(|a| *a == AssetLimits::default());
            if !plain {
                return engine(EngineParam::Settlement);
            }
        }
        if self.per_asset.len() > assets {
            return engine(EngineParam::AssetLimits);
        }
        for (i, limits) in self.per_asset.iter().enumerate() {
            let asset = u8::try_from(i).unwrap_or(u8::MAX);
            let fail = |param| Err(ConfigError::Asset { asset, param });
            if limits
                .max_notional_per_round
                .is_some_and(|v| !v.is_positive())
            {
                return fail(AssetParam::NotionalCap);
            }
            if let Some(a) = limits.auction {
                let curve_ok = match a.curve {
                    AuctionCurve::Linear { rounds } => rounds > 0,
                    AuctionCurve::Stairstep { cut, step_rounds } => {
                        cut.is_positive() && cut.0 < crate::num::Fx::ONE && step_rounds > 0
                    }
                };
                let valid = a.buf.0 >= crate::num::Fx::ONE
                    && curve_ok
                    && a.tail_rounds > 0
                    && !a.cusp.is_negative()
                    && a.cusp.0 < crate::num::Fx::ONE
                    && !a.penalty.is_negative()
                    && !a.tip.is_negative()
                    && !a.chip.is_negative();
                if !valid || i == 0 {
                    return fail(AssetParam::Auction);
                }
            }
            if let Some(b) = limits.breaker {
                if !b.max_move.is_positive() {
                    return fail(AssetParam::BreakerMove);
                }
                if b.window_rounds == 0 || usize::from(b.window_rounds) >= history {
                    return fail(AssetParam::BreakerWindow);
                }
                if b.pause_rounds == 0 {
                    return fail(AssetParam::BreakerPause);
                }
            }
        }
        Ok(())
    }
}

impl Default for Containment<'_> {
    fn default() -> Self {
        Containment::OFF
    }
}

impl OracleRule {
    /// The plain oracle: the lagged venue price, published every round.
    pub const SPOT: OracleRule = OracleRule {
        twap_rounds: 1,
        heartbeat_rounds: 1,
        deviation: Ratio::ZERO,
        max_age_rounds: 0,
    };
}

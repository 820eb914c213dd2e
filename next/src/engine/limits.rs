//! Containment around the units (docs/containment.md): the oracle rule (an
//! average of the lagged venue prices, published on a heartbeat or a
//! deviation, with a staleness guard), circuit breakers, and the per-round
//! caps that rate limits and keeper capital put on liquidations. Each round
//! opens a [`Gate`] the units are held to: the assets a halt or a stale
//! oracle blocks, the notional room of the round and of each collateral,
//! the keepers' capital.
//!
//! The comparisons are exact on mantissas (an asset's prices share its
//! exponent): a breaker trips when `|now − then| × 10^9 > max_move × then`,
//! an oracle publishes when `|candidate − published| × 10^9 >= deviation ×
//! published`; the average rounds down.

use super::{ring_back, Engine, EventSink, HISTORY};
use crate::liquidate::Gate;
use crate::num::{ArithError, ArithResult, Ratio, Value, RATIO_SCALE};

/// How an oracle price is formed and published (Chainlink's rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OracleRule {
    /// Rounds averaged (1: the lagged venue price itself); with the lag at
    /// most [`super::MAX_ORACLE_LAG`] + 1.
    pub twap_rounds: u8,
    /// A price is published at least every this many rounds (≥ 1) ...
    pub heartbeat_rounds: u8,
    /// ... or as soon as it differs from the published one by this
    /// fraction (0: every round; below one).
    pub deviation: Ratio,
    /// Liquidations touching an asset whose price is older than this many
    /// rounds wait; 0 for no guard.
    pub max_age_rounds: u8,
}

impl OracleRule {
    /// The lagged venue price, published every round.
    pub const SPOT: OracleRule = OracleRule {
        twap_rounds: 1,
        heartbeat_rounds: 1,
        deviation: Ratio::ZERO,
        max_age_rounds: 0,
    };
}

/// The liquidators' quote budget (base units of the quote).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeeperCapital {
    /// Quote held in round 1.
    pub initial: Value,
    /// Quote added at the start of each later round.
    pub replenish_per_round: Value,
    /// The budget never exceeds this.
    pub max: Value,
}

/// A volatility halt on one asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Breaker {
    /// Trips when the venue price moved by more than this fraction ...
    pub max_move: Ratio,
    /// ... against its price this many rounds before (1 to 15).
    pub window_rounds: u8,
    /// Liquidations touching the asset wait this many rounds (≥ 1).
    pub pause_rounds: u8,
}

/// Containment of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AssetLimits {
    /// A circuit breaker on its venue price.
    pub breaker: Option<Breaker>,
    /// Most debt value repaid a round by liquidations seizing it
    /// (MakerDAO's per-collateral `hole`).
    pub max_notional_per_round: Option<Value>,
    /// Dutch-auction disposal of it when seized for quote debt.
    pub auction: Option<super::AuctionRule>,
}

/// The containment a run is configured with, beyond the cap on accounts
/// and auto-deleveraging ([`super::EngineConfig`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Containment<'c> {
    /// Most debt value repaid a round over all assets (MakerDAO's `Hole`).
    pub max_notional_per_round: Option<Value>,
    /// The keepers' budget; `None` for keepers without limit.
    pub keepers: Option<KeeperCapital>,
    /// The oracle.
    pub oracle: OracleRule,
    /// Per asset, in asset order; shorter than the assets means none for
    /// the rest.
    pub per_asset: &'c [AssetLimits],
    /// The backstop vault; `None` for none.
    pub backstop: Option<super::Backstop>,
    /// How a round's liquidation sales are priced.
    pub settlement: Settlement,
}

/// How a round's liquidation sales are priced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Settlement {
    /// Each sale trades when it runs, along its venue's curve.
    #[default]
    Sequential,
    /// All of a round's sales clear at one price an asset, the greatest
    /// fixed point of the price map ([`super::equilibrium`]).
    Equilibrium,
}

impl Containment<'_> {
    /// None of it: the plain engine.
    pub const OFF: Containment<'static> = Containment {
        max_notional_per_round: None,
        keepers: None,
        oracle: OracleRule::SPOT,
        per_asset: &[],
        backstop: None,
        settlement: Settlement::Sequential,
    };

    /// Whether units are held to a gate: some cap, keepers, a breaker or a
    /// staleness guard.
    pub fn gates(&self) -> bool {
        self.max_notional_per_round.is_some()
            || self.keepers.is_some()
            || self.oracle.max_age_rounds > 0
            || self.backstop.is_some()
            || self.per_asset.iter().any(|a| *a != AssetLimits::default())
    }

    /// Checks every setting against `assets` assets and an oracle lag of
    /// `lag` rounds; a build without the `containment` feature refuses
    /// all but [`Containment::OFF`]'s.
    pub fn validate(&self, assets: usize, lag: usize) -> Result<(), super::ConfigError> {
        use super::ConfigError::{AssetLimits as Asset, Containment as Bad};
        let plain = !self.gates() && self.oracle == OracleRule::SPOT;
        let equilibrium = self.settlement == Settlement::Equilibrium;
        if !super::CONTAINMENT_BUILT && (!plain || equilibrium) {
            return Err(Bad);
        }
        // Equilibrium marks every account at the clearing price and sells
        // only: what delays, redirects or prices sales otherwise does not
        // apply to it.
        if equilibrium && !(plain && lag == 0) {
            return Err(super::ConfigError::Settlement);
        }
        let positive = |v: Option<Value>| v.is_none_or(Value::is_positive);
        let keepers_ok = self.keepers.is_none_or(|k| {
            !k.initial.is_negative()
                && !k.replenish_per_round.is_negative()
                && k.max >= k.initial
                && k.max.is_positive()
        });
        let o = self.oracle;
        let oracle_ok = o.twap_rounds > 0
            && lag.saturating_add(usize::from(o.twap_rounds)) <= HISTORY
            && o.heartbeat_rounds > 0
            && o.deviation < Ratio::ONE;
        let backstop_ok = self
            .backstop
            .is_none_or(|b| b.below.0 > 0 && b.below <= Ratio::ONE);
        if !(positive(self.max_notional_per_round) && keepers_ok && oracle_ok && backstop_ok)
            || self.per_asset.len() > assets
        {
            return Err(Bad);
        }
        for (i, limits) in self.per_asset.iter().enumerate() {
            let breaker_ok = limits.breaker.is_none_or(|b| {
                b.max_move.0 > 0
                    && b.window_rounds > 0
                    && usize::from(b.window_rounds) < HISTORY
                    && b.pause_rounds > 0
            });
            let auction_ok = limits.auction.is_none_or(|a| a.is_valid() && i > 0);
            if !(breaker_ok && auction_ok && positive(limits.max_notional_per_round)) {
                let asset = u8::try_from(i).unwrap_or(u8::MAX);
                return Err(Asset { asset });
            }
        }
        Ok(())
    }
}

/// Containment's state over a run, for `A` assets.
#[derive(Clone, Copy, Debug)]
pub(super) struct LimitState<const A: usize> {
    /// The round's gate.
    pub gate: Gate<A>,
    /// Per asset, the last round of its halt (0: never halted).
    pub halted_until: [u32; A],
    /// Per asset, the round its oracle price was last published.
    pub published: [u32; A],
    /// Accounts that waited this round.
    pub round_deferred: u32,
}

impl<const A: usize> LimitState<A> {
    pub(super) fn new(c: &Containment<'_>) -> Self {
        Self {
            gate: Gate {
                keepers: c.keepers.map(|k| k.initial),
                ..Gate::default()
            },
            halted_until: [0; A],
            published: [0; A],
            round_deferred: 0,
        }
    }
}

/// `|a − b| × 10^9` against `ratio × base`: whether the move from `b` to
/// `a` is at least (`or_equal`) or more than `ratio` of `base`.
fn moved_by(a: u64, b: u64, base: u64, ratio: Ratio, or_equal: bool) -> bool {
    // Both products of two 64-bit numbers: neither wraps.
    let moved = u128::from(a.abs_diff(b)).wrapping_mul(u128::from(RATIO_SCALE));
    let limit = u128::from(base).wrapping_mul(u128::from(ratio.0));
    moved > limit || (or_equal && moved == limit)
}

/// The oracle mantissa an asset publishes this round under `rule`, from
/// its venue price `history` (newest at `head`) `lag` rounds back, and its
/// `published` mantissa, last published in round `*last`; `None` when it
/// keeps the published one. Moves `*last` on publishing.
pub(super) fn oracle_update(
    rule: &OracleRule,
    (history, head, lag): (&[u64; HISTORY], usize, usize),
    (published, last): (u64, &mut u32),
    round: u32,
) -> ArithResult<Option<u64>> {
    let twap = usize::from(rule.twap_rounds.max(1));
    let mut sum = 0u128;
    for back in lag..lag.saturating_add(twap) {
        let price = history.get(ring_back(head, back));
        sum = sum.saturating_add(u128::from(*price.ok_or(ArithError::Domain)?));
    }
    let average = sum.checked_div(twap as u128).ok_or(ArithError::Domain)?;
    let candidate = u64::try_from(average).map_err(|_| ArithError::Overflow)?;
    if !super::CONTAINMENT_BUILT || *rule == OracleRule::SPOT {
        return Ok(Some(candidate));
    }
    let due = round.saturating_sub(*last) >= u32::from(rule.heartbeat_rounds);
    if due || moved_by(candidate, published, published, rule.deviation, true) {
        *last = round;
        return Ok(Some(candidate));
    }
    Ok(None)
}

impl<const A: usize, const N: usize> Engine<'_, A, N> {
    /// Trips the breaker of every asset whose venue price moved more than
    /// its limit within its window, unless it is halted already.
    pub(super) fn trip_breakers(&mut self, sink: &mut impl EventSink) {
        let round = self.round;
        for (asset, limits) in self.containment.per_asset.iter().enumerate() {
            let (Some(b), Some(h)) = (limits.breaker, self.history.get(asset)) else {
                continue;
            };
            if self.halted(asset) {
                continue;
            }
            let now = h.get(self.head).copied().unwrap_or(0);
            let back = ring_back(self.head, usize::from(b.window_rounds));
            let then = h.get(back).copied().unwrap_or(now);
            if moved_by(now, then, then, b.max_move, false) {
                let last = round.saturating_add(u32::from(b.pause_rounds).saturating_sub(1));
                if let Some(slot) = self.limits.halted_until.get_mut(asset) {
                    *slot = last;
                }
                sink.emit(&super::Event::BreakerTripped {
                    round,
                    asset: u8::try_from(asset).unwrap_or(u8::MAX),
                    resumes: last.saturating_add(1),
                });
            }
        }
    }

    fn halted(&self, asset: usize) -> bool {
        let until = self.limits.halted_until.get(asset).copied().unwrap_or(0);
        until > 0 && until >= self.round
    }

    /// Whether some halt lasts into a later round.
    pub(super) fn halt_pending(&self) -> bool {
        self.limits.halted_until.iter().any(|&u| u > self.round)
    }

    /// Opens the round's gate: the caps reset, the keepers paid what they
    /// are owed and their replenishment (up to their cap), and the assets a
    /// halt or a stale oracle blocks.
    pub(super) fn open_gate(&mut self) -> ArithResult<()> {
        let c = self.containment;
        let g = &mut self.limits.gate;
        g.notional = c.max_notional_per_round;
        for (asset, room) in g.per_asset.iter_mut().enumerate() {
            *room = c
                .per_asset
                .get(asset)
                .and_then(|a| a.max_notional_per_round);
        }
        if let (Some(k), Some(held)) = (c.keepers, g.keepers) {
            if self.round > 1 {
                let topped = held.add(g.returns)?.add(k.replenish_per_round)?;
                g.keepers = Some(topped.min(k.max));
            }
            g.returns = Value::ZERO;
        }
        let max_age = u32::from(c.oracle.max_age_rounds);
        let mut blocked = 0u32;
        for asset in 0..self.markets.len().min(32) {
            let published = self.limits.published.get(asset).copied().unwrap_or(0);
            let stale = max_age > 0 && asset != 0 && self.round.saturating_sub(published) > max_age;
            if stale || self.halted(asset) {
                blocked |= 1 << asset;
            }
        }
        self.limits.gate.blocked = blocked;
        self.limits.round_deferred = 0;
        Ok(())
    }
}

//! What a run is configured with: assets, policy, shocks, and the checks
//! that refuse a configuration the engine could not run as documented.

use crate::num::{Price, Qty, Ratio, RATIO_SCALE};
use crate::policy::Policy;
use crate::venue::VenueConfig;

/// The largest weight of a debt: 1,000. A weighted term is then under
/// 2^103 and a row's sum under 2^108, so health sums in `i128` cannot wrap.
/// (Real engines weigh a debt at 1 to about 1.5.)
pub const MAX_LIABILITY_WEIGHT: Ratio = Ratio(1_000 * RATIO_SCALE);

/// Weights of one side of an asset in the two tiers the engine reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Weights {
    /// Maintenance: who is liquidatable.
    pub maint: Ratio,
    /// Liquidation end: what a to-target liquidation restores.
    pub liq_end: Ratio,
}

impl Weights {
    /// The same weight in both tiers.
    pub const fn flat(w: Ratio) -> Self {
        Self {
            maint: w,
            liq_end: w,
        }
    }
}

/// An asset. Asset 0 is the quote: price one, no venue, every value in its
/// base units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AssetConfig {
    /// Starting oracle and venue price: quote base units per base unit,
    /// `mantissa / 10^exponent`. The exponent is the asset's for the run.
    pub price: Price,
    /// Weights of a deposit: `liq_end <= maint <= 1`.
    pub asset_weights: Weights,
    /// Weights of a debt: `1 <= maint <= liq_end`.
    pub liability_weights: Weights,
    /// What a liquidator receives over the value repaid when this asset is
    /// seized.
    pub liquidation_bonus: Ratio,
    /// The protocol's share of the bonus, to the insurance fund.
    pub protocol_fee: Ratio,
    /// Below this a debt is closed whole (base units).
    pub dust: Qty,
    /// Where it trades ([`VenueConfig::Quote`] for asset 0 only).
    pub venue: VenueConfig,
}

/// What a shock does to its asset's venue at the start of its round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ShockKind {
    /// Moves the venue's price to this price.
    SetPrice(Price),
    /// Moves the venue's price by this ratio (0.8: a 20% drop), rounded down.
    MovePrice(Ratio),
    /// An outside seller sells this many base units into the venue.
    Sell(Qty),
    /// An outside buyer buys this many base units from the venue.
    Buy(Qty),
}

/// A shock to one risky asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shock {
    /// The round at whose start it applies (rounds count from 1).
    pub round: u32,
    /// The risky asset (not 0).
    pub asset: u8,
    /// What it does.
    pub kind: ShockKind,
}

/// Everything but the accounts.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig<'c> {
    /// The assets, the quote first.
    pub assets: &'c [AssetConfig],
    /// The liquidation policy.
    pub policy: Policy,
    /// Rounds before the run stops at the cap.
    pub max_rounds: u32,
    /// Rounds by which the oracle trails the venues (at most
    /// [`super::MAX_ORACLE_LAG`]).
    pub oracle_lag_rounds: u8,
    /// The insurance fund's starting quote (base units).
    pub insurance_fund: crate::num::Value,
    /// Shocks, in round order.
    pub shocks: &'c [Shock],
    /// Accounts liquidated or written off a round at most (0: no cap).
    /// Those a spent cap leaves waiting keep their place, ahead of the
    /// next round's candidates (docs/containment.md).
    pub max_accounts_per_round: u32,
    /// Auto-deleveraging: a bankrupt position closed against the opposite
    /// side at its bankruptcy price, and a long's loss taken from the
    /// shorts, instead of from lenders ([`super::deleverage`]). Needs
    /// [`super::Storage::snaps`].
    pub deleveraging: Option<super::Deleveraging>,
    /// Notional caps, keeper capital, the oracle rule and circuit breakers
    /// ([`super::limits`]); [`super::Containment::OFF`] for none.
    pub containment: super::Containment<'c>,
}

/// What a configuration gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// No assets, more than the engine holds, or asset 0 is not the quote.
    Assets,
    /// Asset `asset`'s price is zero, or the quote's is not one.
    Price {
        /// The asset.
        asset: u8,
    },
    /// Asset `asset`'s weights are out of order or range: a deposit's
    /// above one or its liquidation-end weight above its maintenance one,
    /// a debt's below one, above [`MAX_LIABILITY_WEIGHT`] or the other way.
    Weights {
        /// The asset.
        asset: u8,
    },
    /// Asset `asset`'s bonus would let a liquidation lower health
    /// (`asset weight × (1 + bonus) > 1`, while a debt's weight is at least
    /// one), or its fee is above one.
    Incentive {
        /// The asset.
        asset: u8,
    },
    /// Asset `asset`'s dust is negative.
    Dust {
        /// The asset.
        asset: u8,
    },
    /// Asset `asset`'s venue is invalid or its numbers out of range.
    Venue {
        /// The asset.
        asset: u8,
    },
    /// A close factor outside (0, 1] or a negative small-debt line.
    Policy,
    /// No rounds, an oracle lag past the longest, a negative fund.
    Engine,
    /// Shock `index` is out of round order, names the quote or no asset,
    /// or its size is not positive.
    Shock {
        /// Its place in the schedule.
        index: u16,
    },
    /// The storage is too small for the accounts, or the accounts more
    /// than `u32` counts.
    Storage,
    /// Auto-deleveraging asked of a build without the `deleveraging`
    /// feature.
    Deleveraging,
    /// A notional cap that is not positive, keeper capital out of order
    /// (negative, or a cap below the start), an oracle rule out of range
    /// (no rounds averaged, more than the history with the lag, no
    /// heartbeat, a deviation of one or more), a backstop share outside
    /// (0, 1], or limits for more assets than there are.
    Containment,
    /// Equilibrium settlement with what changes which sales happen when (an
    /// oracle lag or a rule other than the spot price, a cap, keepers, a
    /// breaker, an auction, the backstop, auto-deleveraging), or with an
    /// account short a risky asset (a purchase would move its price up) or
    /// holding deposits in two assets (it would switch the collateral it
    /// sells as prices move): the price map would not be monotone.
    Settlement,
    /// Asset `asset`'s limits: a notional cap that is not positive, a
    /// breaker's move not positive, its window not in 1 to 15 rounds or no
    /// pause.
    AssetLimits {
        /// The asset.
        asset: u8,
    },
}

impl AssetConfig {
    /// The quote asset: price one, weights one, no bonus, no fee, no
    /// venue, no dust.
    pub const fn quote() -> Self {
        Self {
            price: Price::ONE,
            asset_weights: Weights::flat(Ratio::ONE),
            liability_weights: Weights::flat(Ratio::ONE),
            liquidation_bonus: Ratio::ZERO,
            protocol_fee: Ratio::ZERO,
            dust: Qty::ZERO,
            venue: VenueConfig::Quote,
        }
    }

    /// Checks asset `asset` (0: the quote).
    pub fn validate(&self, asset: u8) -> Result<(), ConfigError> {
        let quote = asset == 0;
        let price_ok = if quote {
            self.price == Price::ONE
        } else {
            self.price.mantissa() > 0
        };
        check(price_ok, ConfigError::Price { asset })?;
        let (a, l) = (self.asset_weights, self.liability_weights);
        let one = Ratio::ONE;
        check(
            a.liq_end <= a.maint
                && a.maint <= one
                && one <= l.maint
                && l.maint <= l.liq_end
                && l.liq_end <= MAX_LIABILITY_WEIGHT,
            ConfigError::Weights { asset },
        )?;
        // A seizure pays `(1 + bonus)` per unit of value repaid; the health
        // it costs must not pass what the repayment gains (at least one).
        let given = u128::from(a.maint.0).saturating_mul(
            u128::from(RATIO_SCALE).saturating_add(u128::from(self.liquidation_bonus.0)),
        );
        let scale = u128::from(RATIO_SCALE);
        check(
            given <= scale.saturating_mul(scale) && self.protocol_fee <= one,
            ConfigError::Incentive { asset },
        )?;
        check(!self.dust.is_negative(), ConfigError::Dust { asset })?;
        let quote_venue = matches!(self.venue, VenueConfig::Quote);
        check(quote == quote_venue, ConfigError::Venue { asset })
    }
}

/// Checks a policy's parameters.
pub fn validate_policy(policy: &Policy) -> Result<(), ConfigError> {
    match *policy {
        Policy::CloseFactor {
            close_factor,
            full_close_debt_value,
            ..
        } => check(
            close_factor.0 > 0
                && close_factor <= Ratio::ONE
                && !full_close_debt_value.is_negative(),
            ConfigError::Policy,
        ),
        Policy::Absorb | Policy::ToTarget => Ok(()),
    }
}

/// Checks a schedule against `assets` assets: rounds from 1 in order, risky
/// assets only, positive sizes.
pub fn validate_shocks(shocks: &[Shock], assets: usize) -> Result<(), ConfigError> {
    let mut last = 1;
    for (index, shock) in shocks.iter().enumerate() {
        let size_ok = match shock.kind {
            ShockKind::SetPrice(p) => p.mantissa() > 0,
            ShockKind::MovePrice(r) => r.0 > 0,
            ShockKind::Sell(q) | ShockKind::Buy(q) => q.is_positive(),
        };
        let asset_ok = shock.asset >= 1 && usize::from(shock.asset) < assets;
        if !size_ok || !asset_ok || shock.round < last {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            return Err(ConfigError::Shock { index });
        }
        last = shock.round;
    }
    Ok(())
}

fn check(ok: bool, e: ConfigError) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(e)
    }
}

//! Assets: price, risk weights, liquidation incentives, and the venue.
//!
//! Asset 0 is the quote asset (price exactly 1, no venue): every value is in
//! its units. The others are risky assets, each traded against the quote in
//! its own venue.
//!
//! Weights come in three tiers ordered `init <= liquidation-end <= maint` for
//! assets and `init >= liquidation-end >= maint >= 1` for liabilities, so that
//! for any balances `H_init <= H_liq_end <= H_maint` (asserted in tests).

use crate::error::{AssetParam, ConfigError};
use crate::num::{self, Fx, Price, Qty, Ratio, Round};
use crate::venue::{VenueConfig, MAX_BOOK_LEVELS};

/// Which health a computation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HealthTier {
    /// What may be opened.
    Init,
    /// What a partial liquidation restores (Mango v4's liquidation end).
    LiqEnd,
    /// What decides liquidatability (`H_maint < 0`).
    Maint,
}

/// One weight per health tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Weights {
    /// Initial.
    pub init: Ratio,
    /// Liquidation end.
    pub liq_end: Ratio,
    /// Maintenance.
    pub maint: Ratio,
}

impl Weights {
    /// The same weight in every tier.
    pub const fn flat(w: Ratio) -> Self {
        Self {
            init: w,
            liq_end: w,
            maint: w,
        }
    }
    /// The weight of one tier.
    pub fn tier(&self, tier: HealthTier) -> Ratio {
        match tier {
            HealthTier::Init => self.init,
            HealthTier::LiqEnd => self.liq_end,
            HealthTier::Maint => self.maint,
        }
    }
}

/// An asset's configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AssetConfig {
    /// Starting oracle and venue price, quote per unit.
    pub price: Price,
    /// Weights on positive balances: `0 <= init <= liq_end <= maint <= 1`.
    pub asset_weights: Weights,
    /// Weights on negative balances: `1 <= maint <= liq_end <= init`.
    pub liability_weights: Weights,
    /// Extra collateral a liquidator receives, as a fraction of the value
    /// repaid, when this asset is seized.
    pub liquidation_bonus: Ratio,
    /// The protocol's share of the bonus, paid to the insurance fund.
    pub protocol_fee: Ratio,
    /// Below this size a debt is closed whole, and no liquidation repays
    /// less unless it clears the debt or the collateral.
    pub dust: Qty,
    /// Where the asset trades.
    pub venue: VenueConfig,
}

impl AssetConfig {
    /// The quote asset: price 1, weights 1, no venue.
    pub fn quote() -> Self {
        Self {
            price: Price::ONE,
            asset_weights: Weights::flat(Ratio::ONE),
            liability_weights: Weights::flat(Ratio::ONE),
            liquidation_bonus: Ratio::ZERO,
            protocol_fee: Ratio::ZERO,
            dust: Qty(Fx::from_bits(1 << 28)),
            venue: VenueConfig::Quote,
        }
    }

    /// Weight of the collateral given up per unit of liability weight when
    /// this asset is seized: `maint asset weight × (1 + bonus)`, rounded up.
    /// A liquidation lowers health unless this is below the liability's
    /// maintenance weight (checked across pairs by the engine).
    pub fn seized_weight(&self) -> Fx {
        num::add(Fx::ONE, self.liquidation_bonus.0)
            .and_then(|factor| num::mul(self.asset_weights.maint.0, factor, Round::Up))
            .unwrap_or(Fx::MAX)
    }

    /// Checks every parameter on its own; `index` is the asset's position.
    pub fn validate(&self, index: u8) -> Result<(), ConfigError> {
        let fail = |param| {
            Err(ConfigError::Asset {
                asset: index,
                param,
            })
        };
        let is_quote = index == 0;
        if !self.price.is_positive() || (is_quote && self.price != Price::ONE) {
            return fail(AssetParam::Price);
        }
        let a = self.asset_weights;
        if !(Ratio::ZERO <= a.init
            && a.init <= a.liq_end
            && a.liq_end <= a.maint
            && a.maint <= Ratio::ONE)
        {
            return fail(AssetParam::AssetWeights);
        }
        let l = self.liability_weights;
        if !(Ratio::ONE <= l.maint && l.maint <= l.liq_end && l.liq_end <= l.init) {
            return fail(AssetParam::LiabilityWeights);
        }
        let bonus = self.liquidation_bonus;
        if bonus.is_negative() || bonus > Ratio::ONE {
            return fail(AssetParam::LiquidationBonus);
        }
        if self.protocol_fee.is_negative() || self.protocol_fee > Ratio::ONE {
            return fail(AssetParam::ProtocolFee);
        }
        if !self.dust.is_positive() {
            return fail(AssetParam::Dust);
        }
        validate_venue(&self.venue, is_quote).map_err(|param| ConfigError::Asset {
            asset: index,
            param,
        })
    }
}

fn is_fraction(r: Ratio) -> bool {
    Ratio::ZERO <= r && r <= Ratio::ONE
}

fn validate_venue(venue: &VenueConfig, is_quote: bool) -> Result<(), AssetParam> {
    let check = |ok: bool, param| if ok { Ok(()) } else { Err(param) };
    match *venue {
        VenueConfig::Quote => check(is_quote, AssetParam::VenueKind),
        _ if is_quote => Err(AssetParam::VenueKind),
        VenueConfig::Linear {
            lambda,
            resilience,
            floor,
        } => {
            check(lambda > Fx::ZERO, AssetParam::VenueLiquidity)?;
            check(is_fraction(resilience), AssetParam::VenueResilience)?;
            check(floor.is_positive(), AssetParam::VenueFloor)
        }
        VenueConfig::Exponential {
            depth,
            resilience,
            floor,
        } => {
            check(depth.is_positive(), AssetParam::VenueLiquidity)?;
            check(is_fraction(resilience), AssetParam::VenueResilience)?;
            check(floor.is_positive(), AssetParam::VenueFloor)
        }
        VenueConfig::SquareRoot {
            y_sigma,
            volume,
            resilience,
            floor,
        } => {
            check(
                y_sigma.is_positive() && volume.is_positive(),
                AssetParam::VenueLiquidity,
            )?;
            check(is_fraction(resilience), AssetParam::VenueResilience)?;
            check(floor.is_positive(), AssetParam::VenueFloor)
        }
        VenueConfig::ConstantProduct {
            base_reserve,
            fee,
            resilience,
        } => {
            check(base_reserve.is_positive(), AssetParam::VenueLiquidity)?;
            check(!fee.is_negative() && fee < Ratio::ONE, AssetParam::VenueFee)?;
            check(is_fraction(resilience), AssetParam::VenueResilience)
        }
        VenueConfig::OrderBook {
            levels,
            tick,
            depth,
            resilience,
        } => {
            check(depth.is_positive(), AssetParam::VenueLiquidity)?;
            check(is_fraction(resilience), AssetParam::VenueResilience)?;
            let levels_ok = levels >= 1 && usize::from(levels) <= MAX_BOOK_LEVELS;
            let span = num::mul(tick.0, Fx::from_num(levels), Round::Up).unwrap_or(Fx::MAX);
            check(
                levels_ok && tick.is_positive() && span < Fx::ONE,
                AssetParam::VenueLevels,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth() -> AssetConfig {
        AssetConfig {
            price: Price::from_int(2_000),
            asset_weights: Weights {
                init: Ratio::from_f64(0.8),
                liq_end: Ratio::from_f64(0.85),
                maint: Ratio::from_f64(0.9),
            },
            liability_weights: Weights {
                init: Ratio::from_f64(1.2),
                liq_end: Ratio::from_f64(1.15),
                maint: Ratio::from_f64(1.1),
            },
            liquidation_bonus: Ratio::from_f64(0.05),
            protocol_fee: Ratio::from_f64(0.1),
            dust: Qty::from_f64(0.001),
            venue: VenueConfig::Exponential {
                depth: Qty::from_int(10_000),
                resilience: Ratio::from_f64(0.1),
                floor: Price::from_int(1),
            },
        }
    }

    #[test]
    fn a_sound_asset_and_the_quote_pass() {
        assert_eq!(eth().validate(1), Ok(()));
        assert_eq!(AssetConfig::quote().validate(0), Ok(()));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let bad = |f: fn(&mut AssetConfig), param| {
            let mut a = eth();
            f(&mut a);
            assert_eq!(a.validate(3), Err(ConfigError::Asset { asset: 3, param }));
        };
        bad(|a| a.price = Price::ZERO, AssetParam::Price);
        bad(|a| a.price = Price::from_int(-5), AssetParam::Price);
        bad(
            |a| a.asset_weights.init = Ratio::from_f64(0.95),
            AssetParam::AssetWeights,
        );
        bad(
            |a| a.liability_weights.maint = Ratio::from_f64(0.9),
            AssetParam::LiabilityWeights,
        );
        bad(
            |a| a.protocol_fee = Ratio::from_f64(1.5),
            AssetParam::ProtocolFee,
        );
        bad(|a| a.dust = Qty::ZERO, AssetParam::Dust);
        bad(|a| a.venue = VenueConfig::Quote, AssetParam::VenueKind);
        bad(
            |a| {
                a.venue = VenueConfig::Exponential {
                    depth: Qty::ZERO,
                    resilience: Ratio::ZERO,
                    floor: Price::ONE,
                }
            },
            AssetParam::VenueLiquidity,
        );
        bad(
            |a| {
                a.venue = VenueConfig::OrderBook {
                    levels: 20,
                    tick: Ratio::from_f64(0.01),
                    depth: Qty::from_int(1),
                    resilience: Ratio::ZERO,
                }
            },
            AssetParam::VenueLevels,
        );
    }
}

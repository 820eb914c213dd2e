//! Liquidation policies: how much of an account's debt one liquidation
//! repays.
//!
//! A liquidation is a sequence of *pair steps*. Each repays `r` of one
//! liability asset L and seizes `s = r·p_L/p_C·(1 + bonus_C)` of one
//! collateral asset C, at oracle prices. The pair is the account's largest
//! weighted liability and its largest weighted collateral (ties: the lower
//! asset index). The policy sets `r`:
//!
//! - **absorb** (Compound III): repay the whole debt, seizing what covers it,
//!   pair after pair until the debt or the collateral is gone.
//! - **close factor** (Aave v3): one pair step repaying up to `cf × debt`,
//!   or all of it when the health factor is at or below
//!   `full_close_health_factor` or the debt is worth less than
//!   `full_close_debt_value`.
//! - **to target** (Mango v4, marginfi): the smallest repayment that brings
//!   liquidation-end health to zero or above, over as many pairs as needed.
//!
//! Every step is clamped to the debt and to what the collateral covers. It
//! repays at least the liability's dust size unless it clears the debt or
//! the collateral, and a debt left under dust is closed whole: so each step
//! makes progress of at least one dust unit or clears a balance, which bounds
//! a run's work (docs/semantics.md).

use crate::error::{ConfigError, EngineParam};
use crate::num::{self, Fx, Qty, Ratio, Round, Value};

/// Which liquidation rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Policy {
    /// Repay the whole debt, pair by pair, seizing what covers each
    /// repayment (Compound III's `absorb`, as docs/semantics.md models it).
    Absorb,
    /// Repay a fraction of one debt per liquidation (Aave v3).
    CloseFactor {
        /// Fraction of the debt repayable in one liquidation, in (0, 1].
        close_factor: Ratio,
        /// At or below this maint health factor the whole debt may be
        /// repaid (Aave: 0.95).
        full_close_health_factor: Ratio,
        /// Below this debt value the whole debt may be repaid (Aave: ~$2,000).
        full_close_debt_value: Value,
    },
    /// Repay the least that restores liquidation-end health (Mango v4).
    ToTarget,
}

impl Policy {
    /// Aave v3's defaults: 50%, full close at HF 0.95 or under $2,000.
    pub fn aave_like() -> Self {
        Policy::CloseFactor {
            close_factor: Ratio::from_f64(0.5),
            full_close_health_factor: Ratio::from_f64(0.95),
            full_close_debt_value: Value::from_int(2_000),
        }
    }

    /// Checks the policy's parameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Policy::CloseFactor {
            close_factor,
            full_close_health_factor,
            full_close_debt_value,
        } = *self
        {
            let in_unit = |r: Ratio| r.is_positive() && r <= Ratio::ONE;
            if !in_unit(close_factor) {
                return Err(ConfigError::Engine(EngineParam::CloseFactor));
            }
            if !in_unit(full_close_health_factor) {
                return Err(ConfigError::Engine(EngineParam::FullCloseHealthFactor));
            }
            if full_close_debt_value.is_negative() {
                return Err(ConfigError::Engine(EngineParam::FullCloseDebtValue));
            }
        }
        Ok(())
    }
}

/// The inputs of one pair step's sizing, all in effective units.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PairLimits {
    /// The liability's debt, > 0.
    pub debt: Qty,
    /// The most the collateral covers: `floor(b_C·p_C / (p_L·(1+bonus)))`.
    pub covered: Qty,
    /// The liability's dust size.
    pub dust: Qty,
}

/// Clamps a policy's wanted repayment to the pair's limits and applies the
/// dust rules. Returns the repayment.
pub(crate) fn clamp_repay(wanted: Qty, limits: PairLimits) -> Qty {
    let PairLimits {
        debt,
        covered,
        dust,
    } = limits;
    // At least one dust unit of progress, unless the debt is smaller.
    let mut repay = wanted.max(dust.min(debt));
    // A debt left under dust is closed whole.
    let left = Qty(debt.0.saturating_sub(repay.0));
    if left < dust {
        repay = debt;
    }
    repay.min(debt).min(covered)
}

/// The smallest repayment `r` with `health_deficit <= r·gain_per_unit`: the
/// to-target rule. `gain_per_unit > 0` is `p_L·(wl_L − wa_C·(1+bonus_C))` in
/// liquidation-end weights.
pub(crate) fn to_target_repay(health_deficit: Value, gain_per_unit: Fx) -> num::ArithResult<Qty> {
    if !health_deficit.is_positive() {
        return Ok(Qty::ZERO);
    }
    num::div(health_deficit.0, gain_per_unit, Round::Up).map(Qty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(debt: i64, covered: i64, dust: i64) -> PairLimits {
        PairLimits {
            debt: Qty::from_int(debt),
            covered: Qty::from_int(covered),
            dust: Qty::from_int(dust),
        }
    }

    #[test]
    fn repay_is_clamped_to_debt_and_collateral() {
        assert_eq!(
            clamp_repay(Qty::from_int(500), limits(1_000, 300, 1)),
            Qty::from_int(300)
        );
        assert_eq!(
            clamp_repay(Qty::from_int(5_000), limits(1_000, 3_000, 1)),
            Qty::from_int(1_000)
        );
    }

    #[test]
    fn dust_rules_force_progress_and_close_small_remainders() {
        // Wanted 1, but at least 10 (dust) is repaid.
        assert_eq!(
            clamp_repay(Qty::from_int(1), limits(1_000, 3_000, 10)),
            Qty::from_int(10)
        );
        // 995 of 1,000 would leave 5 < dust 10: the whole debt goes.
        assert_eq!(
            clamp_repay(Qty::from_int(995), limits(1_000, 3_000, 10)),
            Qty::from_int(1_000)
        );
        // A debt under dust is closed whole.
        assert_eq!(
            clamp_repay(Qty::ZERO, limits(4, 3_000, 10)),
            Qty::from_int(4)
        );
    }

    #[test]
    fn to_target_rounds_the_repayment_up() {
        // Deficit 100, gain 3 per unit: 33.33.. → 33.33..+ulp.
        let r = to_target_repay(Value::from_int(100), Fx::from_num(3)).unwrap();
        assert!(r.0 * Fx::from_num(3) >= Fx::from_num(100));
        assert_eq!(to_target_repay(Value::from_int(-5), Fx::ONE), Ok(Qty::ZERO));
    }

    #[test]
    fn invalid_close_factors_are_named() {
        let bad = Policy::CloseFactor {
            close_factor: Ratio::ZERO,
            full_close_health_factor: Ratio::ONE,
            full_close_debt_value: Value::ZERO,
        };
        assert_eq!(
            bad.validate(),
            Err(ConfigError::Engine(EngineParam::CloseFactor))
        );
        assert_eq!(Policy::aave_like().validate(), Ok(()));
    }
}

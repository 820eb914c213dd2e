//! Accounts: signed per-asset balances and cross-margin health.
//!
//! ## Storage
//!
//! The caller owns the balances: one flat slice, `assets` entries per account,
//! account `i` at `i·assets .. (i+1)·assets`. The same code runs over a static
//! array of 16 accounts on a microcontroller and a `Vec` of 10^6 on a host.
//!
//! ## Stored and effective balances
//!
//! A negative balance (a liability) is stored as it is. A positive balance (a
//! deposit) is stored as a share of the asset's deposit pool: the effective
//! balance is `floor(stored × deposit_index)`. Lowering the index socializes a
//! loss over every lender of the asset in O(1). The index starts at 1, where
//! stored and effective balances are equal.
//!
//! ## Health
//!
//! For effective balances `b_i` at oracle prices `p_i`,
//! `H = Σ_{b_i > 0} wa_i·b_i·p_i + Σ_{b_i < 0} wl_i·b_i·p_i` with `wa <= 1 <=
//! wl`. The weighted price `p·w` is rounded down for assets and up for
//! liabilities, and every term rounds down: health is never overstated.

use crate::asset::{AssetConfig, HealthTier};
use crate::num::{self, mul, ArithError, ArithResult, Fx, Price, Qty, Ratio, Round, Value};

/// Weighted prices of one asset for one health tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WeightedPrice {
    /// `price × asset weight`, rounded down.
    pub asset: Fx,
    /// `price × liability weight`, rounded up.
    pub liability: Fx,
}

impl WeightedPrice {
    /// Weighted prices of `config` at `price` in `tier`.
    pub fn new(config: &AssetConfig, price: Price, tier: HealthTier) -> ArithResult<Self> {
        Ok(Self {
            asset: mul(price.0, config.asset_weights.tier(tier).0, Round::Down)?,
            liability: mul(price.0, config.liability_weights.tier(tier).0, Round::Up)?,
        })
    }
}

/// Health split into its two sides (both in quote).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Health {
    /// Σ weighted asset value (>= 0).
    pub assets: Value,
    /// Σ weighted liability value, as a positive number.
    pub liabilities: Value,
}

impl Health {
    /// `assets − liabilities`.
    pub fn net(&self) -> ArithResult<Value> {
        self.assets.sub(self.liabilities)
    }
    /// Aave's health factor `assets / liabilities` (`None` without debt).
    pub fn factor(&self) -> ArithResult<Option<Ratio>> {
        if self.liabilities == Value::ZERO {
            return Ok(None);
        }
        self.assets
            .ratio_to(self.liabilities, Round::Down)
            .map(Some)
    }

    /// Whether the health factor, as [`Health::factor`] rounds it, is at
    /// most `limit` (`false` without debt). Below a factor of 1 (every
    /// liquidatable account) two products decide it instead of a wide
    /// division; elsewhere the factor is computed, with its errors.
    pub fn factor_at_most(&self, limit: Ratio) -> ArithResult<bool> {
        let (assets, liabilities) = (self.assets.0, self.liabilities.0);
        if !assets.is_negative() && assets < liabilities {
            if let Some(at_most) = num::quotient_at_most(assets, liabilities, limit.0) {
                return Ok(at_most);
            }
        }
        Ok(self.factor()?.is_some_and(|hf| hf <= limit))
    }
}

/// The effective balance of a stored balance under a deposit index.
pub fn effective(stored: Qty, deposit_index: Ratio) -> ArithResult<Qty> {
    if stored.is_positive() {
        stored.scale(deposit_index, Round::Down)
    } else {
        Ok(stored)
    }
}

/// Health of one account's stored balances.
///
/// The hottest function of a run (every scan and every liquidation step
/// evaluates a row), so it works on the raw bits: the same products,
/// roundings and checks as [`effective`] and [`mul`], without a `Result`
/// per term.
pub fn health(stored: &[Qty], index: &[Ratio], weighted: &[WeightedPrice]) -> ArithResult<Health> {
    health_terms(stored, index, weighted, |_, _| {})
}

/// One asset's part of a health, as raw `I80F48` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Term {
    /// The effective balance: a deposit's after its index, a debt's as
    /// stored (negative). Zero for a deposit the index rounds away.
    pub held: i128,
    /// Its weighted value: the deposit's worth, or the debt's (negative);
    /// zero where nothing is held.
    pub value: i128,
}

/// [`health`], handing each asset's [`Term`] to `term` as it is summed:
/// a liquidation chooses its pair from them instead of computing the same
/// products again.
#[inline]
pub(crate) fn health_terms(
    stored: &[Qty],
    index: &[Ratio],
    weighted: &[WeightedPrice],
    mut term: impl FnMut(usize, Term),
) -> ArithResult<Health> {
    let (mut assets, mut liabilities) = (0i128, 0i128);
    let overflow = ArithError::Overflow;
    for (asset, ((b, i), w)) in stored.iter().zip(index).zip(weighted).enumerate() {
        let b = b.0.to_bits();
        if b > 0 {
            let held = num::mul_bits_down(b, i.0.to_bits()).ok_or(overflow)?;
            // A deposit the index rounds to zero counts for nothing.
            if held > 0 {
                let worth = num::mul_bits_down(held, w.asset.to_bits()).ok_or(overflow)?;
                assets = assets.checked_add(worth).ok_or(overflow)?;
                term(asset, Term { held, value: worth });
            }
        } else if b < 0 {
            // b·w is negative; rounding down makes the liability larger.
            let owed = num::mul_bits_down(b, w.liability.to_bits()).ok_or(overflow)?;
            liabilities = liabilities
                .checked_add(owed.checked_neg().ok_or(overflow)?)
                .ok_or(overflow)?;
            term(
                asset,
                Term {
                    held: b,
                    value: owed,
                },
            );
        }
    }
    Ok(Health {
        assets: Value(Fx::from_bits(assets)),
        liabilities: Value(Fx::from_bits(liabilities)),
    })
}

/// The stored balance after crediting `amount >= 0` (effective units).
/// Credits to deposits round down: the account never gains from rounding.
pub fn credit(stored: Qty, amount: Qty, deposit_index: Ratio) -> ArithResult<Qty> {
    if !stored.is_negative() {
        return stored.add(Qty(num::div(amount.0, deposit_index.0, Round::Down)?));
    }
    let after = stored.add(amount)?;
    if after.is_positive() {
        // The part past zero becomes a deposit.
        return Ok(Qty(num::div(after.0, deposit_index.0, Round::Down)?));
    }
    Ok(after)
}

/// The stored balance after debiting `amount >= 0` (effective units).
/// Debits from deposits round up: the account never gains from rounding.
pub fn debit(stored: Qty, amount: Qty, deposit_index: Ratio) -> ArithResult<Qty> {
    if !stored.is_positive() {
        return stored.sub(amount);
    }
    let held = effective(stored, deposit_index)?;
    if amount >= held {
        // The whole deposit goes, and the rest becomes a liability.
        return amount.sub(held)?.neg();
    }
    let shares = Qty(num::div(amount.0, deposit_index.0, Round::Up)?);
    Ok(Qty(stored.sub(shares)?.0.max(Fx::ZERO)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn half() -> Ratio {
        Ratio::from_f64(0.5)
    }

    #[test]
    fn effective_balance_scales_deposits_only() {
        assert_eq!(effective(Qty::from_int(10), half()), Ok(Qty::from_int(5)));
        assert_eq!(
            effective(Qty::from_int(-10), half()),
            Ok(Qty::from_int(-10))
        );
    }

    #[test]
    fn credits_and_debits_cross_zero_correctly() {
        // −3 + 5 = 2 effective, stored as 4 shares at index 0.5.
        assert_eq!(
            credit(Qty::from_int(-3), Qty::from_int(5), half()),
            Ok(Qty::from_int(4))
        );
        // 4 shares hold 2; debiting 5 leaves −3.
        assert_eq!(
            debit(Qty::from_int(4), Qty::from_int(5), half()),
            Ok(Qty::from_int(-3))
        );
        assert_eq!(
            debit(Qty::from_int(4), Qty::from_int(1), half()),
            Ok(Qty::from_int(2))
        );
    }

    #[test]
    fn rounding_never_favours_the_account() {
        let third = Ratio(Fx::from_num(1) / 3);
        let stored = Qty::from_int(7);
        let before = effective(stored, third).unwrap();
        let after = effective(debit(stored, Qty::from_f64(0.1), third).unwrap(), third).unwrap();
        assert!(
            before.0 - after.0 >= Fx::from_num(0.1),
            "a debit takes at least its amount"
        );
        let credited =
            effective(credit(stored, Qty::from_f64(0.1), third).unwrap(), third).unwrap();
        assert!(
            credited.0 - before.0 <= Fx::from_num(0.1),
            "a credit gives at most its amount"
        );
    }

    #[test]
    fn health_weights_both_sides() {
        let w = [
            WeightedPrice {
                asset: Fx::ONE,
                liability: Fx::ONE,
            },
            WeightedPrice {
                asset: Fx::from_num(90),
                liability: Fx::from_num(110),
            },
        ];
        let idx = [Ratio::ONE; 2];
        let h = health(&[Qty::from_int(-800), Qty::from_int(10)], &idx, &w).unwrap();
        assert_eq!(h.assets, Value::from_int(900));
        assert_eq!(h.liabilities, Value::from_int(800));
        assert_eq!(h.net(), Ok(Value::from_int(100)));
        let short = health(&[Qty::from_int(1_000), Qty::from_int(-5)], &idx, &w).unwrap();
        assert_eq!(short.net(), Ok(Value::from_int(450)));
    }
}

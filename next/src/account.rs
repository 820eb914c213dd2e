//! Health of one account's stored balances, exactly.
//!
//! For balances `b_i` at oracle prices `p_i`,
//! `H = Σ_{b_i > 0} wa_i·value(b_i) + Σ_{b_i < 0} wl_i·value(b_i)`. Each
//! value is rounded once, to a quote base unit, in the protocol's favour (a
//! holding down, a debt up); the weighting is exact ([`Weighted`]). So
//! health is never overstated, and an account exactly at its threshold has
//! `H = 0`: not liquidatable, as on chain.
//!
//! A positive balance is a number of deposit shares. Health values them at
//! the asset's share price `⌊index × price⌋`, computed once when the price
//! or the index moves, so a term is one product and one division whether
//! or not a loss was ever socialized. (The amount a share holds, for moving
//! it, is `⌊shares × index⌋`: both round in the protocol's favour.)

use crate::num::{
    mul_div_index, mul_div_pow10, ArithError, ArithResult, Index, Price, Qty, Ratio, Weighted,
};

/// What one asset contributes to a health in one tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Terms {
    /// The oracle price, at which debts are valued.
    price: Price,
    /// `⌊index × price mantissa⌋`: the mantissa of one share's price, over
    /// the same exponent (zero once the index has rounded a share away).
    share_mantissa: u64,
    /// Weight of a holding, at most 1.
    asset_weight: Ratio,
    /// Weight of a debt, at least 1.
    liability_weight: Ratio,
}

impl Terms {
    /// The terms of an asset at `price` and deposit `index` with one tier's
    /// weights.
    pub fn new(
        price: Price,
        index: Index,
        asset_weight: Ratio,
        liability_weight: Ratio,
    ) -> ArithResult<Self> {
        let share_mantissa = match index {
            Index::ONE => price.mantissa(),
            index => mul_div_index(price.mantissa(), index.0, false)?.unsigned_abs(),
        };
        Ok(Self {
            price,
            share_mantissa,
            asset_weight,
            liability_weight,
        })
    }
}

/// Health split into its two sides, both as positive weighted values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Health {
    /// Σ weighted holdings.
    pub assets: Weighted,
    /// Σ weighted debts, as a positive number.
    pub liabilities: Weighted,
}

impl Health {
    /// Whether the account may be liquidated: `assets < liabilities`.
    #[inline]
    pub fn is_liquidatable(&self) -> bool {
        self.assets < self.liabilities
    }
    /// `assets − liabilities`.
    pub fn net(&self) -> ArithResult<Weighted> {
        self.assets.sub(self.liabilities)
    }
}

/// Health of `stored` balances (positive: deposit shares; negative: debt in
/// base units), one [`Terms`] per asset.
#[inline]
pub fn health(stored: &[Qty], terms: &[Terms]) -> ArithResult<Health> {
    let (mut assets, mut liabilities) = (0u128, 0u128);
    for (&b, t) in stored.iter().zip(terms) {
        // The products below fit: an amount is under 2^63, a ratio 2^64.
        if b.0 > 0 {
            let worth = mul_div_pow10(b.0.unsigned_abs(), t.share_mantissa, t.price, false)?;
            let weighted =
                u128::from(worth.unsigned_abs()).wrapping_mul(u128::from(t.asset_weight.0));
            assets = assets.checked_add(weighted).ok_or(ArithError::Overflow)?;
        } else if b.0 < 0 {
            let owed = mul_div_pow10(b.0.unsigned_abs(), t.price.mantissa(), t.price, true)?;
            let weighted =
                u128::from(owed.unsigned_abs()).wrapping_mul(u128::from(t.liability_weight.0));
            liabilities = liabilities
                .checked_add(weighted)
                .ok_or(ArithError::Overflow)?;
        }
    }
    let side = |x: u128| {
        i128::try_from(x)
            .map(Weighted)
            .map_err(|_| ArithError::Overflow)
    };
    Ok(Health {
        assets: side(assets)?,
        liabilities: side(liabilities)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::Value;

    fn usdc() -> Terms {
        Terms::new(Price::ONE, Index::ONE, Ratio::ONE, Ratio::ONE).unwrap()
    }

    fn eth(mantissa: u64) -> Terms {
        let price = Price::new(mantissa, 12).unwrap();
        Terms::new(price, Index::ONE, Ratio::from_bps(8_300), Ratio::ONE).unwrap()
    }

    #[test]
    fn an_account_at_its_threshold_is_not_liquidatable_one_unit_past_it_is() {
        let terms = [usdc(), eth(2_000_000_000_000)];
        let at = health(&[Qty(-1_660_000_000), Qty(1_000_000_000)], &terms).unwrap();
        assert_eq!(at.net(), Ok(Weighted::ZERO));
        assert!(!at.is_liquidatable());
        let past = health(&[Qty(-1_660_000_001), Qty(1_000_000_000)], &terms).unwrap();
        assert!(past.is_liquidatable());
    }

    #[test]
    fn rounding_never_overstates_health() {
        // 3 base units at 1/3 quote base unit each (mantissa 333..., e=12)
        // are worth 0.999... : rounded down to 0; a debt of the same rounds
        // up to 1.
        let price = Price::new(333_333_333_333, 12).unwrap();
        let third = Terms::new(price, Index::ONE, Ratio::ONE, Ratio::ONE).unwrap();
        let h = health(&[Qty(0), Qty(3)], &[usdc(), third]).unwrap();
        assert_eq!(h.assets, Value(0).weighted(Ratio::ONE));
        let h = health(&[Qty(0), Qty(-3)], &[usdc(), third]).unwrap();
        assert_eq!(h.liabilities, Value(1).weighted(Ratio::ONE));
    }

    #[test]
    fn a_socialized_loss_lowers_what_shares_hold() {
        let half = Index(crate::num::INDEX_SCALE / 2);
        // A share price of half a base unit rounds down to nothing at
        // exponent 0: a finer exponent keeps it.
        let t = Terms::new(Price::new(2, 0).unwrap(), half, Ratio::ONE, Ratio::ONE).unwrap();
        let h = health(&[Qty(10)], &[t]).unwrap();
        assert_eq!(h.assets, Value(10).weighted(Ratio::ONE));
        let t = Terms::new(Price::new(1_000, 3).unwrap(), half, Ratio::ONE, Ratio::ONE).unwrap();
        let h = health(&[Qty(10), Qty(-3)], &[t, t]).unwrap();
        assert_eq!(h.assets, Value(5).weighted(Ratio::ONE));
        assert_eq!(h.liabilities, Value(3).weighted(Ratio::ONE));
    }
}

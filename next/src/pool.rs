//! Constant-product pool (Uniswap v2) in base units: reserves `x` (base) and
//! `y` (quote), `x·y = k`, a fee `f` on the input. Selling `Δx` pays
//! `⌊Δx(1−f)·y / (x + Δx(1−f))⌋`; buying `Δx` costs
//! `⌈⌈y·Δx / (x − Δx)⌉ / (1−f)⌉`. Outputs round down and inputs up, so `k`
//! never falls. Each is one 128-bit product and one 128-by-64-bit division.

use crate::num::{
    div_round, ArithError, ArithResult, Price, Qty, Ratio, Round, Value, RATIO_SCALE,
};

/// Reserves and fee of a constant-product pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pool {
    /// Base reserve `x`, in the asset's base units (> 0).
    pub base: Qty,
    /// Quote reserve `y`, in quote base units (> 0).
    pub quote: Value,
    /// Fee on the input, `f` in `[0, 1)`.
    pub fee: Ratio,
}

fn to_i64(x: i128) -> ArithResult<i64> {
    i64::try_from(x).map_err(|_| ArithError::Overflow)
}

impl Pool {
    /// Whether [`Self::price`] is a price (a mantissa from 1 to `u64::MAX`),
    /// by two comparisons instead of its division: `⌊n / x⌋` with
    /// `n = y·10^e` is at least 1 where `n >= x`, and below `2^64` where
    /// `n < x·2^64`, that is `⌊n / 2^64⌋ < x`.
    pub fn has_price(&self, exponent: u8) -> bool {
        let (Some(scale), Ok(x), Ok(y)) = (
            crate::num::pow10(exponent),
            u128::try_from(self.base.0),
            u128::try_from(self.quote.0),
        ) else {
            return false;
        };
        // Both factors under 2^64: the product fits.
        let n = y.wrapping_mul(u128::from(scale));
        x > 0 && n >= x && (n >> 64) < x
    }

    /// Spot price `y / x`, rounded down, with the asset's price exponent.
    pub fn price(&self, exponent: u8) -> ArithResult<Price> {
        let unit = Price::new(1, exponent)?;
        let n = i128::from(self.quote.0).wrapping_mul(i128::from(unit.divisor()));
        let base = u128::try_from(self.base.0).map_err(|_| ArithError::Domain)?;
        let mantissa = div_round(n, base, Round::Down)?;
        unit.with_mantissa(u64::try_from(mantissa).map_err(|_| ArithError::Overflow)?)
    }

    /// Sells `qty >= 0` base into the pool; returns the quote paid out.
    pub fn sell(&mut self, qty: Qty) -> ArithResult<Value> {
        if qty.is_negative() {
            return Err(ArithError::Domain);
        }
        let kept = Ratio(
            RATIO_SCALE
                .checked_sub(self.fee.0)
                .ok_or(ArithError::Domain)?,
        );
        let effective = qty.scale(kept, Round::Down)?;
        let numerator = i128::from(effective.0).wrapping_mul(i128::from(self.quote.0));
        let denominator = self.base.add(effective)?;
        let out = div_round(numerator, denominator.0.unsigned_abs().into(), Round::Down)?;
        let out = Value(to_i64(out)?);
        self.base = self.base.add(qty)?;
        self.quote = self.quote.sub(out)?;
        Ok(out)
    }

    /// Buys `qty >= 0` base out of the pool; returns the quote paid in, or
    /// `None` when the pool holds no more than `qty` (nothing changes).
    pub fn buy(&mut self, qty: Qty) -> ArithResult<Option<Value>> {
        if qty.is_negative() {
            return Err(ArithError::Domain);
        }
        let left = self.base.sub(qty)?;
        if !left.is_positive() {
            return Ok(None);
        }
        let numerator = i128::from(self.quote.0).wrapping_mul(i128::from(qty.0));
        let before_fee = to_i64(div_round(
            numerator,
            left.0.unsigned_abs().into(),
            Round::Up,
        )?)?;
        let kept = RATIO_SCALE
            .checked_sub(self.fee.0)
            .ok_or(ArithError::Domain)?;
        let n = i128::from(before_fee).wrapping_mul(i128::from(RATIO_SCALE));
        let cost = Value(to_i64(div_round(n, kept.into(), Round::Up)?)?);
        self.base = left;
        self.quote = self.quote.add(cost)?;
        Ok(Some(cost))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn k(p: &Pool) -> i128 {
        i128::from(p.base.0) * i128::from(p.quote.0)
    }

    proptest! {
        #[test]
        fn k_never_falls_and_outputs_bracket_the_formula(
            x in 1i64..(1 << 50), y in 1i64..(1 << 50), fee_bps in 0u32..3_000,
            dx in 0i64..(1 << 50), buy in any::<bool>(),
        ) {
            let mut p = Pool { base: Qty(x), quote: Value(y), fee: Ratio::from_bps(fee_bps) };
            let before = k(&p);
            let f = f64::from(fee_bps) / 1e4;
            if buy {
                let dx = dx % x;
                if let Ok(Some(cost)) = p.buy(Qty(dx)) {
                    let exact = (y as f64) * (dx as f64) / ((x - dx) as f64) / (1.0 - f);
                    prop_assert!(cost.0 as f64 >= exact * (1.0 - 1e-9) - 1e-6);
                    prop_assert!((cost.0 as f64) <= exact * (1.0 + 1e-9) + 2.0);
                }
            } else {
                let out = p.sell(Qty(dx)).unwrap();
                let e = (dx as f64) * (1.0 - f);
                let exact = e * (y as f64) / (x as f64 + e);
                prop_assert!((out.0 as f64) <= exact * (1.0 + 1e-9) + 1e-6);
                prop_assert!(out.0 as f64 >= exact * (1.0 - 1e-9) - 2.0);
            }
            prop_assert!(k(&p) >= before, "k fell: {} -> {}", before, k(&p));
        }
    }

    proptest! {
        #[test]
        fn has_price_says_whether_price_is_one(
            x in any::<i64>(), y in any::<i64>(), e in 0u8..=21, small in any::<bool>(),
        ) {
            // Half the cases near the edges: tiny reserves, or prices near 2^64.
            let (x, y) = if small { (x % 1_000, y % 1_000) } else { (x, y) };
            let p = Pool { base: Qty(x), quote: Value(y), fee: Ratio::ZERO };
            prop_assert_eq!(p.has_price(e), p.price(e).is_ok());
        }
    }

    #[test]
    fn has_price_at_its_bounds() {
        let p = |x: i64, y: i64| Pool {
            base: Qty(x),
            quote: Value(y),
            fee: Ratio::ZERO,
        };
        // A mantissa of exactly 1, and one short of it.
        assert!(p(10, 1).has_price(1) && !p(11, 1).has_price(1));
        // A mantissa of exactly u64::MAX, and one past it.
        let x = 3i64;
        let y = i64::try_from(u128::from(u64::MAX) * 3 / 10_000).unwrap();
        assert_eq!(p(x, y).has_price(4), p(x, y).price(4).is_ok());
        assert!(!p(1, i64::MAX).has_price(19));
        assert!(!p(0, 5).has_price(0) && !p(5, 0).has_price(0) && !p(-5, 5).has_price(0));
    }

    #[test]
    fn draining_is_refused_and_changes_nothing() {
        let mut p = Pool {
            base: Qty(100),
            quote: Value(1_000),
            fee: Ratio::ZERO,
        };
        assert_eq!(p.buy(Qty(100)), Ok(None));
        assert_eq!(p.base, Qty(100));
        assert_eq!(p.price(0).unwrap().mantissa(), 10);
    }
}

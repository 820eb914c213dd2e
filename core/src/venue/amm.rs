//! Constant-product pool (Uniswap v2): reserves `x` (base) and `y` (quote),
//! `x·y = k`, a fee `f` on the input. Selling Δx pays
//! `Δx(1−f)·y / (x + Δx(1−f))`; buying Δx costs `y·Δx / ((x − Δx)(1−f))`.
//! Outputs round down and inputs round up, so `k` never falls.

use crate::num::{self, mul, sqrt, ArithError, ArithResult, Fx, Price, Qty, Ratio, Round, Value};

/// Reserves and fee of a constant-product pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pool {
    /// Base reserve `x`.
    pub base: Qty,
    /// Quote reserve `y`.
    pub quote: Value,
    /// Fee on the input, `f`.
    pub fee: Ratio,
}

/// A trade's effect, seen from the trader: base given to the pool (negative
/// when taken) and quote received from it (negative when paid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fill {
    /// Base the trader gave the venue (negative: took).
    pub base_in: Qty,
    /// Quote the venue paid the trader (negative: received).
    pub quote_out: Value,
}

impl Pool {
    /// Spot price `y / x`.
    pub fn price(&self) -> ArithResult<Price> {
        num::div(self.quote.0, self.base.0, Round::Down).map(Price)
    }

    fn input_after_fee(&self, qty: Qty, round: Round) -> ArithResult<Fx> {
        mul(qty.0, num::sub(Fx::ONE, self.fee.0)?, round)
    }

    /// Sells `qty` base into the pool; returns the quote paid out.
    pub fn sell(&mut self, qty: Qty) -> ArithResult<Value> {
        let effective = self.input_after_fee(qty, Round::Down)?;
        let numerator = mul(effective, self.quote.0, Round::Down)?;
        let out = num::div(numerator, num::add(self.base.0, effective)?, Round::Down)?;
        self.base = self.base.add(qty)?;
        self.quote = Value(num::sub(self.quote.0, out)?);
        Ok(Value(out))
    }

    /// Buys `qty` base out of the pool; returns the quote paid in, or `None`
    /// when the pool holds no more than `qty`.
    pub fn buy(&mut self, qty: Qty) -> ArithResult<Option<Value>> {
        let left = num::sub(self.base.0, qty.0)?;
        if left <= Fx::ZERO {
            return Ok(None);
        }
        let numerator = mul(self.quote.0, qty.0, Round::Up)?;
        let denominator = mul(left, num::sub(Fx::ONE, self.fee.0)?, Round::Down)?;
        if denominator <= Fx::ZERO {
            return Ok(None);
        }
        let cost = num::div(numerator, denominator, Round::Up)?;
        self.base = Qty(left);
        self.quote = Value(num::add(self.quote.0, cost)?);
        Ok(Some(Value(cost)))
    }

    /// Rebalances the pool, without fee and keeping `k`, so that its price
    /// becomes `target`: the trade an arbitrageur against an outside market
    /// makes. Returns the arbitrageur's fill.
    pub fn rebalance_to(&mut self, target: Price) -> ArithResult<Fill> {
        let k = mul(self.base.0, self.quote.0, Round::Down)?;
        let base = sqrt(num::div(k, target.0, Round::Up)?, Round::Up)?;
        if base <= Fx::ZERO {
            return Err(ArithError::Domain);
        }
        // Round the quote reserve up so the pool's k does not shrink.
        let quote = num::div(k, base, Round::Up)?;
        let fill = Fill {
            base_in: Qty(num::sub(base, self.base.0)?),
            quote_out: Value(num::sub(self.quote.0, quote)?),
        };
        self.base = Qty(base);
        self.quote = Value(quote);
        Ok(fill)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        Pool {
            base: Qty::from_int(1_000),
            quote: Value::from_int(100_000),
            fee: Ratio::from_f64(0.003),
        }
    }

    #[test]
    fn sell_matches_the_constant_product_formula() {
        let mut p = pool();
        let out = p.sell(Qty::from_int(100)).unwrap().to_f64();
        let dx = 100.0 * 0.997;
        let want = dx * 100_000.0 / (1_000.0 + dx);
        assert!((out - want).abs() < 1e-9 && out <= want, "{out} vs {want}");
        assert!(p.base.to_f64() * p.quote.to_f64() >= 1_000.0 * 100_000.0);
    }

    #[test]
    fn buy_matches_the_constant_product_formula_and_refuses_draining() {
        let mut p = pool();
        let cost = p.buy(Qty::from_int(100)).unwrap().unwrap().to_f64();
        let want = 100_000.0 * 100.0 / (900.0 * 0.997);
        assert!((cost - want).abs() < 1e-9 && cost >= want);
        assert_eq!(pool().buy(Qty::from_int(1_000)), Ok(None));
    }

    #[test]
    fn rebalance_reaches_the_target_price_and_keeps_k() {
        let mut p = pool();
        let fill = p.rebalance_to(Price::from_int(80)).unwrap();
        assert!((p.price().unwrap().to_f64() - 80.0).abs() < 1e-9);
        assert!(
            fill.base_in.is_positive(),
            "price falls when base is sold in"
        );
        assert!(p.base.to_f64() * p.quote.to_f64() >= 1e8 - 1e-6);
    }
}

//! Impact curves: a venue whose price is a function of the outstanding
//! quantity `Q` sold into it (negative when bought), and whose fill for a trade
//! from `Q` to `Q'` is the area under the curve, `F(Q') - F(Q)`.
//!
//! | curve        | price p(Q)                       | area F(Q) = ∫₀^Q p           |
//! |--------------|----------------------------------|------------------------------|
//! | linear (Kyle)| ref − λ·Q                        | ref·Q − λ·Q²/2               |
//! | exponential  | ref · e^(−Q/D)                   | ref·D·(1 − e^(−Q/D))         |
//! | square root  | ref · (1 − c·sign(Q)·√abs(Q))    | ref·(Q − ⅔·c·abs(Q)·√abs(Q)) |
//!
//! For the square-root law Δp/p = Y·σ·√(q/V), `c = Y·σ/√V`; buying (Q < 0)
//! raises the price by the same law, and one area formula covers both sides:
//! `∫₀^Q sign(x)·√abs(x) dx = ⅔·abs(Q)^(3/2)` whatever the sign of `Q`.

use crate::num::{self, exp, mul, sqrt, ArithResult, Fx, Price, Qty, Ratio, Round, Value};

/// The shape of an impact curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Curve {
    /// Kyle's λ: the price falls `lambda` quote per unit sold.
    Linear {
        /// Price change per unit of quantity.
        lambda: Fx,
    },
    /// `p = ref · e^(−Q/D)`.
    Exponential {
        /// Depth `D`, in units of the asset.
        depth: Qty,
    },
    /// `Δp/p = c · √Q`, with `c = Y·σ/√V`.
    SquareRoot {
        /// Coefficient `c`, per square root of a unit of quantity.
        coefficient: Fx,
    },
}

impl Curve {
    /// Price at outstanding quantity `q`, relative to `reference`.
    pub(crate) fn price(&self, reference: Price, q: Qty, round: Round) -> ArithResult<Fx> {
        match *self {
            Curve::Linear { lambda } => num::sub(reference.0, mul(lambda, q.0, opposite(round))?),
            Curve::Exponential { depth } => {
                let x = num::div(q.0, depth.0, opposite(round))?.checked_neg();
                let factor = exp(x.ok_or(num::ArithError::Overflow)?)?;
                mul(reference.0, factor, round)
            }
            Curve::SquareRoot { coefficient } => {
                let root = sqrt(
                    q.0.checked_abs().ok_or(num::ArithError::Overflow)?,
                    opposite(round),
                )?;
                let impact = mul(coefficient, root, opposite(round))?;
                let factor = if q.0 >= Fx::ZERO {
                    num::sub(Fx::ONE, impact)?
                } else {
                    num::add(Fx::ONE, mul(coefficient, root, round)?)?
                };
                mul(reference.0, factor, round)
            }
        }
    }

    /// Area under the price curve from 0 to `q`, rounded as asked.
    pub(crate) fn area(&self, reference: Price, q: Qty, round: Round) -> ArithResult<Value> {
        let area = match *self {
            Curve::Linear { lambda } => {
                let linear = mul(reference.0, q.0, round)?;
                let square = mul(q.0, q.0, opposite(round))?;
                let quadratic = num::div(
                    mul(lambda, square, opposite(round))?,
                    Fx::from_num(2),
                    opposite(round),
                )?;
                num::sub(linear, quadratic)?
            }
            Curve::Exponential { depth } => {
                let x = num::div(q.0, depth.0, round)?.checked_neg();
                let remaining = exp(x.ok_or(num::ArithError::Overflow)?)?;
                let scale = mul(reference.0, depth.0, round)?;
                mul(scale, num::sub(Fx::ONE, remaining)?, round)?
            }
            Curve::SquareRoot { coefficient } => {
                let root = sqrt(
                    q.0.checked_abs().ok_or(num::ArithError::Overflow)?,
                    opposite(round),
                )?;
                let two_thirds_c = num::div(
                    mul(coefficient, Fx::from_num(2), round)?,
                    Fx::from_num(3),
                    round,
                )?;
                let magnitude = q.0.checked_abs().ok_or(num::ArithError::Overflow)?;
                let concave = mul(
                    mul(two_thirds_c, magnitude, opposite(round))?,
                    root,
                    opposite(round),
                )?;
                mul(reference.0, num::sub(q.0, concave)?, round)?
            }
        };
        Ok(Value(area))
    }

    /// The ratio by which a move of the current price rescales the reference,
    /// given the current price `now` and the wanted price `target`.
    pub(crate) fn shifted_reference(
        &self,
        reference: Price,
        now: Price,
        target: Price,
    ) -> ArithResult<Price> {
        match self {
            // Additive impact: keep λ·Q, move the intercept.
            Curve::Linear { .. } => Ok(Price(num::add(reference.0, num::sub(target.0, now.0)?)?)),
            // Multiplicative impact: scale the reference.
            Curve::Exponential { .. } | Curve::SquareRoot { .. } => {
                let ratio: Ratio = target.ratio_to(now, Round::Down)?;
                reference.scale(ratio, Round::Down)
            }
        }
    }
}

/// Rounding in the other direction, for the subtracted part of a formula.
fn opposite(round: Round) -> Round {
    match round {
        Round::Down => Round::Up,
        Round::Up => Round::Down,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(x: f64) -> Fx {
        Fx::from_num(x)
    }

    fn area(curve: Curve, q: f64) -> f64 {
        curve
            .area(Price(fx(100.0)), Qty(fx(q)), Round::Down)
            .unwrap()
            .to_f64()
    }

    #[test]
    fn linear_area_is_the_trapezoid() {
        let curve = Curve::Linear { lambda: fx(0.5) };
        // From 0 to 10: 100·10 − 0.5·100/2 = 975.
        assert!((area(curve, 10.0) - 975.0).abs() < 1e-9);
        let p = curve
            .price(Price(fx(100.0)), Qty(fx(10.0)), Round::Down)
            .unwrap();
        assert_eq!(p, fx(95.0));
    }

    #[test]
    fn exponential_area_matches_closed_form() {
        let curve = Curve::Exponential {
            depth: Qty(fx(50.0)),
        };
        let want = 100.0 * 50.0 * (1.0 - libm::exp(-10.0 / 50.0));
        assert!(
            (area(curve, 10.0) - want).abs() < 1e-8,
            "{}",
            area(curve, 10.0)
        );
        let buy = area(curve, -10.0);
        let want_buy = 100.0 * 50.0 * (1.0 - libm::exp(10.0 / 50.0));
        assert!((buy - want_buy).abs() < 1e-8);
    }

    #[test]
    fn square_root_area_matches_closed_form() {
        let c = 0.01;
        let curve = Curve::SquareRoot { coefficient: fx(c) };
        let want = 100.0 * (16.0 - 2.0 / 3.0 * c * 16.0 * 4.0);
        assert!((area(curve, 16.0) - want).abs() < 1e-8);
        // Buying raises the price: 16 units bought from Q = 0 cost more
        // than 16 at the reference (the area once had the sign of Q where
        // it needs abs(Q), and buys were charged at the pre-trade price).
        let want_buy = 100.0 * (-16.0 - 2.0 / 3.0 * c * 16.0 * 4.0);
        assert!((area(curve, -16.0) - want_buy).abs() < 1e-8);
        assert!(-area(curve, -16.0) > 1_600.0 + 40.0);
        let p = curve
            .price(Price(fx(100.0)), Qty(fx(16.0)), Round::Down)
            .unwrap();
        assert!((p.to_num::<f64>() - 96.0).abs() < 1e-9);
    }
}

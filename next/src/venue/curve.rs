//! Impact curves: a venue whose price is a function of the outstanding
//! quantity `Q` sold into it (negative when bought), and whose fill for a
//! trade from `Q` to `Q′` is the area under the curve, `F(Q′) − F(Q)`.
//!
//! | curve         | price p(Q)                    | area F(Q) = ∫₀^Q p          |
//! |---------------|-------------------------------|-----------------------------|
//! | linear (Kyle) | ref − λ·Q                     | ref·Q − λ·Q²/2              |
//! | exponential   | ref · e^(−Q/D)                | ref·D·(1 − e^(−Q/D))        |
//! | square root   | ref · (1 − Yσ·sign(Q)·√(│Q│/V)) | ref·(Q − ⅔·Yσ·│Q│·√(│Q│/V)) |
//!
//! In base units: `Q`, `D` and `V` are base units of the asset, `ref` a price
//! mantissa over the venue's exponent `e` (quote base units per base unit
//! times `10^e`), λ a decimal number of mantissa units per base unit. A fill
//! is quote base units.
//!
//! Every fill is the quote paid to the trader, rounded toward −∞: proceeds
//! down, costs up. The linear area is exact (one rounding at the end); the
//! other two are computed from bounds on `e^x` and `√x` taken on the side
//! that lowers the fill, so each is at most the exact area. The fill is then
//! kept between `q·p(Q)` and `q·p(Q′)`, the prices again rounded in the
//! protocol's favour: the lower end is itself at most the exact area, so
//! the clamp cannot lift a fill past it, and no error of the approximations
//! can produce a fill outside the prices traded through.

use super::math::{exp_q64, mul_div_wide, signed_mul_div_wide, sqrt, ONE_Q64};
use super::VenueError;
use crate::num::{
    div_round, pow10, signed_mul_div, ArithError, ArithResult, Qty, Ratio, Round, Value,
    RATIO_SCALE,
};

/// The largest exponent of a [`Slope`]: `2·10^18·ref` must fit an `i128`
/// in the linear area.
pub const MAX_SLOPE_EXPONENT: u8 = 18;

/// Kyle's λ as a decimal: the price mantissa falls `mantissa / 10^exponent`
/// per base unit sold (in the venue's price exponent).
///
/// For an asset with 9 decimals priced at 2,000.000000 USDC (exponent 12,
/// a mantissa of 10^9 per dollar), λ = 0.5 USDC per whole unit per whole
/// unit is 5·10^8 mantissa units per 10^9 base units: `Slope { mantissa:
/// 5, exponent: 1 }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Slope {
    /// Mantissa units of price per `10^exponent` base units.
    pub mantissa: u64,
    /// At most [`MAX_SLOPE_EXPONENT`].
    pub exponent: u8,
}

/// The shape of an impact curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Curve {
    /// Kyle's λ: the price falls linearly in the quantity sold.
    Linear {
        /// Price change per base unit.
        slope: Slope,
    },
    /// `p = ref · e^(−Q/D)`.
    Exponential {
        /// Depth `D`, in base units (> 0).
        depth: Qty,
    },
    /// The square-root law `Δp/p = Y·σ·√(Q/V)`; a buy raises the price by
    /// the same law.
    SquareRoot {
        /// `Y·σ`: the impact constant times the volatility.
        y_sigma: Ratio,
        /// Daily volume `V`, in base units (> 0).
        volume: Qty,
    },
}

/// The other direction of rounding.
fn opposite(round: Round) -> Round {
    match round {
        Round::Down => Round::Up,
        Round::Up => Round::Down,
    }
}

fn to_i128(x: u128) -> ArithResult<i128> {
    i128::try_from(x).map_err(|_| ArithError::Overflow)
}

fn to_i64(x: i128) -> ArithResult<i64> {
    i64::try_from(x).map_err(|_| ArithError::Overflow)
}

/// A mantissa from an exact or bounded `i128`: zero at or below zero (a
/// curve's price there is below any floor), `Overflow` past `u64`.
fn mantissa(x: i128) -> ArithResult<u64> {
    if x <= 0 {
        return Ok(0);
    }
    u64::try_from(x).map_err(|_| ArithError::Overflow)
}

/// `10^k` as a `u128`.
fn pow10_wide(k: u8) -> ArithResult<u128> {
    pow10(k).map(u128::from).ok_or(ArithError::Domain)
}

impl Curve {
    /// The price mantissa at outstanding quantity `q`, for the reference
    /// mantissa `reference`, rounded as asked; zero where the curve is at
    /// or below zero.
    pub fn price(&self, reference: u64, q: Qty, round: Round) -> ArithResult<u64> {
        match *self {
            Curve::Linear { slope } => {
                let impact = i128::from(slope.mantissa)
                    .checked_mul(i128::from(q.0))
                    .ok_or(ArithError::Overflow)?;
                // The subtracted impact rounds the other way.
                let impact = div_round(impact, pow10_wide(slope.exponent)?, opposite(round))?;
                mantissa(
                    i128::from(reference)
                        .checked_sub(impact)
                        .ok_or(ArithError::Overflow)?,
                )
            }
            Curve::Exponential { depth } => {
                let factor = exp_q64(exponent_q64(q, depth, round)?, round == Round::Up)?;
                let p = mul_div_wide(u128::from(reference), factor, ONE_Q64, round == Round::Up)?;
                u64::try_from(p).map_err(|_| ArithError::Overflow)
            }
            Curve::SquareRoot { y_sigma, volume } => {
                let up = round == Round::Up;
                // Selling lowers the price by the impact, buying raises it:
                // the impact rounds against the price's direction on the
                // sell side and with it on the buy side.
                let factor = if q.0 >= 0 {
                    let impact = impact_q64(y_sigma, volume, q, !up)?;
                    match ONE_Q64.checked_sub(impact) {
                        Some(f) => f,
                        None => return Ok(0),
                    }
                } else {
                    let impact = impact_q64(y_sigma, volume, q, up)?;
                    ONE_Q64.checked_add(impact).ok_or(ArithError::Overflow)?
                };
                let p = mul_div_wide(u128::from(reference), factor, ONE_Q64, up)?;
                u64::try_from(p).map_err(|_| ArithError::Overflow)
            }
        }
    }

    /// The area under the price curve from `from` to `to`, in quote base
    /// units for a price exponent `exponent`, rounded down: the quote paid to
    /// a trader whose trade moves the outstanding quantity from `from` to
    /// `to` (negative: the cost of a buy, rounded up). At most the exact
    /// area; see the module's documentation for how far below it.
    pub fn area(&self, reference: u64, exponent: u8, from: Qty, to: Qty) -> ArithResult<i128> {
        let q = i128::from(to.0).wrapping_sub(i128::from(from.0));
        let scale = pow10_wide(exponent)?;
        match *self {
            Curve::Linear { slope } => {
                // q·(ref − λ(Q + Q′)/2): the trapezoid, exact. As one
                // quotient: q·(2·10^k·ref − λ_m·(Q + Q′)) / (2·10^k·10^e).
                let per = pow10_wide(slope.exponent)?;
                let twice = per.checked_mul(2).ok_or(ArithError::Overflow)?;
                let level = to_i128(twice)?
                    .checked_mul(i128::from(reference))
                    .ok_or(ArithError::Overflow)?;
                let sum = i128::from(from.0).wrapping_add(i128::from(to.0));
                let impact = i128::from(slope.mantissa)
                    .checked_mul(sum)
                    .ok_or(ArithError::Overflow)?;
                let mid = level.checked_sub(impact).ok_or(ArithError::Overflow)?;
                let d = twice.checked_mul(scale).ok_or(ArithError::Overflow)?;
                signed_mul_div_wide(
                    (q < 0) != (mid < 0),
                    q.unsigned_abs(),
                    mid.unsigned_abs(),
                    d,
                    Round::Down,
                )
            }
            Curve::Exponential { depth } => {
                // ref·D·(e^(−Q/D) − e^(−Q′/D)): the first factor bounded
                // from below, the second from above.
                let high = exp_q64(exponent_q64(from, depth, Round::Down)?, false)?;
                let low = exp_q64(exponent_q64(to, depth, Round::Up)?, true)?;
                let diff = to_i128(high)?
                    .checked_sub(to_i128(low)?)
                    .ok_or(ArithError::Overflow)?;
                let scale_depth = u128::from(reference)
                    .checked_mul(u128::from(depth.0.unsigned_abs()))
                    .ok_or(ArithError::Overflow)?;
                let d = scale.checked_mul(ONE_Q64).ok_or(ArithError::Overflow)?;
                signed_mul_div_wide(diff < 0, scale_depth, diff.unsigned_abs(), d, Round::Down)
            }
            Curve::SquareRoot { y_sigma, volume } => {
                // ref·(q − ⅔·(│Q′│·I(Q′) − │Q│·I(Q))), I the impact: the
                // subtracted difference bounded from above, each product
                // in Q32 base units (U = │Q│·I / 2^32). Then
                // ref·(3·2^32·q − 2·(U′ − U)) / (3·2^32·10^e).
                let impact_after = impact_q64(y_sigma, volume, to, true)?;
                let impact_before = impact_q64(y_sigma, volume, from, false)?;
                let q32 = 1u128 << 32;
                let after = mul_div_wide(u128::from(to.0.unsigned_abs()), impact_after, q32, true)?;
                let before =
                    mul_div_wide(u128::from(from.0.unsigned_abs()), impact_before, q32, false)?;
                let concave = to_i128(after)?
                    .checked_sub(to_i128(before)?)
                    .and_then(|x| x.checked_mul(2))
                    .ok_or(ArithError::Overflow)?;
                // 3·2^32·q < 2^98.
                let linear = q.wrapping_mul(3 << 32);
                let net = linear.checked_sub(concave).ok_or(ArithError::Overflow)?;
                let d = scale.checked_mul(3 << 32).ok_or(ArithError::Overflow)?;
                signed_mul_div_wide(
                    net < 0,
                    net.unsigned_abs(),
                    u128::from(reference),
                    d,
                    Round::Down,
                )
            }
        }
    }
}

/// `−Q/D` in Q64, rounded as asked.
fn exponent_q64(q: Qty, depth: Qty, round: Round) -> ArithResult<i128> {
    let n = i128::from(q.0)
        .checked_neg()
        .and_then(|n| n.checked_mul(1 << 64))
        .ok_or(ArithError::Overflow)?;
    if !depth.is_positive() {
        return Err(ArithError::Domain);
    }
    div_round(n, u128::from(depth.0.unsigned_abs()), round)
}

/// The square-root law's impact `Y·σ·√(│Q│/V)` in Q64, a lower or (`up`) an
/// upper bound: `√(│Q│·V·4^s) / (V·2^s)` with `s` as large as fits, so the
/// root carries at least 62 significant bits.
fn impact_q64(y_sigma: Ratio, volume: Qty, q: Qty, up: bool) -> ArithResult<u128> {
    if !volume.is_positive() {
        return Err(ArithError::Domain);
    }
    let (a, v) = (
        u128::from(q.0.unsigned_abs()),
        u128::from(volume.0.unsigned_abs()),
    );
    // a, v <= 2^63: the product fits, with at least two bits to spare.
    let x = a.wrapping_mul(v);
    if x == 0 {
        return Ok(0);
    }
    let s = x.leading_zeros() >> 1;
    // 2s <= the leading zeros: nothing is shifted out; v·2^s < 2^126.
    let root = sqrt(x << (s << 1), up);
    let ratio_root = mul_div_wide(root, ONE_Q64, v << s, up)?;
    mul_div_wide(
        ratio_root,
        u128::from(y_sigma.0),
        u128::from(RATIO_SCALE),
        up,
    )
}

/// An impact curve around a reference price, with its outstanding impact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CurveVenue {
    /// The curve's shape.
    pub curve: Curve,
    /// Price mantissa at zero outstanding quantity.
    pub reference_mantissa: u64,
    /// Net base units sold whose impact has not decayed yet (negative:
    /// bought).
    pub outstanding: Qty,
    /// Fraction of `outstanding` that decays each round, in `[0, 1]`.
    pub resilience: Ratio,
    /// Price mantissa at or below which the market is broken.
    pub floor_mantissa: u64,
}

impl CurveVenue {
    /// The price mantissa now, rounded as asked.
    pub fn price(&self, round: Round) -> ArithResult<u64> {
        self.curve
            .price(self.reference_mantissa, self.outstanding, round)
    }

    /// The quote paid to a trader who puts `q` base units in (negative:
    /// takes them out), and the outstanding quantity after; nothing
    /// changes. `Exhausted` when the price would reach the floor.
    pub fn plan(&self, exponent: u8, q: Qty) -> Result<(Value, Qty), VenueError> {
        let after = self.outstanding.add(q)?;
        if q == Qty::ZERO {
            return Ok((Value::ZERO, after));
        }
        let (curve, reference) = (&self.curve, self.reference_mantissa);
        let after_down = curve.price(reference, after, Round::Down)?;
        if after_down <= self.floor_mantissa {
            return Err(VenueError::Exhausted);
        }
        // The bracket's prices in the protocol's favour: down for a sale,
        // up for a purchase.
        let selling = q.is_positive();
        let favour = if selling { Round::Down } else { Round::Up };
        let after_price = if selling {
            after_down
        } else {
            curve.price(reference, after, Round::Up)?
        };
        let before_price = curve.price(reference, self.outstanding, favour)?;
        let scale = pow10(exponent).ok_or(ArithError::Domain)?;
        let at_after = signed_mul_div(q.0, after_price, scale, Round::Down)?;
        let at_before = signed_mul_div(q.0, before_price, scale, Round::Down)?;
        let area = curve.area(reference, exponent, self.outstanding, after)?;
        let (low, high) = (at_after.min(at_before), at_after.max(at_before));
        // Between two i64s: the clamped area fits.
        let paid = to_i64(area.clamp(i128::from(low), i128::from(high)))?;
        Ok((Value(paid), after))
    }

    /// One round of decay: `Q ← Q·(1 − ρ)` rounded toward zero, so the
    /// impact strictly shrinks while `ρ > 0`, and zero once `│Q│` is below
    /// `settle_below`.
    pub fn recovered(&self, settle_below: Qty) -> ArithResult<Qty> {
        let kept = Ratio(
            RATIO_SCALE
                .checked_sub(self.resilience.0)
                .ok_or(ArithError::Domain)?,
        );
        let toward_zero = if self.outstanding.is_negative() {
            Round::Up
        } else {
            Round::Down
        };
        let next = self.outstanding.scale(kept, toward_zero)?;
        let settle = u64::try_from(settle_below.0).unwrap_or(0);
        Ok(if next.0.unsigned_abs() < settle {
            Qty::ZERO
        } else {
            next
        })
    }

    /// The reference after a shock moves the price from `now` to `target`
    /// (mantissas): the linear curve shifts it by `target − now`, keeping
    /// its impact; the others scale it by `target / now`, rounded down.
    /// `Exhausted` when the target or the new reference is at or below the
    /// floor (the impact decays toward the reference).
    pub fn moved_reference(&self, now: u64, target: u64) -> Result<u64, VenueError> {
        let reference = self.reference_mantissa;
        let shifted = match self.curve {
            Curve::Linear { .. } => i128::from(reference)
                .wrapping_add(i128::from(target))
                .wrapping_sub(i128::from(now)),
            Curve::Exponential { .. } | Curve::SquareRoot { .. } => to_i128(mul_div_wide(
                u128::from(reference),
                u128::from(target),
                u128::from(now),
                false,
            )?)?,
        };
        let floor = i128::from(self.floor_mantissa);
        if target <= self.floor_mantissa || shifted <= floor {
            return Err(VenueError::Exhausted);
        }
        Ok(u64::try_from(shifted).map_err(|_| ArithError::Overflow)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An ETH-like asset: 9 decimals against a 6-decimal quote, the price
    /// with 12 digits after the point: 2,000 USDC is 2·10^12.
    const E: u8 = 12;
    const REF: u64 = 2_000_000_000_000;

    fn f(x: i128) -> f64 {
        x as f64
    }

    /// The exact area in quote base units, in f64.
    fn area_f64(curve: &Curve, reference: u64, from: f64, to: f64) -> f64 {
        let r = reference as f64 / 1e12;
        let big_f = |q: f64| match *curve {
            Curve::Linear { slope } => {
                let lambda = slope.mantissa as f64 / 10f64.powi(slope.exponent.into()) / 1e12;
                r * q - lambda * q * q / 2.0
            }
            Curve::Exponential { depth } => {
                let d = depth.0 as f64;
                r * d * (1.0 - (-q / d).exp())
            }
            Curve::SquareRoot { y_sigma, volume } => {
                let ys = y_sigma.0 as f64 / 1e9;
                r * (q - 2.0 / 3.0 * ys * q.abs() * (q.abs() / volume.0 as f64).sqrt())
            }
        };
        big_f(to) - big_f(from)
    }

    fn price_f64(curve: &Curve, reference: u64, q: f64) -> f64 {
        let r = reference as f64;
        match *curve {
            Curve::Linear { slope } => {
                r - slope.mantissa as f64 / 10f64.powi(slope.exponent.into()) * q
            }
            Curve::Exponential { depth } => r * (-q / depth.0 as f64).exp(),
            Curve::SquareRoot { y_sigma, volume } => {
                let ys = y_sigma.0 as f64 / 1e9;
                r * (1.0 - ys * q.signum() * (q.abs() / volume.0 as f64).sqrt())
            }
        }
    }

    fn curves() -> [Curve; 3] {
        [
            // 0.5 USDC per ETH per ETH.
            Curve::Linear {
                slope: Slope {
                    mantissa: 5,
                    exponent: 1,
                },
            },
            // 1,000 ETH deep.
            Curve::Exponential {
                depth: Qty(1_000_000_000_000),
            },
            // Yσ = 0.8 over a daily volume of 100,000 ETH.
            Curve::SquareRoot {
                y_sigma: Ratio(800_000_000),
                volume: Qty(100_000_000_000_000),
            },
        ]
    }

    #[test]
    fn closed_forms_at_known_points() {
        let [linear, exponential, square_root] = curves();
        // Linear: 10 ETH sold from 0: 2,000·10 − 0.5·100/2 = 19,975 USDC.
        let ten = Qty(10_000_000_000);
        assert_eq!(
            linear.area(REF, E, Qty::ZERO, ten),
            Ok(19_975_000_000),
            "the trapezoid is exact"
        );
        // The price after: 1,995 USDC.
        assert_eq!(linear.price(REF, ten, Round::Down), Ok(1_995_000_000_000));
        // Exponential: 100 ETH into 1,000 deep: 2,000·1,000·(1 − e^−0.1).
        let hundred = Qty(100_000_000_000);
        let want = 2e6 * (1.0 - (-0.1f64).exp()) * 1e6;
        let got = exponential.area(REF, E, Qty::ZERO, hundred).unwrap();
        assert!(
            (f(got) - want).abs() < 2.0 && f(got) <= want,
            "{got} vs {want}"
        );
        // Square root: 16 ETH into 100,000 of daily volume with Yσ = 0.8:
        // the price falls 0.8·√(16/100,000) = 1.0119...%.
        let sixteen = Qty(16_000_000_000);
        let p = square_root.price(REF, sixteen, Round::Down).unwrap();
        let want_p = 2e12 * (1.0 - 0.8 * (16.0f64 / 100_000.0).sqrt());
        assert!((p as f64 - want_p).abs() <= 2.0, "{p} vs {want_p}");
    }

    /// The kernel's square-root area had `Q·√│Q│` where the price's
    /// antiderivative needs `│Q│·√│Q│`: a purchase paid less than the
    /// reference price for a price that rises. Here it costs more.
    #[test]
    fn a_square_root_purchase_costs_more_than_the_reference() {
        let [_, _, square_root] = curves();
        let sixteen = Qty(16_000_000_000);
        let paid = square_root
            .area(REF, E, Qty::ZERO, Qty(-sixteen.0))
            .unwrap();
        let at_reference = -32_000_000_000i128;
        assert!(paid < at_reference, "a buy cost {} <= 32,000 USDC", -paid);
        let want = -area_f64(&square_root, REF, 0.0, -16e9).abs();
        assert!((f(paid) - want).abs() < 2.0, "{paid} vs {want}");
    }

    proptest! {
        /// The price and the area against f64, and the area's rounding:
        /// never above the exact value (by more than f64's own error).
        #[test]
        fn prices_and_areas_match_f64(
            kind in 0usize..3,
            from in -300_000_000_000i64..300_000_000_000,
            q in -300_000_000_000i64..300_000_000_000,
        ) {
            let curve = curves()[kind];
            let to = from + q;
            let (pf, pt) = (price_f64(&curve, REF, from as f64), price_f64(&curve, REF, to as f64));
            // Stay where the curve is positive (the venue refuses the rest).
            prop_assume!(pf > 1.0 && pt > 1.0 && pt < 1.8e19 && pf < 1.8e19);
            for round in [Round::Down, Round::Up] {
                let p = curve.price(REF, Qty(to), round).unwrap() as f64;
                // f64's 2^-52 plus the bounds' 2^-60 and one rounding.
                prop_assert!((p - pt).abs() <= pt * 1e-14 + 1.0, "{} vs {}", p, pt);
            }
            let down = curve.price(REF, Qty(to), Round::Down).unwrap();
            let up = curve.price(REF, Qty(to), Round::Up).unwrap();
            prop_assert!(down <= up && up - down <= 2);
            let area = f(curve.area(REF, E, Qty(from), Qty(to)).unwrap());
            let exact = area_f64(&curve, REF, from as f64, to as f64);
            // f64 loses 2^-52 of each of the two terms it subtracts; the
            // exponential's bounds 2^-61 of ref·D: a few quote units.
            let slack = 1e-13 * (REF as f64 / 1e12) * (from.abs().max(to.abs()) as f64 + 1e12) + 2.0;
            prop_assert!(area <= exact + slack, "area {} above {}", area, exact);
            prop_assert!(area >= exact - slack, "area {} below {}", area, exact);
        }
    }

    fn venue(curve: Curve) -> CurveVenue {
        CurveVenue {
            curve,
            reference_mantissa: REF,
            outstanding: Qty::ZERO,
            resilience: Ratio(500_000_000),
            floor_mantissa: 10_000_000_000,
        }
    }

    proptest! {
        /// A fill lies between q·p(Q′) and q·p(Q), prices in the
        /// protocol's favour, and the venue's area never pays more than
        /// the exact one.
        #[test]
        fn fills_are_bracketed_by_the_prices_traded_through(
            kind in 0usize..3,
            start in -200_000_000_000i64..200_000_000_000,
            q in -50_000_000_000i64..50_000_000_000,
        ) {
            let mut v = venue(curves()[kind]);
            v.outstanding = Qty(start);
            let Ok((paid, after)) = v.plan(E, Qty(q)) else { return Ok(()); };
            prop_assert_eq!(after, Qty(start + q));
            let favour = if q > 0 { Round::Down } else { Round::Up };
            let p0 = i128::from(v.price(favour).unwrap());
            let p1 = i128::from(v.curve.price(REF, after, favour).unwrap());
            let (a, b) = (i128::from(q) * p0, i128::from(q) * p1);
            let paid_scaled = i128::from(paid.0) * 1_000_000_000_000;
            prop_assert!(paid_scaled <= a.max(b), "{} above {}", paid_scaled, a.max(b));
            prop_assert!(paid_scaled > a.min(b) - 1_000_000_000_000, "{} below {}", paid_scaled, a.min(b));
        }
    }

    proptest! {
        /// The exponential's area against the exact value (from the
        /// reference `e^x` at 2^-100): never above its floor, and within
        /// the bounds' few ulps of it. Deep venues in a price exponent of
        /// zero, where one ulp of `e^x` is worth quote units.
        #[test]
        fn the_exponential_area_rounds_down_at_the_last_unit(
            depth in 1_000_000i64..1_000_000_000_000_000,
            reference in 1u64..1_000_000,
            from_ratio in -3.0f64..3.0,
            q_ratio in -1.0f64..1.0,
        ) {
            let from = (depth as f64 * from_ratio) as i64;
            let to = from + (depth as f64 * q_ratio) as i64;
            let curve = Curve::Exponential { depth: Qty(depth) };
            let area = curve.area(reference, 0, Qty(from), Qty(to)).unwrap();
            // e^(−Q/D) in Q100, the exponent within 2^-124.
            let e = |q: i64| {
                let y = mul_div_wide(u128::from(q.unsigned_abs()), 1 << 124, depth as u128, false).unwrap() as i128;
                super::super::math::exp_reference_q100(if q > 0 { -y } else { y })
            };
            let diff = e(from) as i128 - e(to) as i128;
            let scale = reference as u128 * depth as u128;
            let exact = |slack: i128| {
                let d = diff + slack;
                signed_mul_div_wide(d < 0, scale, d.unsigned_abs(), 1 << 100, Round::Down).unwrap()
            };
            // The reference is good to a few ulps of Q100: where that
            // decides the floor, skip.
            let floor = exact(0);
            prop_assume!(exact(-64) == floor && exact(64) == floor);
            prop_assert!(area <= floor, "area {} above the exact floor {}", area, floor);
            // The bounds are good to 2^-61 of e^s and to a few ulps of
            // Q64 after the shift: of each of the two terms ref·D·e^(−Q/D)
            // relatively, and of ref·D absolutely.
            let term = mul_div_wide(scale, e(from).max(e(to)), 1 << 100, true).unwrap();
            let tolerance = 2 + (term >> 59) as i128 + (scale >> 61) as i128;
            prop_assert!(area >= floor - tolerance, "area {} far below {}", area, floor);
        }

        /// The square-root area where it is exact in rationals: │Q│ and V
        /// perfect squares, so √(│Q│/V) = m/10^8. Never above the exact
        /// floor, and within the roots' 2^-62 of it. Large positions at a
        /// large price, where that is worth quote units.
        #[test]
        fn the_square_root_area_rounds_down_at_the_last_unit(
            m in 1i64..14_000_000,
            dm in -5_000i64..5_000,
            signs in 0usize..4,
            y_sigma in 1u64..2_000_000_000,
            reference in 1u64..1_000_000,
        ) {
            let m1 = (m + dm).max(0);
            let (s0, s1) = [(1, 1), (1, -1), (-1, 1), (-1, -1)][signs];
            let (from, to) = (s0 * m * m, s1 * m1 * m1);
            let curve = Curve::SquareRoot { y_sigma: Ratio(y_sigma), volume: Qty(10i64.pow(16)) };
            let Ok(area) = curve.area(reference, 0, Qty(from), Qty(to)) else {
                return Ok(());
            };
            let q = i128::from(to) - i128::from(from);
            // ref·(q − ⅔·Yσ·(│Q′│m′ − │Q│m)/10^8/10^9), over 3·10^17.
            let concave = i128::from(to.abs()) * i128::from(m1) - i128::from(from.abs()) * i128::from(m);
            let n = 3 * 10i128.pow(17) * q - 2 * i128::from(y_sigma) * concave;
            let exact = signed_mul_div_wide(n < 0, n.unsigned_abs(), u128::from(reference), 3 * 10u128.pow(17), Round::Down).unwrap();
            prop_assert!(area <= exact, "area {} above the exact floor {}", area, exact);
            let big = i128::from(reference) * i128::from(from.abs().max(to.abs())) * i128::from(y_sigma.max(1_000_000_000)) / 10i128.pow(9);
            prop_assert!(area >= exact - 3 - (big >> 60), "area {} far below {}", area, exact);
        }
    }

    #[test]
    fn a_tiny_trade_far_out_on_a_deep_curve_fills_between_its_prices() {
        // Far out on a deep curve at a large price, the area's error (a few
        // ulps of e^x or of a root, times ref·D) exceeds the few quote
        // units a small trade is worth: the clamp keeps the fill between
        // the prices it trades through.
        let deep = [
            (
                Curve::Exponential {
                    depth: Qty(1_000_000_000_000_000),
                },
                10_000,
            ),
            (
                Curve::SquareRoot {
                    y_sigma: Ratio(800_000_000),
                    volume: Qty(10i64.pow(16)),
                },
                1_000_000,
            ),
        ];
        for (curve, reference) in deep {
            let mut v = CurveVenue {
                curve,
                reference_mantissa: reference,
                outstanding: Qty(300_000_000_000_000),
                resilience: Ratio::ZERO,
                floor_mantissa: 1,
            };
            for q in (1..200).chain((1..200).map(|q| -q)) {
                let favour = if q > 0 { Round::Down } else { Round::Up };
                let before = v.price(favour).unwrap();
                let (paid, after) = v.plan(0, Qty(q)).unwrap();
                v.outstanding = after;
                let now = v.price(favour).unwrap();
                let (a, b) = (
                    i128::from(q) * i128::from(before),
                    i128::from(q) * i128::from(now),
                );
                let paid = i128::from(paid.0);
                assert!(
                    a.min(b) <= paid && paid <= a.max(b),
                    "{curve:?}: {q} for {paid}"
                );
            }
        }
    }

    #[test]
    fn decay_rounds_toward_zero_and_settles() {
        let mut v = venue(curves()[0]);
        v.outstanding = Qty(-7);
        // −7·0.5 = −3.5 → −3, toward zero.
        assert_eq!(v.recovered(Qty(1)), Ok(Qty(-3)));
        v.outstanding = Qty(7);
        assert_eq!(v.recovered(Qty(1)), Ok(Qty(3)));
        // 3 < 4: settles.
        assert_eq!(v.recovered(Qty(4)), Ok(Qty::ZERO));
        v.resilience = Ratio(2_000_000_000);
        assert_eq!(v.recovered(Qty(1)), Err(ArithError::Domain));
    }

    #[test]
    fn a_move_shifts_or_scales_the_reference() {
        let mut linear = venue(curves()[0]);
        linear.outstanding = Qty(10_000_000_000);
        let now = linear.price(Round::Down).unwrap();
        assert_eq!(now, 1_995_000_000_000);
        // Down 100 USDC: the intercept moves by the same 100.
        assert_eq!(
            linear.moved_reference(now, now - 100_000_000_000),
            Ok(1_900_000_000_000)
        );
        let mut exp = venue(curves()[1]);
        exp.outstanding = Qty(100_000_000_000);
        let now = exp.price(Round::Down).unwrap();
        // Halved: the reference halves (less the rounding of now / 2).
        let halved = exp.moved_reference(now, now / 2).unwrap();
        assert!((REF / 2 - 1..=REF / 2).contains(&halved), "{halved}");
        // To the floor, or a reference below it: refused.
        assert_eq!(
            exp.moved_reference(now, exp.floor_mantissa),
            Err(VenueError::Exhausted)
        );
        linear.outstanding = Qty(-3_000_000_000_000); // price 3,500
        let now = linear.price(Round::Down).unwrap();
        assert_eq!(
            linear.moved_reference(now, 1_400_000_000_000),
            Err(VenueError::Exhausted),
            "the price stays above the floor but the reference would not"
        );
    }
}

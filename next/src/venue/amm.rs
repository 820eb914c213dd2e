//! The constant-product pool as a venue. [`crate::pool::Pool`] trades (its
//! sell and buy, fee and rounding are used unchanged); this module adds what
//! a venue needs besides: the outside price, and the arbitrage that pulls
//! the pool toward it in recovery and to it in a shock.
//!
//! The arbitrageur trades without fee and keeps `k`: the new base reserve is
//! `⌈√(k / p)⌉` and the quote reserve `⌈k / x′⌉`, both rounded up, so the
//! pool's `k` never falls and the arbitrageur pays the rounding.

use super::math::{mul_div_wide, sqrt};
use super::{Fill, VenueError};
use crate::num::{pow10, ArithError, ArithResult, Qty, Ratio, Value, RATIO_SCALE};
use crate::pool::Pool;

/// A pool with the outside price arbitrage pulls it toward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolVenue {
    /// Reserves and fee.
    pub pool: Pool,
    /// The outside price's mantissa, over the venue's exponent.
    pub reference_mantissa: u64,
    /// Fraction of the gap to the outside price closed each round, in
    /// `[0, 1]`.
    pub resilience: Ratio,
}

/// The pool's price mantissa, `⌊y·10^e / x⌋`; `Exhausted` when it leaves
/// the representable range (zero, or past `u64`): every state a trade or a
/// shock leaves has a price.
pub(super) fn price_mantissa(pool: &Pool, exponent: u8) -> Result<u64, VenueError> {
    pool.price(exponent)
        .map(|p| p.mantissa())
        .map_err(|_| VenueError::Exhausted)
}

fn reserve(x: i64) -> ArithResult<u128> {
    match u128::try_from(x) {
        Ok(x) if x > 0 => Ok(x),
        _ => Err(ArithError::Domain),
    }
}

fn to_i64(x: u128) -> ArithResult<i64> {
    i64::try_from(x).map_err(|_| ArithError::Overflow)
}

/// The pool after an arbitrageur, trading without fee and keeping `k`,
/// has moved its price to the mantissa `target` (over `exponent`), and the
/// arbitrageur's fill: base given to the pool (negative: taken) and quote
/// taken from it (negative: paid). `x′ = ⌈√(k·10^e / target)⌉`, `y′ =
/// ⌈k / x′⌉`: `x′·y′ >= k`.
pub fn rebalanced(pool: &Pool, target: u64, exponent: u8) -> ArithResult<(Pool, Fill)> {
    let (x, y) = (reserve(pool.base.0)?, reserve(pool.quote.0)?);
    // Both below 2^63: k < 2^126.
    let k = x.wrapping_mul(y);
    let scale = pow10(exponent).ok_or(ArithError::Domain)?;
    // k·10^e / target rounded up, then its root rounded up: x′ is at least
    // the exact root, and at least 1.
    let squared = mul_div_wide(k, u128::from(scale), u128::from(target), true)?;
    let base = sqrt(squared, true);
    let quote = mul_div_wide(k, 1, base, true)?;
    let next = Pool {
        base: Qty(to_i64(base)?),
        quote: Value(to_i64(quote)?),
        fee: pool.fee,
    };
    let fill = Fill {
        base_in: next.base.sub(pool.base)?,
        quote_out: pool.quote.sub(next.quote)?,
    };
    Ok((next, fill))
}

impl PoolVenue {
    /// The quote paid to a trader who puts `q` base units in (negative:
    /// takes them out; the cost is then negative) and the pool after;
    /// nothing changes. `Exhausted` when a buy would drain the pool or the
    /// price would leave the representable range.
    pub fn plan(&self, exponent: u8, q: Qty) -> Result<(Value, Pool), VenueError> {
        let mut next = self.pool;
        let paid = if q.is_negative() {
            next.buy(q.neg()?)?.ok_or(VenueError::Exhausted)?.neg()?
        } else {
            next.sell(q)?
        };
        if !next.has_price(exponent) {
            return Err(VenueError::Exhausted);
        }
        Ok((paid, next))
    }

    /// One round of arbitrage, computed without writing: the venue after
    /// and the arbitrageur's fill. With the pool's price `now` (rounded
    /// down, as reported) and the outside price `ref`, the arbitrageur
    /// moves the price to `now ± ⌈ρ·│ref − now│⌉`: at least one mantissa
    /// unit toward `ref` (and so strictly past the exact price, never away
    /// from `ref`), at most to it. When the whole way to `ref` moves less
    /// than `settle_below` base units, or the step is too small to move the
    /// reserves at all, the pool settles: it goes the whole way, and the
    /// outside price becomes the pool's, so later rounds see no gap.
    pub fn recovered(&self, exponent: u8, settle_below: Qty) -> Result<(Self, Fill), VenueError> {
        let now = price_mantissa(&self.pool, exponent)?;
        let reference = self.reference_mantissa;
        if now == reference || self.resilience == Ratio::ZERO {
            return Ok((*self, Fill::default()));
        }
        let (whole, whole_fill) = rebalanced(&self.pool, reference, exponent)?;
        let settled = || -> Result<(Self, Fill), VenueError> {
            let venue = Self {
                pool: whole,
                reference_mantissa: price_mantissa(&whole, exponent)?,
                resilience: self.resilience,
            };
            Ok((venue, whole_fill))
        };
        let settle = u64::try_from(settle_below.0).unwrap_or(0);
        if whole_fill.base_in.0.unsigned_abs() < settle {
            return settled();
        }
        let gap = reference.abs_diff(now);
        let step = mul_div_wide(
            u128::from(gap),
            u128::from(self.resilience.0),
            u128::from(RATIO_SCALE),
            true,
        )?
        .min(u128::from(gap));
        // step <= gap: the target lies between now and the reference.
        let step = u64::try_from(step).map_err(|_| ArithError::Overflow)?;
        let target = if reference > now {
            now.wrapping_add(step)
        } else {
            now.wrapping_sub(step)
        };
        let (partial, fill) = rebalanced(&self.pool, target, exponent)?;
        if partial == self.pool {
            return settled();
        }
        price_mantissa(&partial, exponent)?;
        Ok((
            Self {
                pool: partial,
                ..*self
            },
            fill,
        ))
    }

    /// A shock that moves the pool's price from `now` (as reported) to
    /// `target`: the pool is arbitraged all the way to it, and the outside
    /// price, which recovery pulls toward, moves by the same ratio
    /// (`⌊ref·target / now⌋`), so a pool mid-recovery keeps its gap. A
    /// move to the price the pool shows changes nothing. Returns the venue
    /// after and the arbitrageur's fill.
    pub fn moved(&self, exponent: u8, target: u64) -> Result<(Self, Fill), VenueError> {
        let now = price_mantissa(&self.pool, exponent)?;
        if target == now {
            return Ok((*self, Fill::default()));
        }
        let reference = mul_div_wide(
            u128::from(self.reference_mantissa),
            u128::from(target),
            u128::from(now),
            false,
        )?;
        let reference = match u64::try_from(reference) {
            Ok(0) | Err(_) => return Err(VenueError::Exhausted),
            Ok(r) => r,
        };
        let (pool, fill) = rebalanced(&self.pool, target, exponent)?;
        price_mantissa(&pool, exponent)?;
        Ok((
            Self {
                pool,
                reference_mantissa: reference,
                resilience: self.resilience,
            },
            fill,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const E: u8 = 12;

    fn k(p: &Pool) -> u128 {
        p.base.0 as u128 * p.quote.0 as u128
    }

    proptest! {
        /// The arbitrage against the closed form `x′ = √(k/p)`: the new
        /// base is the exact root rounded up, k never falls, and the price
        /// lands on the target within the reserves' resolution.
        #[test]
        fn rebalancing_matches_the_closed_form(
            x in 1_000_000i64..(1 << 50), y in 1_000_000i64..(1 << 50),
            target in 1_000u64..(1 << 60),
        ) {
            let pool = Pool { base: Qty(x), quote: Value(y), fee: Ratio::from_bps(30) };
            let Ok((next, fill)) = rebalanced(&pool, target, E) else {
                // Only a reserve past i64 fails.
                let want = ((x as f64) * (y as f64) * 1e12 / target as f64).sqrt();
                prop_assert!(want >= 9.2e18 || (x as f64 * y as f64 / want) >= 9.2e18);
                return Ok(());
            };
            let exact = ((x as f64) * (y as f64) * 1e12 / target as f64).sqrt();
            prop_assert!((next.base.0 as f64 - exact).abs() <= exact * 1e-12 + 1.0);
            // x′ is the root rounded up: (x′ − 1)² < k·10^e / target <= x′².
            let kt = k(&pool) as f64 * 1e12 / target as f64;
            prop_assert!((next.base.0 as f64).powi(2) >= kt * (1.0 - 1e-12));
            prop_assert!(k(&next) >= k(&pool));
            prop_assert_eq!(fill.base_in.0, next.base.0 - x);
            prop_assert_eq!(fill.quote_out.0, y - next.quote.0);
            // The price is the target within one base unit of x′, and the
            // mantissa's rounding.
            let price = next.quote.0 as f64 * 1e12 / next.base.0 as f64;
            let x1 = next.base.0 as f64;
            let tol = target as f64 * (2.0 / x1 + 1e-12) + 1e12 / x1 + 1.0;
            prop_assert!((price - target as f64).abs() <= tol, "{} vs {}", price, target);
        }
    }

    fn venue(resilience: u64) -> PoolVenue {
        // 10,000 ETH (9 decimals) at 2,000 USDC (6 decimals).
        PoolVenue {
            pool: Pool {
                base: Qty(10_000_000_000_000),
                quote: Value(20_000_000_000_000),
                fee: Ratio::from_bps(30),
            },
            reference_mantissa: 2_000_000_000_000,
            resilience: Ratio(resilience),
        }
    }

    #[test]
    fn recovery_closes_its_fraction_of_the_gap_and_settles() {
        let mut v = venue(500_000_000);
        let (_, pool) = v.plan(E, Qty(1_000_000_000_000)).unwrap();
        v.pool = pool;
        let dust = Qty(1_000_000);
        let mut gap = v
            .reference_mantissa
            .abs_diff(price_mantissa(&v.pool, E).unwrap());
        let mut rounds = 0;
        while gap > 0 {
            let (next, fill) = v.recovered(E, dust).unwrap();
            let now = price_mantissa(&next.pool, E).unwrap();
            let new_gap = next.reference_mantissa.abs_diff(now);
            assert!(fill.base_in.is_negative(), "the arbitrageur buys");
            assert!(k(&next.pool) >= k(&v.pool));
            // Half the gap, within the reserves' rounding, or settled.
            assert!(
                new_gap == 0
                    || (new_gap as f64 - gap as f64 / 2.0).abs() <= gap as f64 * 1e-6 + 2.0,
                "{gap} -> {new_gap}"
            );
            (v, gap) = (next, new_gap);
            rounds += 1;
            assert!(rounds < 64, "recovery must settle");
        }
        // Settled: the outside price is the pool's; nothing moves after.
        assert_eq!(v.recovered(E, dust).unwrap(), (v, Fill::default()));
        assert!(v.reference_mantissa.abs_diff(2_000_000_000_000) < 10);
    }

    #[test]
    fn a_coarse_pool_settles_instead_of_stalling() {
        // 3 base units at 2,000 USDC each: one mantissa unit of step moves
        // no reserve, so the pool goes the whole way at once.
        let mut v = PoolVenue {
            pool: Pool {
                base: Qty(3),
                quote: Value(6),
                fee: Ratio::ZERO,
            },
            reference_mantissa: 2_000_000_000_000,
            resilience: Ratio(1),
        };
        v.reference_mantissa = 2_100_000_000_000;
        let (next, fill) = v.recovered(E, Qty(0)).unwrap();
        assert_ne!(next, v);
        assert_eq!(
            next.reference_mantissa,
            price_mantissa(&next.pool, E).unwrap()
        );
        assert_eq!(next.recovered(E, Qty(0)).unwrap().1, Fill::default());
        assert!(fill.base_in.0 <= 0);
    }

    #[test]
    fn a_shock_arbitrages_to_the_target() {
        let v = venue(0);
        let (next, fill) = v.moved(E, 1_600_000_000_000).unwrap();
        assert_eq!(next.reference_mantissa, 1_600_000_000_000);
        let now = price_mantissa(&next.pool, E).unwrap();
        assert!(now.abs_diff(1_600_000_000_000) <= 1, "{now}");
        assert!(
            fill.base_in.is_positive(),
            "the price falls as base is sold in"
        );
        // 10,000·√(2000/1600) = 11,180.34 ETH.
        assert!((next.pool.base.0 as f64 - 11_180.339_887_5e9).abs() < 2.0);
        // No resilience: no recovery at all.
        let mut drifted = next;
        drifted.reference_mantissa = 2_000_000_000_000;
        assert_eq!(drifted.recovered(E, Qty(1)).unwrap().0, drifted);
    }

    #[test]
    fn a_shock_scales_the_outside_price_with_the_pool_s() {
        // Mid-recovery, 20% below the outside price: a shock that halves
        // the pool's price halves the outside price too, and keeps the gap.
        let mut v = venue(500_000_000);
        v.reference_mantissa = 2_500_000_000_000;
        let (next, _) = v.moved(E, 1_000_000_000_000).unwrap();
        assert_eq!(next.reference_mantissa, 1_250_000_000_000);
        // A move to the price the pool shows: nothing trades or changes.
        let now = price_mantissa(&next.pool, E).unwrap();
        assert_eq!(next.moved(E, now), Ok((next, Fill::default())));
    }

    #[test]
    fn a_drained_or_worthless_pool_is_refused() {
        let v = venue(0);
        assert_eq!(
            v.plan(E, Qty(-10_000_000_000_000)),
            Err(VenueError::Exhausted)
        );
        // A price that rounds to zero is out of range.
        let tiny = PoolVenue {
            pool: Pool {
                base: Qty(1_000),
                quote: Value(1),
                fee: Ratio::ZERO,
            },
            reference_mantissa: 1_000_000_000,
            resilience: Ratio::ZERO,
        };
        assert_eq!(tiny.plan(0, Qty(1)), Err(VenueError::Exhausted));
    }
}

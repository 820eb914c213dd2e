//! Order-book ladder (Obizhaeva–Wang): `levels` bid levels below the
//! reference price at `ref·(1 − i·tick)` and as many asks above at
//! `ref·(1 + i·tick)`, `i = 1..=levels`, each `depth` base units deep.
//! Trades walk the ladder; each round every level refills a fraction
//! `resilience` of what it lacks. The venue's price is the mid of the two
//! marginal prices, each the first level with depth left interpolated by
//! how much of it is gone: the reference when the book is full, moving as
//! depth is taken, recovering as it refills.
//!
//! A walk's fill is exact before its one rounding: `Σ taken_i·(1 ∓ i·tick)`
//! is summed in base units times billionths, then multiplied by the
//! reference and divided by `10^9·10^e` once, down for a sale and up for a
//! purchase.
//!
//! The ladder holds `N` levels a side (`N` a const parameter, so a caller
//! whose books are shallow, or who has none, does not pay for sixteen), the
//! depth left at each as an `i64` of base units.

use super::math::mul_div_wide;
use super::VenueError;
use crate::num::{pow10, ArithError, ArithResult, Qty, Ratio, Value, RATIO_SCALE};

/// The kernel's most levels a side, the default capacity of a ladder.
pub const MAX_BOOK_LEVELS: usize = 16;

/// A side of the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Side {
    /// Bids, below the reference: sales take them.
    Bid,
    /// Asks, above the reference: purchases take them.
    Ask,
}

/// What a walk leaves on its side: every level before `level` empty,
/// `level` itself with `left` base units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Taken {
    /// The side walked.
    pub side: Side,
    /// The last level the walk reached (0: the innermost).
    pub level: u8,
    /// Base units left at that level.
    pub left: Qty,
}

/// A bounded two-sided ladder with room for `N` levels a side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ladder<const N: usize> {
    /// The mantissa of the price around which the levels sit.
    pub reference_mantissa: u64,
    /// Distance between levels, as a fraction of the reference (> 0).
    pub tick: Ratio,
    /// Full depth of every level, in base units (> 0).
    pub depth: Qty,
    /// Fraction of a level's missing depth restored each round, in `[0, 1]`.
    pub resilience: Ratio,
    /// Levels in use a side, `1..=N` and `levels·tick < 1`.
    pub levels: u8,
    /// Base units left at each bid level, innermost first.
    pub bids: [Qty; N],
    /// Base units left at each ask level, innermost first.
    pub asks: [Qty; N],
}

impl<const N: usize> Ladder<N> {
    /// A full ladder (the caller has validated the parameters).
    pub fn new(
        reference_mantissa: u64,
        tick: Ratio,
        depth: Qty,
        levels: u8,
        resilience: Ratio,
    ) -> Self {
        Self {
            reference_mantissa,
            tick,
            depth,
            resilience,
            levels,
            bids: [depth; N],
            asks: [depth; N],
        }
    }

    /// The levels in use on one side.
    pub fn side(&self, side: Side) -> &[Qty] {
        let all = match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        };
        all.get(..usize::from(self.levels)).unwrap_or(all)
    }

    fn side_mut(&mut self, side: Side) -> &mut [Qty] {
        let levels = usize::from(self.levels);
        let all = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        let used = all.len().min(levels);
        all.split_at_mut(used).0
    }

    /// How far the marginal level of a side sits from the reference, in
    /// ticks times the depth: `i·D − left` for the first level `i` (from 1)
    /// with depth left, `levels·D` for an empty side (the last level wholly
    /// taken: the same value the partial level tends to).
    fn marginal_steps(&self, side: Side) -> i128 {
        let depth = i128::from(self.depth.0);
        let (n, left) = self
            .side(side)
            .iter()
            .zip(1i128..)
            .find(|(left, _)| left.is_positive())
            .map_or((i128::from(self.levels), 0), |(left, n)| (n, left.0));
        // n <= 255 and depth < 2^63: no wrap.
        n.wrapping_mul(depth).wrapping_sub(i128::from(left))
    }

    /// The mid of the two marginal prices, rounded down:
    /// `ref·(1 + tick·(s_ask − s_bid)/2)` with `s` each side's marginal
    /// steps.
    pub fn price_mantissa(&self) -> ArithResult<u64> {
        let spread = self
            .marginal_steps(Side::Ask)
            .wrapping_sub(self.marginal_steps(Side::Bid));
        let depth = u128::try_from(self.depth.0).map_err(|_| ArithError::Domain)?;
        let half = depth
            .checked_mul(2 * u128::from(RATIO_SCALE))
            .ok_or(ArithError::Overflow)?;
        // tick·levels < 1, so the factor stays above half / 2 > 0.
        let factor = i128::try_from(half)
            .ok()
            .zip(i128::from(self.tick.0).checked_mul(spread))
            .and_then(|(h, s)| h.checked_add(s))
            .ok_or(ArithError::Overflow)?;
        let factor = u128::try_from(factor).map_err(|_| ArithError::Domain)?;
        let mid = mul_div_wide(u128::from(self.reference_mantissa), factor, half, false)?;
        u64::try_from(mid).map_err(|_| ArithError::Overflow)
    }

    /// The quote paid to a trader who puts `q` base units in (a sale walks
    /// the bids; negative `q`, a purchase, walks the asks and the cost is
    /// negative), and what the walk leaves; nothing changes. `Exhausted`
    /// when the side holds less than `│q│`.
    pub fn plan(&self, exponent: u8, q: Qty) -> Result<(Value, Option<Taken>), VenueError> {
        let selling = q.is_positive();
        let side = if selling { Side::Bid } else { Side::Ask };
        let mut wanted = q.0.unsigned_abs();
        // Σ taken·(10^9 ∓ i·tick): below 255·2^63·2^35.
        let mut weighted: u128 = 0;
        let mut last = None;
        for (i, left) in (1u64..).zip(self.side(side)) {
            if wanted == 0 {
                break;
            }
            let left = u64::try_from(left.0).unwrap_or(0);
            let taken = wanted.min(left);
            let offset = i.checked_mul(self.tick.0).ok_or(ArithError::Overflow)?;
            let factor = if selling {
                RATIO_SCALE.checked_sub(offset).ok_or(ArithError::Domain)?
            } else {
                RATIO_SCALE
                    .checked_add(offset)
                    .ok_or(ArithError::Overflow)?
            };
            weighted = weighted
                .checked_add(u128::from(taken).wrapping_mul(u128::from(factor)))
                .ok_or(ArithError::Overflow)?;
            // taken <= wanted and taken <= left.
            wanted = wanted.wrapping_sub(taken);
            let level = u8::try_from(i.wrapping_sub(1)).map_err(|_| ArithError::Domain)?;
            let left = i64::try_from(left.wrapping_sub(taken)).map_err(|_| ArithError::Domain)?;
            last = Some(Taken {
                side,
                level,
                left: Qty(left),
            });
        }
        if wanted > 0 {
            return Err(VenueError::Exhausted);
        }
        let scale = pow10(exponent).ok_or(ArithError::Domain)?;
        let d = u128::from(scale).wrapping_mul(u128::from(RATIO_SCALE));
        // Proceeds down, costs up.
        let value = mul_div_wide(weighted, u128::from(self.reference_mantissa), d, !selling)?;
        let value = Value(i64::try_from(value).map_err(|_| ArithError::Overflow)?);
        let paid = if selling { value } else { value.neg()? };
        Ok((paid, last))
    }

    /// Writes what a walk planned on this ladder leaves.
    pub fn apply(&mut self, taken: &Taken) {
        let level = usize::from(taken.level);
        for (i, slot) in self.side_mut(taken.side).iter_mut().enumerate() {
            match i.cmp(&level) {
                core::cmp::Ordering::Less => *slot = Qty::ZERO,
                core::cmp::Ordering::Equal => *slot = taken.left,
                core::cmp::Ordering::Greater => break,
            }
        }
    }

    /// One round of refill: each level regains `⌈ρ·gap⌉` (so a gap closes
    /// in finitely many rounds while `ρ > 0`), and a gap left below
    /// `settle_below` closes at once. Cannot fail: every level stays in
    /// `[0, depth]`. Returns whether a level changed.
    pub fn recover(&mut self, settle_below: Qty) -> bool {
        let depth = u64::try_from(self.depth.0).unwrap_or(0);
        let resilience = u128::from(self.resilience.0.min(RATIO_SCALE));
        let settle = u64::try_from(settle_below.0).unwrap_or(0);
        let mut moved = false;
        let mut refill = |left: &mut Qty| {
            let have = u64::try_from(left.0).unwrap_or(0).min(depth);
            let gap = depth.wrapping_sub(have);
            // gap·ρ < 2^63·2^30: no wrap; rounded up, at most the gap.
            let gained = u128::from(gap)
                .wrapping_mul(resilience)
                .wrapping_add(u128::from(RATIO_SCALE.wrapping_sub(1)))
                .checked_div(u128::from(RATIO_SCALE))
                .and_then(|g| u64::try_from(g).ok())
                .unwrap_or(gap)
                .min(gap);
            let lacking = gap.wrapping_sub(gained);
            let now = if lacking < settle {
                depth
            } else {
                have.wrapping_add(gained)
            };
            // now <= depth <= i64::MAX.
            let now = Qty(i64::try_from(now).unwrap_or(i64::MAX));
            moved |= *left != now;
            *left = now;
        };
        self.side_mut(Side::Bid).iter_mut().for_each(&mut refill);
        self.side_mut(Side::Ask).iter_mut().for_each(&mut refill);
        moved
    }

    /// The reference after a shock moves the mid from `now` to `target`:
    /// scaled by `target / now`, rounded down. `Exhausted` when it would
    /// round to nothing.
    pub fn moved_reference(&self, now: u64, target: u64) -> Result<u64, VenueError> {
        let scaled = mul_div_wide(
            u128::from(self.reference_mantissa),
            u128::from(target),
            u128::from(now),
            false,
        )?;
        match u64::try_from(scaled) {
            Ok(0) => Err(VenueError::Exhausted),
            Ok(m) => Ok(m),
            Err(_) => Err(ArithError::Overflow.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const E: u8 = 12;
    const ETH: i64 = 1_000_000_000;
    const USDC: i64 = 1_000_000;

    /// 2,000 USDC, 1% ticks, 10 ETH a level, five levels, half refilled a
    /// round.
    fn ladder() -> Ladder<MAX_BOOK_LEVELS> {
        Ladder::new(
            2_000_000_000_000,
            Ratio(10_000_000),
            Qty(10 * ETH),
            5,
            Ratio(500_000_000),
        )
    }

    fn sell(book: &mut Ladder<MAX_BOOK_LEVELS>, q: i64) -> Result<Value, VenueError> {
        let (paid, taken) = book.plan(E, Qty(q))?;
        if let Some(t) = taken {
            book.apply(&t);
        }
        Ok(paid)
    }

    #[test]
    fn a_sale_walks_down_the_bids() {
        let mut book = ladder();
        // 10 at 1,980, 10 at 1,960, 5 at 1,940.
        let proceeds = sell(&mut book, 25 * ETH).unwrap();
        assert_eq!(proceeds, Value((19_800 + 19_600 + 9_700) * USDC));
        assert_eq!(book.side(Side::Bid)[..3], [Qty(0), Qty(0), Qty(5 * ETH)]);
        // Marginal bid: level 3 half gone, 2,000·(1 − 0.025) = 1,950; the
        // asks are full, 2,000: mid 1,975.
        assert_eq!(book.price_mantissa(), Ok(1_975_000_000_000));
        book.recover(Qty(1));
        // Level 1 back to 5 of 10: bid 2,000·(1 − 0.005), mid 1,995.
        assert_eq!(book.price_mantissa(), Ok(1_995_000_000_000));
    }

    #[test]
    fn a_purchase_walks_up_the_asks_and_too_large_a_trade_is_refused() {
        let mut book = ladder();
        let paid = sell(&mut book, -15 * ETH).unwrap();
        assert_eq!(paid, Value(-(20_200 + 10_200) * USDC));
        assert_eq!(
            ladder().plan(E, Qty(50 * ETH + 1)),
            Err(VenueError::Exhausted)
        );
        assert!(ladder().plan(E, Qty(50 * ETH)).is_ok());
    }

    #[test]
    fn an_emptied_side_quotes_where_its_last_level_ended() {
        let mut all = ladder();
        sell(&mut all, 50 * ETH).unwrap();
        let mut almost = ladder();
        sell(&mut almost, 50 * ETH - 1).unwrap();
        // 2,000·(1 − 0.05/2) = 1,950, and one base unit short of it.
        assert_eq!(all.price_mantissa(), Ok(1_950_000_000_000));
        assert_eq!(almost.price_mantissa(), Ok(1_950_000_000_001));
    }

    #[test]
    fn refill_restores_a_fraction_of_the_gap_and_settles() {
        let mut book = ladder();
        sell(&mut book, 10 * ETH + 5).unwrap();
        // 5 missing, 3 back (⌈2.5⌉, rounded up).
        book.recover(Qty(1));
        assert_eq!(book.side(Side::Bid)[..2], [Qty(5 * ETH), Qty(10 * ETH - 2)]);
        // 2 missing, 1 back: 1 left, below the settling size of 2.
        book.recover(Qty(2));
        assert_eq!(
            book.side(Side::Bid)[..2],
            [Qty(7_500_000_000), Qty(10 * ETH)]
        );
        let mut rounds = 0;
        while book != ladder() {
            book.recover(Qty(2));
            rounds += 1;
            assert!(rounds < 40, "refill must end");
        }
        assert_eq!(book.price_mantissa(), Ok(2_000_000_000_000));
    }

    #[test]
    fn a_shock_scales_the_reference() {
        let book = ladder();
        assert_eq!(
            book.moved_reference(2_000_000_000_000, 1_500_000_000_000),
            Ok(1_500_000_000_000)
        );
        assert_eq!(
            book.moved_reference(u64::MAX, 1),
            Err(VenueError::Exhausted)
        );
    }

    proptest! {
        /// Walks against the levels summed in f64, and the mid against the
        /// marginal prices' formula.
        #[test]
        fn walks_match_the_levels(q in -50 * ETH..=50 * ETH, pre in -50 * ETH..=50 * ETH, refills in 0..3usize) {
            let mut book = ladder();
            sell(&mut book, pre).unwrap();
            for _ in 0..refills {
                book.recover(Qty(1));
            }
            let before = book;
            let Ok((paid, _)) = book.plan(E, Qty(q)) else {
                let side = if q > 0 { Side::Bid } else { Side::Ask };
                let held: i64 = book.side(side).iter().map(|l| l.0).sum();
                prop_assert!(held < q.abs());
                return Ok(());
            };
            prop_assert_eq!(book, before, "planning writes nothing");
            let mut wanted = q.unsigned_abs() as f64;
            let mut exact = 0.0;
            let side = if q > 0 { Side::Bid } else { Side::Ask };
            for (i, left) in book.side(side).iter().enumerate() {
                let taken = wanted.min(left.0 as f64);
                let step = (i + 1) as f64 * 0.01;
                let price = 2.0 * if q > 0 { 1.0 - step } else { 1.0 + step };
                exact += taken * price;
                wanted -= taken;
            }
            let exact = if q > 0 { exact } else { -exact };
            prop_assert!(paid.0 as f64 <= exact + exact.abs() * 1e-15);
            prop_assert!(paid.0 as f64 >= exact - exact.abs() * 1e-15 - 1.0);
            // The mid.
            let marginal = |side: Side| {
                let levels = book.side(side);
                match levels.iter().position(|l| l.0 > 0) {
                    Some(i) => i as f64 + 1.0 - levels[i].0 as f64 / (10 * ETH) as f64,
                    None => 5.0,
                }
            };
            let mid = 2e12 * (1.0 + 0.01 * (marginal(Side::Ask) - marginal(Side::Bid)) / 2.0);
            let got = book.price_mantissa().unwrap() as f64;
            prop_assert!(got <= mid + mid * 1e-15 && got >= mid - mid * 1e-15 - 1.0, "{} vs {}", got, mid);
        }
    }
}

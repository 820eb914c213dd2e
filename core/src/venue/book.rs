//! Order-book ladder (Obizhaeva–Wang): `levels` bid levels below the
//! reference price at `ref·(1 − i·tick)` and as many asks above at
//! `ref·(1 + i·tick)`, `i = 1..=levels`, each `depth` deep. Trades walk the
//! ladder; each round every level refills a fraction `resilience` of what it
//! lacks. The venue's price is the mid of the two marginal prices, each the
//! first level with depth left, interpolated by how much of it is gone: the
//! reference when the book is full, moving as depth is taken, and recovering
//! gradually as it refills.

use crate::num::{self, mul, ArithResult, Fx, Price, Qty, Ratio, Round, Value};

/// Most levels per side. Fixed so a venue has a bounded size.
pub const MAX_BOOK_LEVELS: usize = 16;

/// Which side of the book a trade takes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Bid,
    Ask,
}

/// A bounded two-sided ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ladder {
    /// Price around which the levels sit.
    pub reference: Price,
    /// Distance between levels, as a fraction of the reference.
    pub tick: Ratio,
    /// Full depth of every level.
    pub depth: Qty,
    /// Levels in use per side (`1..=MAX_BOOK_LEVELS`).
    pub levels: u8,
    /// Fraction of a level's missing depth restored each round.
    pub resilience: Ratio,
    bids_left: [Qty; MAX_BOOK_LEVELS],
    asks_left: [Qty; MAX_BOOK_LEVELS],
}

impl Ladder {
    /// A full ladder. `levels` must be in `1..=MAX_BOOK_LEVELS` and
    /// `levels · tick < 1` (validated by the caller).
    pub fn new(reference: Price, tick: Ratio, depth: Qty, levels: u8, resilience: Ratio) -> Self {
        Self {
            reference,
            tick,
            depth,
            levels,
            resilience,
            bids_left: [depth; MAX_BOOK_LEVELS],
            asks_left: [depth; MAX_BOOK_LEVELS],
        }
    }

    fn level_price(&self, side: Side, index: usize, round: Round) -> ArithResult<Fx> {
        let steps = Fx::from_num(index.saturating_add(1));
        let offset = mul(self.tick.0, steps, round)?;
        let factor = match side {
            Side::Bid => num::sub(Fx::ONE, offset)?,
            Side::Ask => num::add(Fx::ONE, offset)?,
        };
        mul(self.reference.0, factor, round)
    }

    fn side(&self, side: Side) -> &[Qty] {
        let all = match side {
            Side::Bid => &self.bids_left,
            Side::Ask => &self.asks_left,
        };
        all.get(..usize::from(self.levels)).unwrap_or(all)
    }

    /// The marginal price of one side: the first level with depth left,
    /// interpolated by how much of it is gone, so that the price moves as
    /// depth is taken and recovers gradually as it refills. A full first
    /// level quotes the reference itself.
    fn marginal(&self, side: Side) -> ArithResult<Fx> {
        let levels = usize::from(self.levels);
        let (index, left) = self
            .side(side)
            .iter()
            .enumerate()
            .find(|(_, left)| left.is_positive())
            .map_or((levels, Fx::ZERO), |(i, left)| (i, left.0));
        let taken = num::sub(Fx::ONE, num::div(left, self.depth.0, Round::Down)?)?;
        let steps = num::add(Fx::from_num(index), taken)?;
        let offset = mul(self.tick.0, steps, Round::Down)?;
        let factor = match side {
            Side::Bid => num::sub(Fx::ONE, offset)?,
            Side::Ask => num::add(Fx::ONE, offset)?,
        };
        mul(self.reference.0, factor, Round::Down)
    }

    /// The mid of the best bid and best ask.
    pub fn price(&self) -> ArithResult<Price> {
        let sum = num::add(self.marginal(Side::Bid)?, self.marginal(Side::Ask)?)?;
        num::div(sum, Fx::from_num(2), Round::Down).map(Price)
    }

    /// Walks one side for `qty`; returns the quote value filled, or `None`
    /// when the side holds less than `qty`.
    fn take(&mut self, side: Side, qty: Qty, round: Round) -> ArithResult<Option<Value>> {
        let mut wanted = qty.0;
        let mut filled = Fx::ZERO;
        for index in 0..usize::from(self.levels) {
            if wanted <= Fx::ZERO {
                break;
            }
            let price = self.level_price(side, index, round)?;
            let slot = match side {
                Side::Bid => self.bids_left.get_mut(index),
                Side::Ask => self.asks_left.get_mut(index),
            };
            let Some(left) = slot else { break };
            let taken = wanted.min(left.0);
            left.0 = num::sub(left.0, taken)?;
            wanted = num::sub(wanted, taken)?;
            filled = num::add(filled, mul(taken, price, round)?)?;
        }
        Ok((wanted <= Fx::ZERO).then_some(Value(filled)))
    }

    /// Sells `qty` into the bids; returns the proceeds (rounded down).
    pub fn sell(&mut self, qty: Qty) -> ArithResult<Option<Value>> {
        self.take(Side::Bid, qty, Round::Down)
    }

    /// Buys `qty` from the asks; returns the cost (rounded up).
    pub fn buy(&mut self, qty: Qty) -> ArithResult<Option<Value>> {
        self.take(Side::Ask, qty, Round::Up)
    }

    /// One round of refill: each level regains `resilience` of its gap.
    pub fn recover(&mut self) -> ArithResult<()> {
        let (depth, resilience) = (self.depth.0, self.resilience.0);
        // Levels past `levels` are full and unused: refilling them is a no-op.
        for left in self.bids_left.iter_mut().chain(self.asks_left.iter_mut()) {
            let gap = num::sub(depth, left.0)?;
            let refill = mul(gap, resilience, Round::Up)?;
            left.0 = num::add(left.0, refill)?.min(depth);
        }
        Ok(())
    }

    /// Moves every level by the ratio `target / now` of the mid price.
    pub fn shift(&mut self, now: Price, target: Price) -> ArithResult<()> {
        let ratio = target.ratio_to(now, Round::Down)?;
        self.reference = self.reference.scale(ratio, Round::Down)?;
        Ok(())
    }

    /// The raw state, in canonical order, for the digest.
    pub(crate) fn levels_left(&self) -> impl Iterator<Item = &Qty> {
        self.bids_left.iter().chain(self.asks_left.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder() -> Ladder {
        Ladder::new(
            Price::from_int(100),
            Ratio::from_f64(0.01),
            Qty::from_int(10),
            5,
            Ratio::from_f64(0.5),
        )
    }

    #[test]
    fn a_sale_walks_down_the_bids() {
        let mut book = ladder();
        // 10 at 99, 10 at 98, 5 at 97.
        let proceeds = book.sell(Qty::from_int(25)).unwrap().unwrap().to_f64();
        assert!((proceeds - (990.0 + 980.0 + 485.0)).abs() < 1e-9);
        // Marginal bid: level 3 half gone, 100·(1 − 0.025) = 97.5; the asks
        // are full, 100: mid 98.75.
        assert!((book.price().unwrap().to_f64() - 98.75).abs() < 1e-9);
        book.recover().unwrap();
        // Level 1 back to 5 of 10: bid 100·(1 − 0.005), mid 99.75.
        assert!((book.price().unwrap().to_f64() - 99.75).abs() < 1e-9);
    }

    #[test]
    fn a_buy_walks_up_the_asks_and_too_large_a_trade_is_refused() {
        let mut book = ladder();
        let cost = book.buy(Qty::from_int(15)).unwrap().unwrap().to_f64();
        assert!((cost - (1010.0 + 510.0)).abs() < 1e-9);
        assert_eq!(ladder().sell(Qty::from_int(51)), Ok(None));
    }

    #[test]
    fn refill_restores_a_fraction_of_the_gap() {
        let mut book = ladder();
        book.sell(Qty::from_int(10)).unwrap().unwrap();
        book.recover().unwrap();
        assert_eq!(
            book.side(Side::Bid).first().copied(),
            Some(Qty::from_int(5))
        );
        book.recover().unwrap();
        assert!((book.side(Side::Bid)[0].to_f64() - 7.5).abs() < 1e-12);
    }
}

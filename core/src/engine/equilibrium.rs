//! Equilibrium settlement: all liquidation sales of a round clear at one
//! price per asset, the greatest fixed point of the price map
//! `p ↦ P(Q(p))`, where `Q(p)` is what the policy sells when every account
//! is marked at `p`, and `P(Q)` the venue's price after selling `Q`.
//!
//! Iteration starts from the venue prices (no fixed point lies above them:
//! `P(Q) ≤ P(0)`) and applies the map until it stops moving. The map is
//! monotone (lower prices liquidate more and seize more per unit repaid;
//! more sold means a lower price), so from the top the iterates fall and
//! stay above every fixed point, and the one they stop at is the greatest
//! (docs/equilibrium.md has the argument). The round then marks every
//! account at the clearing price; each liquidation sells at that price, and
//! the venue, which pays along its curve, keeps the difference (booked to
//! the arbitrage book).

use super::Engine;
use crate::error::StepFault;
use crate::event::{Event, EventSink};
use crate::num::{self, Fx, Price, Qty, Round};

/// Most applications of the price map in one round.
pub const MAX_EQUILIBRIUM_ITERATIONS: u32 = 200;
/// Iteration stops once no price moves by more than this share of itself
/// (2^-40): the result is then within it of the greatest fixed point, from
/// above.
const TOLERANCE: Fx = Fx::from_bits(1 << 8);

impl<const A: usize> Engine<'_, A> {
    /// Marks every asset at `prices` (oracle and weighted prices).
    fn mark_at(&mut self, prices: &[Price; A]) {
        for (m, &p) in self.state.markets.iter_mut().zip(prices).skip(1) {
            m.oracle = p;
        }
        self.refresh_prices();
    }

    /// Σ over accounts of what the policy would seize at the current marks.
    fn demand(&self) -> Result<[Qty; A], StepFault> {
        let mut total = [Qty::ZERO; A];
        for id in 0..self.accounts {
            let seized = self.planned_seizure(id)?;
            for (t, s) in total.iter_mut().zip(seized) {
                *t = t.add(s)?;
            }
        }
        Ok(total)
    }

    /// Finds this round's clearing prices, marks the round at them and
    /// records them for the sales.
    pub(super) fn settle_equilibrium(&mut self, sink: &mut dyn EventSink) -> Result<(), StepFault> {
        let n = self.state.markets.len();
        let mut prices = [Price::ZERO; A];
        for (p, m) in prices.iter_mut().zip(&self.state.markets) {
            *p = m.venue.price()?;
        }
        let mut iterations = 0u32;
        for _ in 0..MAX_EQUILIBRIUM_ITERATIONS {
            iterations = iterations.saturating_add(1);
            self.mark_at(&prices);
            let sold = self.demand()?;
            let mut next = prices;
            let mut moved = false;
            for asset in 1..n {
                let (Some(q), Some(m)) = (sold.get(asset), self.state.markets.get(asset)) else {
                    continue;
                };
                let mut venue = m.venue;
                if q.is_positive() {
                    venue.sell(*q).map_err(|e| {
                        StepFault::from_venue(u8::try_from(asset).unwrap_or(u8::MAX), e)
                    })?;
                }
                let current = prices.get(asset).copied().unwrap_or(Price::ZERO);
                // Monotone from above: never step back up.
                let p = venue.price()?.min(current);
                let step = num::sub(current.0, p.0)?;
                if step > num::mul(current.0, TOLERANCE, Round::Up)? {
                    moved = true;
                }
                if let Some(slot) = next.get_mut(asset) {
                    *slot = p;
                }
            }
            prices = next;
            if !moved {
                break;
            }
        }
        self.mark_at(&prices);
        self.state.clearing = Some(prices);
        for (asset, price) in prices.iter().enumerate().take(n).skip(1) {
            sink.emit(&Event::Cleared {
                round: self.state.round,
                asset: u8::try_from(asset).unwrap_or(u8::MAX),
                price: *price,
                iterations,
            });
        }
        Ok(())
    }

    /// The clearing price of `asset` this round, under equilibrium
    /// settlement.
    pub(super) fn clearing_price(&self, asset: usize) -> Option<Price> {
        self.state.clearing.and_then(|p| p.get(asset).copied())
    }
}

//! Equilibrium settlement (docs/equilibrium.md): all of a round's
//! liquidation sales clear at one price an asset, the greatest fixed point
//! of the price map `p ↦ P(Q(p))`, where `Q(p)` is what the policy sells
//! when every account is marked at `p` ([`planned_sales`], the units' own
//! sizing) and `P(Q)` the venue's price after selling `Q` from its state at
//! the round's start.
//!
//! The iteration starts at the venue prices (no fixed point lies above
//! them: `P(Q) ≤ P(0)`) and applies the map, never stepping back up, until
//! no mantissa falls by more than 2^-40 of itself. The map is monotone, so
//! the iterates fall and stay above every fixed point: they stop at the
//! greatest. The round is then marked at the result: the watch, health and
//! every unit read it as the oracle price, and each sale is paid at it
//! ([`crate::liquidate::Market::clears_at_oracle`]); the venue, which pays
//! along its curve, keeps the difference (booked to the arbitrage book).
//!
//! Each application values every account: O(iterations × accounts) a
//! round, a model for analysis rather than for a chain. The map is
//! monotone only over rows that hold one deposit asset and are short no
//! risky asset: the engine refuses others under equilibrium settlement.

use super::{fault_termination, venue_termination, Engine, Event, EventSink, Termination};
use crate::liquidate::{planned_sales, Tiers};
use crate::num::{ArithError, Price, Qty};

/// Most applications of the price map in one round.
pub const MAX_EQUILIBRIUM_ITERATIONS: u32 = 200;

/// A fall of a price mantissa the iteration still follows: more than
/// `mantissa / 2^TOLERANCE_SHIFT`, rounded up.
const TOLERANCE_SHIFT: u32 = 40;

/// How a round's clearing went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleared {
    /// Applications of the price map.
    pub iterations: u32,
    /// Whether the iteration stopped by itself, not at the cap.
    pub converged: bool,
}

impl<const A: usize, const N: usize> Engine<'_, A, N> {
    /// Finds this round's clearing prices and marks the round at them.
    #[inline(never)]
    pub(super) fn clear(&mut self) -> Result<Cleared, Termination> {
        let fault = Termination::Fault;
        let n = self.markets.len();
        let mut prices = [Price::ONE; A];
        for (p, m) in prices.iter_mut().zip(&self.markets).skip(1) {
            if let Some(v) = &m.state.venue {
                *p = v.price().map_err(fault)?;
            }
        }
        let (mut iterations, mut converged) = (0u32, false);
        while iterations < MAX_EQUILIBRIUM_ITERATIONS {
            iterations = iterations.saturating_add(1);
            self.mark(&prices)?;
            let sold = self.demand()?;
            let mut moved = false;
            for asset in 1..n {
                let (Some(&q), Some(p)) = (sold.get(asset), prices.get_mut(asset)) else {
                    continue;
                };
                // An asset's prices share its exponent: mantissas compare.
                let curve = self.price_after_sale(asset, q)?;
                let after = match curve.mantissa() < p.mantissa() {
                    true => curve,
                    false => *p,
                };
                let fall = p.mantissa().saturating_sub(after.mantissa());
                moved |= fall > p.mantissa().div_ceil(1 << TOLERANCE_SHIFT);
                *p = after;
            }
            if !moved {
                converged = true;
                break;
            }
        }
        self.mark(&prices)?;
        Ok(Cleared {
            iterations,
            converged,
        })
    }

    /// Tells `sink` each asset's clearing price: its oracle this round.
    pub(super) fn report_cleared(&self, c: Cleared, sink: &mut impl EventSink) {
        for (asset, m) in self.markets.iter().enumerate().skip(1) {
            sink.emit(&Event::Cleared {
                round: self.round,
                asset: u8::try_from(asset).unwrap_or(u8::MAX),
                price: m.oracle,
                iterations: c.iterations,
                converged: c.converged,
            });
        }
    }

    /// Publishes `prices` as the oracle prices of the risky assets.
    fn mark(&mut self, prices: &[Price; A]) -> Result<(), Termination> {
        for (asset, &p) in prices.iter().enumerate().take(self.markets.len()).skip(1) {
            self.publish(asset, p)?;
            self.refresh_terms(asset)?;
        }
        Ok(())
    }

    /// Σ over the accounts of what the policy would sell of each asset at
    /// the current marks.
    fn demand(&self) -> Result<[Qty; A], Termination> {
        let n = self.markets.len();
        let mut sold = [Qty::ZERO; A];
        let tiers = Tiers {
            maint: &self.maint,
            liq_end: &self.liq_end,
        };
        let totals = sold
            .get_mut(..n)
            .ok_or(Termination::Fault(ArithError::Domain))?;
        for row in self.balances.chunks_exact(n.max(1)) {
            planned_sales::<A, N>(row, tiers, &self.markets, &self.policy, totals)
                .map_err(fault_termination)?;
        }
        Ok(sold)
    }

    /// Asset `asset`'s venue price after a sale of `q` from its state now
    /// (nothing is written).
    fn price_after_sale(&self, asset: usize, q: Qty) -> Result<Price, Termination> {
        let fault = Termination::Fault;
        let mut venue = self
            .markets
            .get(asset)
            .and_then(|m| m.state.venue)
            .ok_or(fault(ArithError::Domain))?;
        if q.is_positive() {
            let a = u8::try_from(asset).unwrap_or(u8::MAX);
            let trade = venue.plan(q).map_err(|e| venue_termination(a, e))?;
            venue.apply(&trade);
        }
        venue.price().map_err(fault)
    }
}

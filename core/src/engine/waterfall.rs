//! The bad-debt waterfall, for an account with debt and no collateral left:
//! the debt is written off, then covered by the insurance fund, then
//! socialized over the asset's lenders by lowering its deposit index (O(1))
//! or, with auto-deleveraging on, taken from the opposite positions (never
//! from an account without one), and whatever is left is reported as
//! unrecovered.
//!
//! Penalties and fees come first in the waterfall implicitly: they were paid
//! into the insurance fund by every liquidation before this one.
//!
//! Each asset's waterfall is planned without side effects and then committed,
//! so an arithmetic failure while planning leaves the state as it was.

use super::liquidate::Balances;
use super::undo::UnitSink;
use super::Engine;
use crate::error::StepFault;
use crate::event::{Event, EventSink};
use crate::ledger::Book;
use crate::num::{self, mul, ArithError, Fx, Qty, Ratio, Round, Value};
use crate::venue::{Venue, VenueError};

/// The deposit index never falls below 2^-24: lenders keep at least that
/// share, and a larger loss stays unrecovered rather than zeroing the pool.
const MIN_DEPOSIT_INDEX: Fx = Fx::from_bits(1 << 24);
/// Tries at shrinking a partial insurance purchase until it fits the fund.
const INSURANCE_TRIES: usize = 8;

/// What the insurance fund will buy back.
struct Cover {
    qty: Qty,
    paid: Value,
    /// The venue after the purchase (risky liabilities only).
    venue: Option<Venue>,
}

/// What the lenders will absorb.
struct Haircut {
    qty: Qty,
    new_index: Ratio,
}

impl<const A: usize> Engine<'_, A> {
    /// `exposure`: the risky asset the account held (its last seized
    /// collateral), which tells deleveraging whose side a quote loss is on.
    pub(super) fn bankrupt(
        &mut self,
        id: u32,
        bal: &mut Balances<A>,
        exposure: Option<usize>,
        sink: &mut UnitSink<'_, A>,
    ) -> Result<(), StepFault> {
        for asset in 0..self.state.markets.len() {
            let Some(&stored) = bal.get(asset) else {
                continue;
            };
            if !stored.is_negative() {
                continue;
            }
            let debt = stored.neg()?;
            let cover = self.plan_cover(asset, debt)?;
            let left = debt.sub(cover.qty)?;
            let loss_side = self.loss_side(asset, exposure);
            // With deleveraging on, lenders are never cut: what the opposite
            // side cannot take stays unrecovered.
            let haircut = match self.containment.deleveraging {
                Some(_) => self.no_haircut(asset)?,
                None => self.plan_haircut(asset, left)?,
            };
            let price = self.market(asset)?.oracle;
            let debt_value = debt.value_owed(price)?;
            let socialized_value = haircut.qty.value_owed(price)?;

            // Commit: write-off, cover, haircut, report.
            self.store(id as usize, asset, Qty::ZERO)?;
            if let Some(b) = bal.get_mut(asset) {
                *b = Qty::ZERO;
            }
            self.state
                .ledger
                .transfer(asset, Book::BadDebt, Book::Accounts, debt)?;
            self.commit_cover(asset, &cover)?;
            self.commit_haircut(asset, &haircut)?;
            // The bad-debt book now holds what the haircut left; it and the
            // report agree at every deleveraging savepoint.
            if let Some(a) = self.state.report.per_asset.get_mut(asset) {
                a.unrecovered = a.unrecovered.add(left.sub(haircut.qty)?)?;
            }
            let deleveraged = match loss_side {
                Some(side) => self.deleverage_loss(id, side, left, sink)?,
                None => Qty::ZERO,
            };
            let unrecovered = left.sub(haircut.qty)?.sub(deleveraged)?;
            let unrecovered_value = unrecovered.value_owed(price)?;
            let r = &mut self.state.report;
            r.bankruptcies = r.bankruptcies.saturating_add(1);
            r.bad_debt = r.bad_debt.add(debt_value)?;
            r.insurance_used = r.insurance_used.add(cover.paid)?;
            r.socialized = r.socialized.add(socialized_value)?;
            r.unrecovered = r.unrecovered.add(unrecovered_value)?;
            r.deleveraged = r.deleveraged.add(deleveraged.value_owed(price)?)?;
            r.insurance_fund = self.state.insurance;
            if let Some(a) = r.per_asset.get_mut(asset) {
                a.written_off = a.written_off.add(debt)?;
                a.covered = a.covered.add(cover.qty)?;
                a.socialized = a.socialized.add(haircut.qty)?;
                a.deleveraged = a.deleveraged.add(deleveraged)?;
                a.deposit_index = haircut.new_index;
            }
            sink.emit(&Event::Bankruptcy {
                round: self.state.round,
                account: id,
                asset: u8::try_from(asset).unwrap_or(u8::MAX),
                written_off: debt,
                covered: cover.qty,
                insurance_paid: cover.paid,
                socialized: haircut.qty,
                deleveraged,
                unrecovered,
            });
        }
        Ok(())
    }

    /// How much of `debt` the insurance fund can buy back.
    fn plan_cover(&self, asset: usize, debt: Qty) -> Result<Cover, StepFault> {
        let fund = self.state.insurance;
        let none = Cover {
            qty: Qty::ZERO,
            paid: Value::ZERO,
            venue: None,
        };
        if !fund.is_positive() {
            return Ok(none);
        }
        if asset == 0 {
            let qty = debt.min(fund.as_quote_qty());
            return Ok(Cover {
                qty,
                paid: qty.as_quote_value(),
                venue: None,
            });
        }
        let venue = self.market(asset)?.venue;
        let mut qty = debt;
        for _ in 0..INSURANCE_TRIES {
            if !qty.is_positive() {
                break;
            }
            let mut after = venue;
            match after.buy(qty) {
                Ok(cost) if cost <= fund => {
                    return Ok(Cover {
                        qty,
                        paid: cost,
                        venue: Some(after),
                    })
                }
                // Too dear: scale down by what the fund affords (a convex
                // cost makes the smaller purchase cheaper per unit).
                Ok(cost) => qty = Qty(num::mul_div(qty.0, fund.0, cost.0, Round::Down)?),
                Err(VenueError::Exhausted) => {
                    qty = Qty(num::div(qty.0, Fx::from_num(2), Round::Down)?)
                }
                Err(VenueError::Arith(e)) => return Err(e.into()),
            }
        }
        Ok(none)
    }

    fn commit_cover(&mut self, asset: usize, cover: &Cover) -> Result<(), StepFault> {
        if !cover.qty.is_positive() {
            return Ok(());
        }
        if let Some(venue) = cover.venue {
            self.state.ledger.transfer(
                0,
                Book::Insurance,
                Book::Venue,
                cover.paid.as_quote_qty(),
            )?;
            self.state
                .ledger
                .transfer(asset, Book::Venue, Book::BadDebt, cover.qty)?;
            // The report does not record this purchase's price: the low
            // of the sales before it first, and the next sale at once.
            self.track_untracked(asset)?;
            if let Some(m) = self.state.markets.get_mut(asset) {
                m.venue = venue;
            }
            self.state.untracked_buys |= super::asset_bit(asset);
        } else {
            self.state
                .ledger
                .transfer(0, Book::Insurance, Book::BadDebt, cover.qty)?;
        }
        self.state.insurance = self.state.insurance.sub(cover.paid)?;
        Ok(())
    }

    /// No haircut: the index stays.
    fn no_haircut(&self, asset: usize) -> Result<Haircut, ArithError> {
        Ok(Haircut {
            qty: Qty::ZERO,
            new_index: self.market(asset)?.deposit_index,
        })
    }

    /// How much of `loss` the lenders of `asset` can absorb, and the index
    /// that takes it from them.
    fn plan_haircut(&self, asset: usize, loss: Qty) -> Result<Haircut, ArithError> {
        let m = self.market(asset)?;
        let none = Haircut {
            qty: Qty::ZERO,
            new_index: m.deposit_index,
        };
        let shares = m.deposit_shares;
        if !loss.is_positive() || !shares.is_positive() {
            return Ok(none);
        }
        let deposits = mul(shares.0, m.deposit_index.0, Round::Down)?;
        let kept_at_least = mul(shares.0, MIN_DEPOSIT_INDEX, Round::Up)?;
        let capacity = num::sub(deposits, kept_at_least)?.max(Fx::ZERO);
        let socialized = loss.0.min(capacity);
        let new_index = num::div(num::sub(deposits, socialized)?, shares.0, Round::Down)?;
        if socialized <= Fx::ZERO || new_index <= Fx::ZERO {
            return Ok(none);
        }
        Ok(Haircut {
            qty: Qty(socialized),
            new_index: Ratio(new_index),
        })
    }

    fn commit_haircut(&mut self, asset: usize, haircut: &Haircut) -> Result<(), StepFault> {
        if !haircut.qty.is_positive() {
            return Ok(());
        }
        let shares = self.market(asset)?.deposit_shares;
        if let Some(m) = self.state.markets.get_mut(asset) {
            m.deposit_index = haircut.new_index;
        }
        if let Some(slot) = self.state.indices.get_mut(asset) {
            *slot = haircut.new_index;
        }
        self.state
            .ledger
            .transfer(asset, Book::Accounts, Book::BadDebt, haircut.qty)?;
        // Lenders lose up to one ulp of deposits and one ulp of index per share
        // more than booked: both roundings favour the protocol.
        self.state
            .ledger
            .add_slack(asset, num::add(shares.0, Fx::from_num(2))?)?;
        Ok(())
    }
}

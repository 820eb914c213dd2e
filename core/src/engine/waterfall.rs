//! The bad-debt waterfall, for an account with debt and no collateral left:
//! the debt is written off, then covered by the insurance fund, then
//! socialized over the asset's lenders by lowering its deposit index (O(1)),
//! and whatever is left is reported as unrecovered.
//!
//! Penalties and fees come first in the waterfall implicitly: they were paid
//! into the insurance fund by every liquidation before this one.

use super::liquidate::Balances;
use super::Engine;
use crate::error::StepFault;
use crate::event::{Event, EventSink};
use crate::ledger::Book;
use crate::num::{self, mul, ArithError, Fx, Qty, Ratio, Round, Value};
use crate::venue::VenueError;

/// The deposit index never falls below 2^-24: lenders keep at least that
/// share, and a larger loss stays unrecovered rather than zeroing the pool.
const MIN_DEPOSIT_INDEX: Fx = Fx::from_bits(1 << 24);
/// Tries at shrinking a partial insurance purchase until it fits the fund.
const INSURANCE_TRIES: usize = 8;

impl Engine<'_> {
    pub(super) fn bankrupt(
        &mut self,
        id: u32,
        bal: &mut Balances,
        sink: &mut dyn EventSink,
    ) -> Result<(), StepFault> {
        for asset in 0..self.markets.len() {
            let Some(&stored) = bal.get(asset) else {
                continue;
            };
            if !stored.is_negative() {
                continue;
            }
            let debt = stored.neg()?;
            self.store(id as usize, asset, Qty::ZERO)?;
            if let Some(b) = bal.get_mut(asset) {
                *b = Qty::ZERO;
            }
            self.ledger
                .transfer(asset, Book::BadDebt, Book::Accounts, debt)?;
            let (covered, paid) = self.insure(asset, debt)?;
            let socialized = self.socialize(asset, debt.sub(covered)?)?;
            let unrecovered = debt.sub(covered)?.sub(socialized)?;
            self.book_bankruptcy(asset, debt, covered, paid, socialized, unrecovered)?;
            sink.emit(&Event::Bankruptcy {
                round: self.round,
                account: id,
                asset: u8::try_from(asset).unwrap_or(u8::MAX),
                written_off: debt,
                covered,
                insurance_paid: paid,
                socialized,
                unrecovered,
            });
        }
        Ok(())
    }

    /// The insurance fund buys back as much of `debt` as it can pay for.
    /// Returns the quantity covered and the quote paid.
    fn insure(&mut self, asset: usize, debt: Qty) -> Result<(Qty, Value), StepFault> {
        let fund = self.insurance;
        if !fund.is_positive() {
            return Ok((Qty::ZERO, Value::ZERO));
        }
        if asset == 0 {
            let covered = debt.min(fund.as_quote_qty());
            self.ledger
                .transfer(0, Book::Insurance, Book::BadDebt, covered)?;
            self.insurance = fund.sub(covered.as_quote_value())?;
            return Ok((covered, covered.as_quote_value()));
        }
        let venue = self.markets.get(asset).ok_or(ArithError::Domain)?.venue;
        let mut qty = debt;
        for _ in 0..INSURANCE_TRIES {
            if !qty.is_positive() {
                break;
            }
            match venue.quote_buy(qty) {
                Ok(cost) if cost <= fund => {
                    let mut venue = venue;
                    let cost = venue
                        .buy(qty)
                        .map_err(|e| StepFault::from_venue(asset as u8, e))?;
                    if let Some(m) = self.markets.get_mut(asset) {
                        m.venue = venue;
                    }
                    self.ledger
                        .transfer(0, Book::Insurance, Book::Venue, cost.as_quote_qty())?;
                    self.ledger
                        .transfer(asset, Book::Venue, Book::BadDebt, qty)?;
                    self.insurance = fund.sub(cost)?;
                    return Ok((qty, cost));
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
        Ok((Qty::ZERO, Value::ZERO))
    }

    /// Lowers the deposit index of `asset` so its lenders absorb up to
    /// `loss`. Returns the quantity socialized.
    fn socialize(&mut self, asset: usize, loss: Qty) -> Result<Qty, StepFault> {
        let m = self.markets.get(asset).ok_or(ArithError::Domain)?;
        let shares = m.deposit_shares;
        if !loss.is_positive() || !shares.is_positive() {
            return Ok(Qty::ZERO);
        }
        let deposits = mul(shares.0, m.deposit_index.0, Round::Down)?;
        let kept_at_least = mul(shares.0, MIN_DEPOSIT_INDEX, Round::Up)?;
        let capacity = num::sub(deposits, kept_at_least)?.max(Fx::ZERO);
        let socialized = loss.0.min(capacity);
        let new_index = num::div(num::sub(deposits, socialized)?, shares.0, Round::Down)?;
        if socialized <= Fx::ZERO || new_index <= Fx::ZERO {
            return Ok(Qty::ZERO);
        }
        if let Some(m) = self.markets.get_mut(asset) {
            m.deposit_index = Ratio(new_index);
        }
        if let Some(slot) = self.indices.get_mut(asset) {
            *slot = Ratio(new_index);
        }
        self.ledger
            .transfer(asset, Book::Accounts, Book::BadDebt, Qty(socialized))?;
        // Lenders lose up to one ulp of deposits and one ulp of index per share
        // more than booked: both roundings favour the protocol.
        self.ledger
            .add_slack(asset, num::add(shares.0, Fx::from_num(2))?)?;
        Ok(Qty(socialized))
    }

    fn book_bankruptcy(
        &mut self,
        asset: usize,
        debt: Qty,
        covered: Qty,
        paid: Value,
        socialized: Qty,
        unrecovered: Qty,
    ) -> Result<(), ArithError> {
        let price = self.markets.get(asset).ok_or(ArithError::Domain)?.oracle;
        let r = &mut self.report;
        r.bankruptcies = r.bankruptcies.saturating_add(1);
        r.bad_debt = r.bad_debt.add(debt.value_owed(price)?)?;
        r.insurance_used = r.insurance_used.add(paid)?;
        r.socialized = r.socialized.add(socialized.value_owed(price)?)?;
        r.unrecovered = r.unrecovered.add(unrecovered.value_owed(price)?)?;
        r.insurance_fund = self.insurance;
        if let Some(a) = r.per_asset.get_mut(asset) {
            a.written_off = a.written_off.add(debt)?;
            a.covered = a.covered.add(covered)?;
            a.socialized = a.socialized.add(socialized)?;
            a.unrecovered = a.unrecovered.add(unrecovered)?;
        }
        Ok(())
    }
}

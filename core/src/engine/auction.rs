//! Dutch-auction disposal (MakerDAO Liquidations 2.0, see
//! [`crate::containment::AuctionRule`]).
//!
//! A liquidation seizing an auctioned asset for quote debt starts an
//! auction instead of selling: the collateral (the lot) and the debt move
//! into the auction book, and the account is left as a sale would leave it.
//! At the end of each round, before the venues recover, every auction
//! prices its lot on its curve (restarting after `tail` rounds or below
//! `cusp`), and keepers take what they can pay for and sell at a profit in
//! the venue. Proceeds pay the debt, then the penalty into the insurance
//! fund. An auction ends when it has raised both, returning the collateral
//! left, or when its lot is gone: debt not raised is bad debt, covered by
//! the insurance fund or left unrecovered.
//!
//! With keepers out of capital the price keeps falling; at zero a take
//! costs nothing, so the lot goes for nothing: the zero bids of 12 March
//! 2020.

use super::liquidate::Balances;
use super::undo::UnitSink;
use super::Engine;
use crate::account;
use crate::containment::{AuctionCurve, AuctionRule};
use crate::error::StepFault;
use crate::event::{Event, EventSink};
use crate::ledger::Book;
use crate::num::{self, ArithError, Fx, Price, Qty, Round, Value};
use crate::venue::VenueError;

/// Most auctions running at once; a liquidation that would start one more
/// waits (MakerDAO bounds them with `Hole` and `hole`).
pub const MAX_AUCTIONS: usize = 16;
/// Tries at halving a take until the venue pays for it.
const TAKE_TRIES: usize = 8;

/// One running auction.
#[derive(Clone, Copy, Debug)]
pub(super) struct Auction {
    /// Numbered from 0 in the order auctions started.
    id: u32,
    account: u32,
    asset: u8,
    /// Collateral still on sale.
    lot: Qty,
    /// Debt still to raise.
    owed: Value,
    /// Penalty still to raise.
    penalty: Value,
    /// The price at the (re)start.
    top: Price,
    /// The round of the (re)start.
    started: u32,
}

/// The price of a lot `elapsed` rounds after its start at `top`.
fn curve_price(curve: AuctionCurve, top: Price, elapsed: u32) -> Result<Price, ArithError> {
    match curve {
        AuctionCurve::Linear { rounds } => {
            if elapsed >= rounds {
                return Ok(Price::ZERO);
            }
            let left = Fx::from_num(rounds.saturating_sub(elapsed));
            Ok(Price(num::mul_div(
                top.0,
                left,
                Fx::from_num(rounds.max(1)),
                Round::Down,
            )?))
        }
        AuctionCurve::Stairstep { cut, step_rounds } => {
            let steps = elapsed.checked_div(step_rounds).unwrap_or(0);
            let mut price = top;
            // Past 128 halvings-or-worse the price is below one ulp anyway.
            for _ in 0..steps.min(128) {
                price = price.scale(cut, Round::Down)?;
            }
            Ok(price)
        }
    }
}

impl<const A: usize> Engine<'_, A> {
    /// The auction rule of `asset`, if its seizures go to auction.
    pub(super) fn auction_rule(&self, asset: usize) -> Option<AuctionRule> {
        self.containment.per_asset.get(asset)?.auction
    }

    /// Whether auctions are running (a round with one is never quiet).
    pub(super) fn auctions_running(&self) -> bool {
        !self.state.auctions.is_empty()
    }

    /// Starts an auction for a sized step of account `id` (quote debt
    /// `repay`, collateral `seize` of `asset`). Returns false, changing
    /// nothing, if no auction slot is free.
    pub(super) fn start_auction(
        &mut self,
        id: u32,
        asset: usize,
        (repay, seize): (Qty, Qty),
        sink: &mut dyn EventSink,
    ) -> Result<bool, StepFault> {
        let Some(rule) = self.auction_rule(asset) else {
            return Ok(false);
        };
        if self.state.auctions.is_full() {
            return Ok(false);
        }
        let debt = repay.as_quote_value();
        let penalty = debt.scale(rule.penalty, Round::Up)?;
        let tab = debt.add(penalty)?;
        let incentive = rule
            .tip
            .add(tab.scale(rule.chip, Round::Down)?)?
            .min(self.state.insurance.max(Value::ZERO));
        let top = self.market(asset)?.oracle.scale(rule.buf, Round::Up)?;
        let auction = Auction {
            id: self.state.report.auctions,
            account: id,
            asset: u8::try_from(asset).unwrap_or(u8::MAX),
            lot: seize,
            owed: debt,
            penalty,
            top,
            started: self.state.round,
        };
        let ledger = &mut self.state.ledger;
        ledger.transfer(asset, Book::Accounts, Book::Auction, seize)?;
        ledger.transfer(0, Book::Auction, Book::Accounts, repay)?;
        ledger.transfer(0, Book::Insurance, Book::Keepers, incentive.as_quote_qty())?;
        self.state.insurance = self.state.insurance.sub(incentive)?;
        self.state
            .auctions
            .push(auction)
            .map_err(|_| StepFault::Arith(ArithError::Overflow))?;
        let r = &mut self.state.report;
        r.auctions = r.auctions.saturating_add(1);
        r.liquidations = r.liquidations.saturating_add(1);
        r.keeper_pnl = r.keeper_pnl.add(incentive)?;
        r.insurance_fund = self.state.insurance;
        self.state.round_liquidations = self.state.round_liquidations.saturating_add(1);
        if self.budgets {
            self.charge_caps(asset, debt)?;
        }
        sink.emit(&Event::AuctionStarted {
            round: self.state.round,
            auction: auction.id,
            account: id,
            asset: auction.asset,
            lot: seize,
            debt,
            incentive,
            top,
        });
        Ok(true)
    }

    /// Prices, resets, sells and ends every running auction, in the order
    /// they started.
    pub(super) fn run_auctions(&mut self, sink: &mut UnitSink<'_, A>) -> Result<(), StepFault> {
        let mut i = 0;
        for _ in 0..MAX_AUCTIONS {
            let Some(&auction) = self.state.auctions.get(i) else {
                break;
            };
            let auction = self.auction_round(auction, sink)?;
            let done = !auction.lot.is_positive()
                || (!auction.owed.is_positive() && !auction.penalty.is_positive());
            if done {
                self.end_auction(&auction, sink)?;
                // `retain`, not `remove(i)`: no index to get wrong.
                self.state.auctions.retain(|x| x.id != auction.id);
                // The owner's row is written: keep it whatever follows.
                self.savepoint(sink);
            } else {
                if let Some(slot) = self.state.auctions.get_mut(i) {
                    *slot = auction;
                }
                i = i.saturating_add(1);
            }
        }
        Ok(())
    }

    /// One round of one auction: its price, a reset, a take.
    fn auction_round(
        &mut self,
        mut a: Auction,
        sink: &mut dyn EventSink,
    ) -> Result<Auction, StepFault> {
        let asset = usize::from(a.asset);
        let Some(rule) = self.auction_rule(asset) else {
            return Ok(a);
        };
        let round = self.state.round;
        let mut price = curve_price(rule.curve, a.top, round.saturating_sub(a.started))?;
        let fallen = price < a.top.scale(rule.cusp, Round::Down)?;
        if round.saturating_sub(a.started) > rule.tail_rounds || fallen {
            a.top = self.market(asset)?.oracle.scale(rule.buf, Round::Up)?;
            a.started = round;
            price = a.top;
            sink.emit(&Event::AuctionReset {
                round,
                auction: a.id,
                account: a.account,
                asset: a.asset,
                top: a.top,
            });
        }
        let tab = a.owed.add(a.penalty)?;
        let mut qty = a.lot;
        if price.is_positive() {
            // Keepers pay at most the tab, and only what they hold.
            qty = qty.min(Qty(num::div(tab.0, price.0, Round::Up)?));
            if self.containment.keepers.is_some() {
                let capital = self.state.limits.keeper_capital.max(Value::ZERO);
                qty = qty.min(Qty(num::div(capital.0, price.0, Round::Down)?));
            }
        }
        let venue = self.market(asset)?.venue;
        for _ in 0..TAKE_TRIES {
            if !qty.is_positive() {
                break;
            }
            let paid = Value(num::mul(qty.0, price.0, Round::Up)?).min(tab);
            let mut after = venue;
            match after.sell(qty) {
                Ok(proceeds) if proceeds >= paid => {
                    self.take(&mut a, (qty, price), paid, (proceeds, after), sink)?;
                    break;
                }
                Ok(_) | Err(VenueError::Exhausted) => {
                    qty = Qty(num::div(qty.0, Fx::from_num(2), Round::Down)?);
                }
                Err(VenueError::Arith(e)) => return Err(e.into()),
            }
        }
        Ok(a)
    }

    /// Keepers pay `paid` for `qty` of the lot and sell it for `proceeds`
    /// (the venue after the sale is `venue`).
    fn take(
        &mut self,
        a: &mut Auction,
        (qty, price): (Qty, Price),
        paid: Value,
        (proceeds, venue): (Value, crate::venue::Venue),
        sink: &mut dyn EventSink,
    ) -> Result<(), StepFault> {
        let asset = usize::from(a.asset);
        let to_debt = paid.min(a.owed);
        let to_penalty = paid.sub(to_debt)?.min(a.penalty);
        let ledger = &mut self.state.ledger;
        ledger.transfer(0, Book::Keepers, Book::Auction, to_debt.as_quote_qty())?;
        ledger.transfer(0, Book::Keepers, Book::Insurance, to_penalty.as_quote_qty())?;
        ledger.transfer(asset, Book::Auction, Book::Venue, qty)?;
        ledger.transfer(0, Book::Venue, Book::Keepers, proceeds.as_quote_qty())?;
        self.state.insurance = self.state.insurance.add(to_penalty)?;
        if let Some(m) = self.state.markets.get_mut(asset) {
            m.venue = venue;
        }
        a.lot = a.lot.sub(qty)?;
        a.owed = a.owed.sub(to_debt)?;
        a.penalty = a.penalty.sub(to_penalty)?;
        let spent = to_debt.add(to_penalty)?;
        let l = &mut self.state.limits;
        if self.containment.keepers.is_some() {
            l.keeper_capital = l.keeper_capital.sub(spent)?.max(Value::ZERO);
            l.keeper_returns = l.keeper_returns.add(proceeds)?;
        }
        let r = &mut self.state.report;
        r.fees = r.fees.add(to_penalty)?;
        r.keeper_pnl = r.keeper_pnl.add(proceeds.sub(spent)?)?;
        r.insurance_fund = self.state.insurance;
        if !spent.is_positive() {
            r.zero_bid_takes = r.zero_bid_takes.saturating_add(1);
        }
        if let Some(x) = r.per_asset.get_mut(asset) {
            x.sold = x.sold.add(qty)?;
        }
        self.track_prices()?;
        sink.emit(&Event::AuctionTaken {
            round: self.state.round,
            auction: a.id,
            account: a.account,
            asset: a.asset,
            qty,
            paid: spent,
            price,
        });
        Ok(())
    }

    /// Returns the collateral left to the account, or books the debt not
    /// raised as bad debt (the insurance fund first).
    fn end_auction(&mut self, a: &Auction, sink: &mut UnitSink<'_, A>) -> Result<(), StepFault> {
        let asset = usize::from(a.asset);
        let (id, returned) = (a.account as usize, a.lot.max(Qty::ZERO));
        if returned.is_positive() {
            self.journal(sink, a.account)?;
            let index = self.market(asset)?.deposit_index;
            let row: Balances<A> = self.load(id);
            let stored = row.get(asset).copied().unwrap_or(Qty::ZERO);
            self.store(id, asset, account::credit(stored, returned, index)?)?;
            self.state
                .ledger
                .transfer(asset, Book::Auction, Book::Accounts, returned)?;
            if index != num::Ratio::ONE {
                self.state.ledger.add_slack(asset, Fx::from_num(2))?;
            }
        }
        // Penalty not raised is revenue lost, not debt: the auction book
        // holds only the debt part.
        let shortfall = a.owed.max(Value::ZERO);
        if shortfall.is_positive() {
            let covered = shortfall.min(self.state.insurance.max(Value::ZERO));
            let unrecovered = shortfall.sub(covered)?;
            let ledger = &mut self.state.ledger;
            ledger.transfer(0, Book::Insurance, Book::Auction, covered.as_quote_qty())?;
            ledger.transfer(0, Book::BadDebt, Book::Auction, unrecovered.as_quote_qty())?;
            self.state.insurance = self.state.insurance.sub(covered)?;
            let r = &mut self.state.report;
            r.bad_debt = r.bad_debt.add(shortfall)?;
            r.insurance_used = r.insurance_used.add(covered)?;
            r.unrecovered = r.unrecovered.add(unrecovered)?;
            r.insurance_fund = self.state.insurance;
            if let Some(q) = r.per_asset.get_mut(0) {
                q.written_off = q.written_off.add(shortfall.as_quote_qty())?;
                q.covered = q.covered.add(covered.as_quote_qty())?;
                q.unrecovered = q.unrecovered.add(unrecovered.as_quote_qty())?;
            }
        }
        sink.emit(&Event::AuctionEnded {
            round: self.state.round,
            auction: a.id,
            account: a.account,
            asset: a.asset,
            returned,
            shortfall,
        });
        Ok(())
    }

    /// Every auction number, for the digest.
    pub(super) fn for_each_auction_number(&self, mut f: impl FnMut(Fx)) {
        for a in &self.state.auctions {
            f(Fx::from_num(a.id));
            f(Fx::from_num(a.account));
            f(Fx::from_num(a.asset));
            f(a.lot.0);
            f(a.owed.0);
            f(a.penalty.0);
            f(a.top.0);
            f(Fx::from_num(a.started));
        }
    }
}

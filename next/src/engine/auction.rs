//! Dutch-auction disposal (MakerDAO Liquidations 2.0, `clip.sol`): a
//! liquidation of quote debt against an auctioned collateral starts an
//! auction instead of selling. The collateral (the lot) and the debt move
//! into the auction book; the account is left as the sale would leave it.
//! At the end of each round, before the venues recover, every auction
//! prices its lot on its curve (restarting after `tail_rounds` or below
//! `cusp`), and keepers take what the venue pays them for: proceeds pay
//! the debt, then the penalty into the insurance fund. An auction ends when
//! it has raised both, returning the collateral left, or when its lot is
//! gone: debt not raised is bad debt, covered by the fund or left
//! unrecovered. With the price at zero a take costs nothing: the zero bids
//! of 12 March 2020.
//!
//! An account is auctioned when it owes only the quote, under the absorb
//! policy (MakerDAO's `bark` takes the whole vault): the debt is repaid in
//! full and its largest collateral by value goes to auction whole, if that
//! collateral has an auction rule. Other accounts go to the units.

use super::{Engine, Event, EventSink, Termination};
use crate::ledger::Book;
use crate::num::{ArithError, ArithResult, Price, Qty, Ratio, Round, Value, RATIO_SCALE};
use crate::policy::Policy;

/// Most auctions running at once; a liquidation that would start one more
/// waits (MakerDAO bounds them with `Hole` and `hole`).
pub const MAX_AUCTIONS: usize = 16;
/// Tries at halving a take until the venue pays for it.
const TAKE_TRIES: usize = 8;

/// How an auction's price falls with the rounds since it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuctionCurve {
    /// `top × (1 − elapsed / rounds)`, zero from `rounds` on (MakerDAO's
    /// `LinearDecrease`).
    Linear {
        /// Rounds to reach zero (≥ 1).
        rounds: u32,
    },
    /// `top × cut^⌊elapsed / step_rounds⌋`, each cut rounded down
    /// (`StairstepExponentialDecrease`).
    Stairstep {
        /// The factor a step, in (0, 1).
        cut: Ratio,
        /// Rounds a step (≥ 1).
        step_rounds: u32,
    },
}

/// Dutch-auction disposal of one collateral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AuctionRule {
    /// Start price over the oracle (`buf`, ≥ 1).
    pub buf: Ratio,
    /// The price curve.
    pub curve: AuctionCurve,
    /// Restart after this many rounds (`tail`, ≥ 1) ...
    pub tail_rounds: u32,
    /// ... or below this share of the start price (`cusp`, below one).
    pub cusp: Ratio,
    /// The auction raises the debt times one plus this (`chop` − 1); the
    /// penalty goes to the insurance fund.
    pub penalty: Ratio,
    /// Paid from the fund to the keeper that starts an auction (`tip`) ...
    pub tip: Value,
    /// ... plus this share of what it is to raise (`chip`).
    pub chip: Ratio,
}

impl AuctionRule {
    /// Whether the settings are in their domains.
    pub fn is_valid(&self) -> bool {
        let curve = match self.curve {
            AuctionCurve::Linear { rounds } => rounds > 0,
            AuctionCurve::Stairstep { cut, step_rounds } => {
                cut.0 > 0 && cut < Ratio::ONE && step_rounds > 0
            }
        };
        curve
            && self.buf >= Ratio::ONE
            && self.tail_rounds > 0
            && self.cusp < Ratio::ONE
            && !self.tip.is_negative()
    }
}

/// One running auction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Auction {
    /// Numbered from 0 in the order auctions started.
    pub id: u32,
    /// The account liquidated.
    pub account: u32,
    /// The collateral on sale.
    pub asset: u8,
    /// Base units of it still on sale.
    pub lot: Qty,
    /// Debt still to raise (quote base units).
    pub owed: Value,
    /// Penalty still to raise.
    pub penalty: Value,
    /// The price at the (re)start.
    pub top: Price,
    /// The round of the (re)start.
    pub started: u32,
}

/// The price `elapsed` rounds after a start at `top`: its mantissa over
/// `top`'s exponent (zero, past a linear curve's end, is no [`Price`]).
fn curve_price(curve: AuctionCurve, top: Price, elapsed: u32) -> ArithResult<u64> {
    match curve {
        AuctionCurve::Linear { rounds } => {
            let left = u64::from(rounds.saturating_sub(elapsed));
            let m = crate::num::mul_div(top.mantissa(), left, u64::from(rounds.max(1)), false)?;
            Ok(m.unsigned_abs())
        }
        AuctionCurve::Stairstep { cut, step_rounds } => {
            let steps = elapsed.checked_div(step_rounds).unwrap_or(0);
            let mut m = top.mantissa();
            // Past 128 cuts of at most (1 − 10^-9) the price is under a
            // mantissa unit of any start that matters; stop there.
            for _ in 0..steps.min(128) {
                m = crate::num::mul_div(m, cut.0, RATIO_SCALE, false)?.unsigned_abs();
            }
            Ok(m)
        }
    }
}

/// `price × ratio`, rounded up.
fn scaled_up(price: Price, ratio: Ratio) -> ArithResult<Price> {
    let m = crate::num::mul_div(price.mantissa(), ratio.0, RATIO_SCALE, true)?;
    price.with_mantissa(m.unsigned_abs())
}

impl<const A: usize, const N: usize> Engine<'_, A, N> {
    /// The auction rule of `asset`, if its seizures go to auction.
    fn auction_rule(&self, asset: usize) -> Option<AuctionRule> {
        self.containment.per_asset.get(asset)?.auction
    }

    /// Whether auctions are running (a round with one is never the last).
    pub(super) fn auctions_running(&self) -> bool {
        !self.auctions.is_empty()
    }

    /// The collateral account `id`'s liquidation would auction, with its
    /// rule: under absorb, a row owing only the quote, its largest holding
    /// by value at the oracle, if that has an auction rule and is not
    /// blocked.
    fn auctioned(&self, row: &[Qty]) -> ArithResult<Option<(usize, AuctionRule)>> {
        if self.policy != Policy::Absorb || !row.first().is_some_and(|q| q.is_negative()) {
            return Ok(None);
        }
        let mut best: Option<(usize, Value)> = None;
        for (asset, (&b, m)) in row.iter().zip(self.markets.iter()).enumerate().skip(1) {
            if b.is_negative() {
                return Ok(None);
            }
            if b.is_positive() {
                let worth = b.held(m.state.index)?.value(m.oracle, Round::Down)?;
                if best.is_none_or(|(_, v)| worth > v) {
                    best = Some((asset, worth));
                }
            }
        }
        let blocked = self.limits.gate.blocked;
        let open = |a: usize| blocked.checked_shr(a as u32).unwrap_or(0) & 1 == 0;
        Ok(best
            .filter(|&(a, _)| open(a))
            .and_then(|(a, _)| Some((a, self.auction_rule(a)?))))
    }

    /// Starts an auction for account `id` if its liquidation is one
    /// ([`Engine::auctioned`]): its quote debt repaid by the auction book
    /// and its collateral moved there, whole, or in part as far as the
    /// notional caps' room lets ([`Engine::start`]), charged to them.
    /// Writes nothing unless it says [`Auctioned::Started`] or
    /// [`Auctioned::Part`].
    #[inline(never)]
    pub(super) fn try_auction(
        &mut self,
        id: u32,
        sink: &mut impl EventSink,
    ) -> Result<Auctioned, Termination> {
        let fault = Termination::Fault;
        let range = self.row_range(id as usize);
        let row = self
            .balances
            .get(range.clone())
            .ok_or(fault(ArithError::Domain))?;
        let Some((asset, rule)) = self.auctioned(row).map_err(fault)? else {
            return Ok(Auctioned::No);
        };
        if self.auctions.is_full() {
            return Ok(Auctioned::Full);
        }
        let stored = row.get(asset).copied().unwrap_or(Qty::ZERO);
        let debt = row.first().copied().unwrap_or(Qty::ZERO);
        // The notional caps' room bounds the debt an auction takes on
        // (MakerDAO's `dart = min(art, room)`); none left, the account waits.
        let room = self.limits.gate.cap_room(asset);
        let whole = Value(debt.0.saturating_neg());
        // Stopgap: a part-vault start under pro-rata deleveraging breaks the
        // audit's quote accounts (fuzz/pending): such a vault waits for room
        // for all of its debt.
        let part = room.is_some_and(|r| r < whole);
        if room.is_some_and(|r| !r.is_positive()) || (part && self.pro_rata_on()) {
            return Ok(Auctioned::Full);
        }
        let started = self
            .start(id, (asset, rule), (stored, debt), room)
            .map_err(fault)?;
        let mut gate = self.limits.gate;
        gate.charge_caps(asset, started.auction.owed)
            .map_err(fault)?;
        // Nothing can fail past here.
        self.limits.gate = gate;
        if let Some(r) = self.balances.get_mut(range) {
            if let Some(q) = r.first_mut() {
                *q = started.left.0;
            }
            if let Some(c) = r.get_mut(asset) {
                *c = started.left.1;
            }
        }
        let (auction, incentive) = (started.auction, started.incentive);
        let (lot, owed) = (auction.lot, auction.owed);
        if let Some(m) = self.markets.get_mut(asset) {
            m.state.deposit_shares = started.shares;
            m.books.transfer(Book::Accounts, Book::Auction, lot);
        }
        if let Some(q) = self.markets.first_mut() {
            q.books.transfer(Book::Auction, Book::Accounts, Qty(owed.0));
            q.books
                .transfer(Book::Insurance, Book::Keepers, Qty(incentive.0));
        }
        self.insurance = Value(self.insurance.0.saturating_sub(incentive.0));
        // `is_full` was checked above.
        let _ = self.auctions.push(auction);
        let r = &mut self.report;
        r.auctions = r.auctions.saturating_add(1);
        r.liquidations = r.liquidations.saturating_add(1);
        self.round_liquidations = self.round_liquidations.saturating_add(1);
        sink.emit(&Event::AuctionStarted {
            round: self.round,
            auction: auction.id,
            account: id,
            asset: auction.asset,
            lot,
            debt: owed,
            incentive,
            top: auction.top,
        });
        match started.left.1.is_positive() {
            true => Ok(Auctioned::Part),
            false => Ok(Auctioned::Started),
        }
    }

    /// Plans account `id`'s auction of its `stored` deposit shares of
    /// `asset` under `rule` for its quote `debt` (negative), at most `room`
    /// of it: the whole vault, or the part of its collateral in proportion
    /// to the debt taken on, rounded down (MakerDAO's `dink = ink × dart /
    /// art`). Writes nothing.
    fn start(
        &self,
        id: u32,
        (asset, rule): (usize, AuctionRule),
        (stored, debt): (Qty, Qty),
        room: Option<Value>,
    ) -> ArithResult<Started> {
        let m = self.markets.get(asset).ok_or(ArithError::Domain)?;
        let held = stored.held(m.state.index)?;
        let whole = Value(debt.neg()?.0);
        let owed = room.map_or(whole, |r| r.min(whole));
        let (lot, left) = match owed < whole {
            false => (held, (Qty::ZERO, Qty::ZERO)),
            true => {
                let part = crate::num::mul_div(
                    held.0.unsigned_abs(),
                    owed.0.unsigned_abs(),
                    whole.0.unsigned_abs(),
                    false,
                )?;
                let lot = Qty(part);
                let kept = crate::account::debit(stored, lot, m.state.index)?;
                (lot, (debt.add(Qty(owed.0))?, kept))
            }
        };
        let penalty = owed.scale(rule.penalty, Round::Up)?;
        let tab = owed.add(penalty)?;
        let incentive = rule
            .tip
            .add(tab.scale(rule.chip, Round::Down)?)?
            .min(self.insurance.max(Value::ZERO));
        let shares = crate::liquidate::shares_after(m.state.deposit_shares, stored, left.1)?;
        let auction = Auction {
            id: u32::try_from(self.report.auctions).map_err(|_| ArithError::Overflow)?,
            account: id,
            asset: u8::try_from(asset).map_err(|_| ArithError::Overflow)?,
            lot,
            owed,
            penalty,
            top: scaled_up(m.oracle, rule.buf)?,
            started: self.round,
        };
        Ok(Started {
            auction,
            incentive,
            shares,
            left,
        })
    }

    /// Prices, restarts, sells and ends every running auction, in the
    /// order they started.
    #[inline(never)]
    pub(super) fn run_auctions(&mut self, sink: &mut impl EventSink) -> Result<(), Termination> {
        let mut i = 0;
        for _ in 0..MAX_AUCTIONS {
            let Some(&a) = self.auctions.get(i) else {
                break;
            };
            let a = self.auction_round(a, sink).map_err(Termination::Fault)?;
            let done = !a.lot.is_positive() || (!a.owed.is_positive() && !a.penalty.is_positive());
            if done {
                self.end_auction(&a, sink).map_err(Termination::Fault)?;
                self.auctions.retain(|x| x.id != a.id);
            } else {
                if let Some(slot) = self.auctions.get_mut(i) {
                    *slot = a;
                }
                i = i.saturating_add(1);
            }
        }
        Ok(())
    }

    /// One round of auction `a`: its price, a restart, a take.
    fn auction_round(&mut self, mut a: Auction, sink: &mut impl EventSink) -> ArithResult<Auction> {
        let asset = usize::from(a.asset);
        let Some(rule) = self.auction_rule(asset) else {
            return Ok(a);
        };
        let elapsed = self.round.saturating_sub(a.started);
        let mut price = curve_price(rule.curve, a.top, elapsed)?;
        let cusp = crate::num::mul_div(a.top.mantissa(), rule.cusp.0, RATIO_SCALE, false)?;
        if elapsed > rule.tail_rounds || price < cusp.unsigned_abs() {
            let oracle = self.markets.get(asset).ok_or(ArithError::Domain)?.oracle;
            a.top = scaled_up(oracle, rule.buf)?;
            a.started = self.round;
            price = a.top.mantissa();
            sink.emit(&Event::AuctionReset {
                round: self.round,
                auction: a.id,
                asset: a.asset,
                top: a.top,
            });
        }
        let tab = a.owed.add(a.penalty)?;
        let mut qty = a.lot;
        // Zero: the lot goes for nothing.
        let price = match price {
            0 => None,
            m => Some(a.top.with_mantissa(m)?),
        };
        if let Some(p) = price {
            // Keepers pay at most the tab, and only what they hold. A bound
            // past an amount's range (a low price) is no bound: the lot is
            // smaller.
            let capital = self.limits.gate.keepers.map(|k| k.max(Value::ZERO));
            let bounds = [
                tab.qty(p, Round::Up).ok(),
                capital.and_then(|k| k.qty(p, Round::Down).ok()),
            ];
            for bound in bounds.into_iter().flatten() {
                qty = qty.min(bound);
            }
        }
        let m = self.markets.get(asset).ok_or(ArithError::Domain)?;
        let Some(venue) = m.state.venue else {
            return Ok(a);
        };
        for _ in 0..TAKE_TRIES {
            if !qty.is_positive() {
                break;
            }
            let paid = match price {
                Some(p) => qty.value(p, Round::Up)?.min(tab),
                None => Value::ZERO,
            };
            let mut after = venue;
            match after.sell(qty) {
                Ok(proceeds) if proceeds >= paid => {
                    let penalty = self.take(&mut a, qty, paid, proceeds)?;
                    let venue_price = after.price()?;
                    if let Some(m) = self.markets.get_mut(asset) {
                        m.state.venue = Some(after);
                    }
                    sink.emit(&Event::AuctionTaken {
                        round: self.round,
                        auction: a.id,
                        asset: a.asset,
                        qty,
                        paid,
                        penalty,
                        proceeds,
                        venue_price,
                    });
                    break;
                }
                Ok(_) | Err(crate::venue::VenueError::Exhausted) => qty = Qty(qty.0 / 2),
                Err(crate::venue::VenueError::Arith(e)) => return Err(e),
                Err(crate::venue::VenueError::Invalid(_)) => return Err(ArithError::Domain),
            }
        }
        Ok(a)
    }

    /// Keepers pay `paid` for `qty` of the lot and sell it into the venue
    /// for `proceeds`: the debt first, then the penalty, to the fund.
    /// Returns the part that paid the penalty.
    fn take(
        &mut self,
        a: &mut Auction,
        qty: Qty,
        paid: Value,
        proceeds: Value,
    ) -> ArithResult<Value> {
        let asset = usize::from(a.asset);
        let to_debt = paid.min(a.owed);
        let to_penalty = paid.sub(to_debt)?.min(a.penalty);
        let (lot, owed, penalty) = (
            a.lot.sub(qty)?,
            a.owed.sub(to_debt)?,
            a.penalty.sub(to_penalty)?,
        );
        let insurance = self.insurance.add(to_penalty)?;
        // Keepers pay out of their capital and get the proceeds back next
        // round, as from a sale.
        let mut gate = self.limits.gate;
        gate.charge_keepers(to_debt.add(to_penalty)?, proceeds)?;
        // Nothing can fail past here.
        self.limits.gate = gate;
        if let Some(q) = self.markets.first_mut() {
            q.books
                .transfer(Book::Keepers, Book::Auction, Qty(to_debt.0));
            q.books
                .transfer(Book::Keepers, Book::Insurance, Qty(to_penalty.0));
            q.books
                .transfer(Book::Venue, Book::Keepers, Qty(proceeds.0));
        }
        if let Some(m) = self.markets.get_mut(asset) {
            m.books.transfer(Book::Auction, Book::Venue, qty);
        }
        self.insurance = insurance;
        (a.lot, a.owed, a.penalty) = (lot, owed, penalty);
        if !to_debt.add(to_penalty)?.is_positive() {
            self.report.zero_bid_takes = self.report.zero_bid_takes.saturating_add(1);
        }
        Ok(to_penalty)
    }

    /// Returns the lot left to its account, or books the debt not raised
    /// as bad debt (the fund first).
    fn end_auction(&mut self, a: &Auction, sink: &mut impl EventSink) -> ArithResult<()> {
        let asset = usize::from(a.asset);
        let returned = a.lot.max(Qty::ZERO);
        let at = self
            .row_range(a.account as usize)
            .start
            .saturating_add(asset);
        let stored = self.balances.get(at).copied().ok_or(ArithError::Domain)?;
        let m = self.markets.get(asset).ok_or(ArithError::Domain)?;
        let after = crate::account::credit(stored, returned, m.state.index)?;
        let shares = self.deposit_shares_after(asset, stored, after)?;
        let shortfall = a.owed.max(Value::ZERO);
        let covered = shortfall.min(self.insurance.max(Value::ZERO));
        let unrecovered = shortfall.sub(covered)?;
        // Nothing can fail past here.
        if let Some(b) = self.balances.get_mut(at) {
            *b = after;
        }
        if let Some(m) = self.markets.get_mut(asset) {
            m.state.deposit_shares = shares;
            m.books.transfer(Book::Auction, Book::Accounts, returned);
        }
        if let Some(q) = self.markets.first_mut() {
            q.books
                .transfer(Book::Insurance, Book::Auction, Qty(covered.0));
            q.books
                .transfer(Book::BadDebt, Book::Auction, Qty(unrecovered.0));
        }
        self.insurance = Value(self.insurance.0.saturating_sub(covered.0));
        sink.emit(&Event::AuctionEnded {
            round: self.round,
            auction: a.id,
            asset: a.asset,
            account: a.account,
            returned,
            shortfall,
            covered,
        });
        Ok(())
    }
}

/// Whether a liquidation went to auction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Auctioned {
    /// It is not an auction's: the unit liquidates it.
    No,
    /// An auction started.
    Started,
    /// An auction started on the part of the debt the notional caps left
    /// room for: the rest waits.
    Part,
    /// It is, but every slot is taken or the notional caps' room is spent:
    /// it waits.
    Full,
}

/// An auction planned, with what starting it moves.
struct Started {
    auction: Auction,
    incentive: Value,
    /// The collateral's deposit shares after the lot leaves.
    shares: Qty,
    /// The row's quote balance and stored collateral after: zero both for
    /// a whole vault.
    left: (Qty, Qty),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_fall_as_documented() {
        let top = Price::new(1_000_000, 3).unwrap();
        let linear = AuctionCurve::Linear { rounds: 4 };
        let at = |c, e| curve_price(c, top, e).unwrap();
        assert_eq!(
            [0, 1, 3, 4, 9].map(|e| at(linear, e)),
            [1_000_000, 750_000, 250_000, 0, 0]
        );
        let stair = AuctionCurve::Stairstep {
            cut: Ratio::from_bps(9_000),
            step_rounds: 2,
        };
        assert_eq!(
            [0, 1, 2, 5].map(|e| at(stair, e)),
            [1_000_000, 1_000_000, 900_000, 810_000]
        );
    }
}

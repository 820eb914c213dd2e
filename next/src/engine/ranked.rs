//! Ranked auto-deleveraging: a bankrupt position is closed against the
//! most leveraged opposite positions first (Hyperliquid's order), each
//! taken whole but the last, at the bankruptcy price; a loss left after
//! the insurance fund is taken from the same ranking, each account giving
//! at most its equity and what it holds of the loss's asset.
//!
//! The ranking is kept between events ([`super::rank`]), so an event costs
//! the positions it takes, each `O(log accounts)`, plus the rows holding
//! several risky assets, valued at every slice. It writes the
//! counterparties' rows; under it no index moves (every market's loss goes
//! to the other side, none to lenders), so the ranking's keys hold.
//!
//! A write can lower a counterparty's health (a short pays the bankruptcy
//! price, above the oracle; a long sells at it, below), but its place in
//! the watch is where its last valuation put it. The write therefore grows
//! the next round's drift by a bound on what it took, relative to what the
//! watch's trigger for the row rests on (`Engine::drift_for`): the watch
//! stays a lower bound on every health, as after a price move.

use super::rank::{self, NONE};
use super::{Engine, Event, EventSink, Termination};
use crate::account::sums;
use crate::ledger::Book;
use crate::liquidate::{shares_after, Written};
use crate::num::{ArithError, ArithResult, Price, Qty, Round, Value};

/// A counterparty found for a slice.
#[derive(Clone, Copy)]
struct Found {
    id: u32,
    /// Units of the position's asset it holds (long) or owes (short).
    size: Qty,
    /// The next in the tree, read before the slice rewrites this one.
    after: u32,
    /// Whether it came from the mixed list (the tree's cursor stays).
    mixed: bool,
}

impl<const A: usize, const N: usize> Engine<'_, A, N> {
    /// Notes a write to account `id`'s row for the ranking, which files
    /// it again when its tree is next read ([`rank::Ranks::mark`]).
    #[inline(never)]
    pub(super) fn note_written(&mut self, id: u32) -> ArithResult<()> {
        let width = self.markets.len();
        self.ranks.mark(id, self.balances, width)
    }

    /// The price a side's eligibility is judged at: a long's holding at
    /// its share price, a short's debt at the oracle.
    fn side_price(&self, asset: usize, short: bool) -> ArithResult<Price> {
        let t = self.maint.get(asset).ok_or(ArithError::Domain)?;
        Ok(if short { t.price() } else { t.share_price() })
    }

    /// Account `id`'s row as stored ([`Engine::row`]; no row is a fault).
    fn stored(&self, id: u32) -> ArithResult<&[Qty]> {
        self.row(id as usize).ok_or(ArithError::Domain)
    }

    /// Whether `a` (units `ra`, equity `ea`) ranks before `b`: higher
    /// leverage `|r| / equity`, then the lower id.
    fn outranks((ra, ea, ida): (u64, i64, u32), (rb, eb, idb): (u64, i64, u32)) -> bool {
        let lhs = i128::from(ra).wrapping_mul(i128::from(eb));
        let rhs = i128::from(rb).wrapping_mul(i128::from(ea));
        lhs > rhs || (lhs == rhs && ida < idb)
    }

    /// The best mixed row holding `asset` on the `short` side with equity
    /// above zero, other than `skip`, with its size and equity; for a
    /// loss in `gives`, only a row that can give some of it.
    fn best_mixed(
        &self,
        asset: usize,
        short: bool,
        skip: u32,
        gives: Option<usize>,
    ) -> ArithResult<Option<(u64, i64, u32)>> {
        let mut best: Option<(u64, i64, u32)> = None;
        let mut at = self.ranks.mixed();
        for _ in 0..=self.accounts {
            if at == NONE {
                return Ok(best);
            }
            let row = self.stored(at)?;
            let held = row.get(asset).copied().unwrap_or(Qty::ZERO);
            let gives_some = match gives {
                Some(loss) => self.capacity(at, loss)?.is_positive(),
                None => true,
            };
            if at != skip && held.0 != 0 && held.is_negative() == short && gives_some {
                let (equity, _) = self.equity_and_margin(row)?;
                let me = (held.0.unsigned_abs(), equity.0, at);
                if equity.is_positive() && best.is_none_or(|b| Self::outranks(me, b)) {
                    best = Some(me);
                }
            }
            at = self.ranks.next_mixed(at);
        }
        Err(ArithError::Domain)
    }

    /// The next counterparty on `asset`'s `short` side other than `skip`,
    /// from the tree at `cursor` and the mixed rows (for a loss in `gives`,
    /// those that can give some), whichever ranks first.
    fn next_counterparty(
        &self,
        asset: usize,
        short: bool,
        cursor: u32,
        (skip, gives): (u32, Option<usize>),
    ) -> ArithResult<Option<Found>> {
        let mixed = self.best_mixed(asset, short, skip, gives)?;
        // The tree's next with equity above zero as rounded (a key just
        // past the exact boundary can round to none).
        let mut cursor = cursor;
        let mut tree = None;
        for _ in 0..=self.accounts {
            if cursor == NONE {
                break;
            }
            let row = self.stored(cursor)?;
            let held = row.get(asset).copied().unwrap_or(Qty::ZERO);
            let (equity, _) = self.equity_and_margin(row)?;
            if equity.is_positive() && cursor != skip {
                tree = Some((held.0.unsigned_abs(), equity.0, cursor));
                break;
            }
            cursor = self.ranks.successor(cursor)?;
        }
        let pick = match (tree, mixed) {
            (Some(t), Some(m)) if Self::outranks(m, t) => (m, true),
            (Some(t), _) => (t, false),
            (None, Some(m)) => (m, true),
            (None, None) => return Ok(None),
        };
        let ((size, _, id), from_mixed) = pick;
        let after = match from_mixed {
            true => cursor,
            false => self.ranks.successor(id)?,
        };
        Ok(Some(Found {
            id,
            size: Qty(i64::try_from(size).map_err(|_| ArithError::Overflow)?),
            after,
            mixed: from_mixed,
        }))
    }

    /// The first eligible row of `asset`'s `short` side in the tree, the
    /// tree brought up to date first.
    fn first_eligible(&mut self, asset: usize, short: bool) -> ArithResult<u32> {
        let tree = rank::tree_of(asset, short);
        let price = self.side_price(asset, short)?;
        let width = self.markets.len();
        self.ranks.flush(tree, self.balances, width)?;
        self.ranks
            .first_where(tree, |key| rank::eligible(tree, key, price))
    }

    /// Closes what the most leveraged opposite positions can take of
    /// account `id`'s bankrupt position, at its bankruptcy price, one
    /// event a counterparty. Returns whether it closed any.
    #[inline(never)]
    pub(super) fn close_ranked(
        &mut self,
        id: u32,
        sink: &mut impl EventSink,
    ) -> Result<bool, Termination> {
        let fault = Termination::Fault;
        let Some(p) = self
            .position(self.stored(id).map_err(fault)?)
            .map_err(fault)?
        else {
            return Ok(false);
        };
        // A bankrupt long's counterparties are short, and the other way.
        let short = p.long;
        let mut cursor = self.first_eligible(p.asset, short).map_err(fault)?;
        let mut left = p.size;
        let mut closed = false;
        for _ in 0..=self.accounts {
            if !left.is_positive() {
                break;
            }
            let Some(found) = self
                .next_counterparty(p.asset, short, cursor, (id, None))
                .map_err(fault)?
            else {
                break;
            };
            let size = found.size.min(left);
            let quote = p.quote_for(size).map_err(fault)?;
            if p.long && !quote.is_positive() {
                // A slice too small to pay anything: a dust position is
                // passed over; a last slice (or a mixed row, which would
                // be offered again) leaves the rest to the market.
                if size == left || found.mixed {
                    break;
                }
                cursor = found.after;
                continue;
            }
            self.slice(id, found.id, p.asset, p.long, (size, quote))
                .map_err(fault)?;
            closed = true;
            left = left.sub(size).map_err(fault)?;
            if !found.mixed {
                cursor = found.after;
            }
            sink.emit(&Event::Deleveraged {
                round: self.round,
                account: id,
                asset: u8::try_from(p.asset).unwrap_or(u8::MAX),
                long: p.long,
                size,
                quote,
                counterparty: Some(found.id),
            });
        }
        if closed {
            self.report.deleveraged = self.report.deleveraged.saturating_add(1);
        }
        Ok(closed)
    }

    /// One slice of a close: `size` of `asset` from the long to the short
    /// of the pair (`bankrupt` long: it is the long), `quote` the other
    /// way; both rows, both assets' deposit shares, the ranking and the
    /// watch's bound. Writes nothing on an error.
    fn slice(
        &mut self,
        bankrupt: u32,
        other: u32,
        asset: usize,
        bankrupt_long: bool,
        (size, quote): (Qty, Value),
    ) -> ArithResult<()> {
        let (ia, iq) = (self.index_of(asset), self.index_of(0));
        let ours = self.stored(bankrupt)?;
        let (our_a, our_q) = (
            ours.get(asset).copied().unwrap_or(Qty::ZERO),
            ours.first().copied().unwrap_or(Qty::ZERO),
        );
        let theirs = self.stored(other)?;
        let (their_a, their_q) = (
            theirs.get(asset).copied().unwrap_or(Qty::ZERO),
            theirs.first().copied().unwrap_or(Qty::ZERO),
        );
        let paid = Qty(quote.0);
        let (long_a, long_q, short_a, short_q) = match bankrupt_long {
            true => (our_a, our_q, their_a, their_q),
            false => (their_a, their_q, our_a, our_q),
        };
        // The long gives `size` and receives the quote; the short the
        // other way.
        let new_long = (
            crate::account::debit(long_a, size, ia)?,
            crate::account::credit(long_q, paid, iq)?,
        );
        let new_short = (
            crate::account::credit(short_a, size, ia)?,
            crate::account::debit(short_q, paid, iq)?,
        );
        let (new_ours, new_theirs) = match bankrupt_long {
            true => (new_long, new_short),
            false => (new_short, new_long),
        };
        // The counterparty is short when the bankrupt is long.
        let bound = self.slice_bound(other, asset, bankrupt_long, (size, quote))?;
        let shares_a = self.deposit_shares_after(asset, our_a, new_ours.0)?;
        let shares_q = self.deposit_shares_after(0, our_q, new_ours.1)?;
        let shares_a = shares_after(shares_a, their_a, new_theirs.0)?;
        let shares_q = shares_after(shares_q, their_q, new_theirs.1)?;
        // Nothing can fail past here but the ranking's own checks.
        self.write_pair(bankrupt, asset, new_ours, (shares_a, shares_q));
        self.write_pair(other, asset, new_theirs, (shares_a, shares_q));
        self.bump(bound);
        for id in [bankrupt, other] {
            self.note_written(id)?;
        }
        Ok(())
    }

    /// The watch's bound for a slice on counterparty `id` (`short`: it is
    /// the short), before it is written: the most health it can lose, in
    /// weighted units. A short pays `quote` (a debt of it weighs at most
    /// the heaviest weight) and owes `size` less (weighed at least at its
    /// value); a long gives up `size` (weighed at most at its worth) and
    /// receives `quote` (weighed at least at the quote's deposit weight).
    fn slice_bound(
        &self,
        id: u32,
        asset: usize,
        short: bool,
        (size, quote): (Qty, Value),
    ) -> ArithResult<u64> {
        let t = self.maint.get(asset).ok_or(ArithError::Domain)?;
        let q = self.maint.first().ok_or(ArithError::Domain)?;
        let (lost, gained) = match short {
            true => (
                i128::from(quote.0).saturating_mul(i128::from(self.max_weight)),
                size.value(t.price(), Round::Down)?
                    .weighted(t.liability_weight())
                    .0,
            ),
            false => (
                size.value(t.share_price(), Round::Up)?
                    .weighted(t.asset_weight())
                    .0,
                quote.weighted(q.asset_weight()).0,
            ),
        };
        self.drift_for(id, lost.saturating_sub(gained))
    }

    /// The drift a loss of `lost` weighted units of account `id`'s health
    /// (before the write) needs (Q32.32, over one), from what its trigger
    /// rests on: its non-quote debts if it has any (the trigger then
    /// falls with the drift times them at least), else twice the loss over
    /// its quote debt (a trigger of the quote debt alone: `ε/(1+ε)` of it
    /// covers the loss for `ε` up to one); a row owing nothing is never
    /// liquidatable and needs none. Past what a bound covers, the largest
    /// drift: every account is valued again.
    ///
    /// This rests on what ranked writes can do, which a change to who may
    /// be a counterparty must keep: a write never raises a non-quote debt
    /// (a short's only falls), never raises the quote debt of a row that
    /// owes only the quote (a long receives quote), and a round's bounds
    /// add up to at most one ([`Engine::bump`]) before every account is
    /// valued again: a row valued owing non-quote debt that a close left
    /// owing only the quote then owes at most about twice its exposure.
    fn drift_for(&self, id: u32, lost: i128) -> ArithResult<u64> {
        let s = sums(self.stored(id)?, &self.maint)?;
        // A base unit of rounding a term, at the heaviest weight.
        let lost = lost
            .max(0)
            .saturating_add(i128::from(self.max_weight).saturating_mul(4));
        let lost = lost.unsigned_abs();
        if s.debts > 0 {
            return Ok(super::watch::ratio_bound(
                lost,
                s.debts.unsigned_abs(),
                true,
            ));
        }
        if s.quote_debt <= 0 {
            return Ok(0);
        }
        let twice = lost.saturating_mul(2);
        match twice <= s.quote_debt.unsigned_abs() {
            true => Ok(super::watch::ratio_bound(
                twice,
                s.quote_debt.unsigned_abs(),
                true,
            )),
            false => Ok(u64::MAX),
        }
    }

    /// Adds a write's bound to the round's ([`Engine::grow_drift`] folds
    /// it in): the bounds of one round add up, as the losses of an account
    /// touched twice do; past a doubling, every account is valued again.
    fn bump(&mut self, bound: u64) {
        if let Some(side) = self.sides.first_mut() {
            let sum = side.charge_drift.saturating_add(bound);
            side.charge_drift = match sum > super::watch::DRIFT_ONE {
                true => u64::MAX,
                false => sum,
            };
        }
    }

    /// Takes a unit's write-off `w` (the part the fund did not cover) from
    /// the opposite side, ranked: a quote loss from the shorts of
    /// `exposure` (the risky asset the account's last step sold), a loss
    /// in a risky asset from its longs. Reports the record.
    #[inline(never)]
    pub(super) fn take_ranked(
        &mut self,
        id: u32,
        mut w: Written,
        exposure: Option<usize>,
        sink: &mut impl EventSink,
    ) -> Result<(), Termination> {
        let (position, short) = match w.asset {
            0 => (exposure.filter(|&a| a != 0), true),
            a => (Some(a), false),
        };
        if let Some(position) = position {
            let taken = self
                .take_from_side(id, w.asset, position, short, w.unrecovered)
                .map_err(Termination::Fault)?;
            w.deleveraged = taken;
            w.unrecovered = Qty(w.unrecovered.0.saturating_sub(taken.0));
        }
        sink.emit(&Event::WrittenOff {
            account: id,
            written: w,
        });
        Ok(())
    }

    /// Takes up to `loss` of `asset` from the `short` side of `position`,
    /// most leveraged first, each account at most its equity and its
    /// holding of `asset`. Returns what it took.
    fn take_from_side(
        &mut self,
        bankrupt: u32,
        asset: usize,
        position: usize,
        short: bool,
        loss: Qty,
    ) -> ArithResult<Qty> {
        let mut cursor = self.first_eligible(position, short)?;
        let mut left = loss;
        for _ in 0..=self.accounts {
            if !left.is_positive() {
                break;
            }
            let Some(found) =
                self.next_counterparty(position, short, cursor, (bankrupt, Some(asset)))?
            else {
                break;
            };
            if !found.mixed {
                cursor = found.after;
            }
            let take = self.capacity(found.id, asset)?.min(left);
            if !take.is_positive() {
                // A tree row with nothing to give (a mixed one is not
                // offered): on to the next.
                continue;
            }
            self.take_from(found.id, asset, take)?;
            left = left.sub(take)?;
        }
        loss.sub(left)
    }

    /// What account `id` can give of `asset`: its equity's worth of it,
    /// and no more than it holds.
    fn capacity(&self, id: u32, asset: usize) -> ArithResult<Qty> {
        let row = self.stored(id)?;
        let (equity, _) = self.equity_and_margin(row)?;
        let m = self.markets.get(asset).ok_or(ArithError::Domain)?;
        let held = row.get(asset).copied().unwrap_or(Qty::ZERO);
        if !held.is_positive() || !equity.is_positive() {
            return Ok(Qty::ZERO);
        }
        let held = held.held(m.state.index)?;
        Ok(equity.qty(m.oracle, Round::Down)?.min(held))
    }

    /// Lowers account `id`'s holding of `asset` by `amount` into the
    /// bad-debt book.
    fn take_from(&mut self, id: u32, asset: usize, amount: Qty) -> ArithResult<()> {
        let t = self.maint.get(asset).ok_or(ArithError::Domain)?;
        let lost = amount
            .value(t.share_price(), Round::Up)?
            .weighted(t.asset_weight())
            .0;
        let bound = self.drift_for(id, lost)?;
        let stored = self.stored(id)?.get(asset).copied().unwrap_or(Qty::ZERO);
        let after = crate::account::debit(stored, amount, self.index_of(asset))?;
        let shares = self.deposit_shares_after(asset, stored, after)?;
        // Nothing can fail past here but the ranking's own checks.
        let at = self.row_range(id as usize).start.saturating_add(asset);
        if let Some(b) = self.balances.get_mut(at) {
            *b = after;
        }
        if let Some(m) = self.markets.get_mut(asset) {
            m.state.deposit_shares = shares;
            m.books.transfer(Book::Accounts, Book::BadDebt, amount);
        }
        self.bump(bound);
        self.note_written(id)
    }
}

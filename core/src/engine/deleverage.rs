//! What replaces a market sale for some accounts (see
//! [`crate::containment`]): the backstop vault's takeover, and
//! auto-deleveraging against opposite positions at the bankruptcy price.
//!
//! Both move balances without trading, so they move no price. The backstop
//! moves an account's balances into the vault's book. Auto-deleveraging
//! moves them between accounts: it is planned in a first pass that
//! computes every new balance without writing, and committed in a second
//! pass that repeats the same computations, so an arithmetic failure leaves
//! every account as it was.
//!
//! Finding counterparties ([`Walk`]) costs passes over the accounts, not a
//! pass per counterparty: pro rata goes through the ids once, each search
//! continuing from the last account found; ranked keeps the best [`AHEAD`]
//! of each pass, so `k` counterparties cost ⌈k / `AHEAD`⌉ passes. Within
//! an event only the rows already taken change, and a walk never comes
//! back to them. A pro-rata deleveraging makes three passes (the total,
//! the plan, the commit), a ranked one usually one (the commit replays a
//! plan of up to `AHEAD` slices); a loss in the waterfall two pro rata,
//! ⌈takes / `AHEAD`⌉ ranked.

use super::liquidate::Balances;
use super::undo::UnitSink;
use super::Engine;
use crate::account;
use crate::containment::AdlRanking;
use crate::error::StepFault;
use crate::event::{Event, EventSink};
use crate::ledger::Book;
use crate::num::{self, ArithError, Fx, Qty, Ratio, Round, Value};

/// One counterparty's part of a deleveraging.
#[derive(Clone, Copy)]
struct Slice {
    counterparty: u32,
    /// Units of the risky asset that change hands.
    qty: Qty,
    /// Quote that changes hands the other way.
    quote: Value,
}

/// The bankrupt position being closed.
#[derive(Clone, Copy)]
struct Position {
    asset: usize,
    /// The risky balance (negative: short).
    risky: Qty,
    /// The quote balance, of the opposite sign (effective units).
    quote: Qty,
}

/// Order of counterparties: larger score first, then lower id.
type Key = (Fx, u32);

fn before(a: Key, b: Key) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// How many counterparties a ranked walk keeps from one pass over the
/// accounts, and how many planned slices a commit replays without walking
/// again.
const AHEAD: usize = 8;

/// The best counterparties after a cursor, best first, from one pass.
struct Ahead {
    entries: [(Qty, Key); AHEAD],
    /// Entries held: `entries[next..len]` are not handed out yet.
    len: usize,
    next: usize,
    /// The last key handed out: a pass keeps only the keys after it.
    cursor: Option<Key>,
    /// The last pass found fewer than [`AHEAD`]: none is left after them.
    last: bool,
}

impl Ahead {
    fn new() -> Self {
        Self {
            entries: [(Qty::ZERO, (Fx::ZERO, 0)); AHEAD],
            len: 0,
            next: 0,
            cursor: None,
            last: false,
        }
    }

    /// Keeps `(size, key)` if it comes after the cursor and among the best
    /// [`AHEAD`] seen in this pass (insertion into the sorted entries).
    fn offer(&mut self, size: Qty, key: Key) {
        if self.cursor.is_some_and(|c| !before(c, key)) {
            return;
        }
        let held = self.entries.get(..self.len).unwrap_or(&[]);
        let at = held.iter().take_while(|e| before(e.1, key)).count();
        if at >= AHEAD {
            return;
        }
        // Shift `at..end` one place down (the last falls off when full).
        let end = self.len.min(AHEAD.saturating_sub(1));
        let mut i = end;
        while i > at {
            let j = i.saturating_sub(1);
            if let Some(&moved) = self.entries.get(j) {
                if let Some(slot) = self.entries.get_mut(i) {
                    *slot = moved;
                }
            }
            i = j;
        }
        if let Some(slot) = self.entries.get_mut(at) {
            *slot = (size, key);
        }
        self.len = end.saturating_add(1);
    }

    /// The next entry not handed out, which becomes the cursor.
    fn pop(&mut self) -> Option<(Qty, Key)> {
        if self.next >= self.len {
            return None;
        }
        let entry = self.entries.get(self.next).copied()?;
        self.next = self.next.saturating_add(1);
        self.cursor = Some(entry.1);
        Some(entry)
    }
}

/// A walk over the eligible opposite positions in the order they are
/// taken, `(size, key)` each, evaluated by the walk's caller: pro rata by
/// id, ranked by key.
struct Walk {
    ranking: AdlRanking,
    /// Pro rata: the next id to look at.
    next_id: usize,
    /// Ranked: what the last pass kept.
    ahead: Ahead,
}

impl Walk {
    fn new(ranking: AdlRanking) -> Self {
        Self {
            ranking,
            next_id: 0,
            ahead: Ahead::new(),
        }
    }

    /// The next eligible account (`eval` says which are, and their size
    /// and key) other than `skip`, among `accounts`. Pro rata continues
    /// from the last one found; ranked hands out what its last pass kept
    /// and passes again over every account when that is spent.
    fn next(
        &mut self,
        accounts: usize,
        skip: usize,
        eval: &mut dyn FnMut(usize) -> Result<Option<(Qty, Key)>, ArithError>,
    ) -> Result<Option<(Qty, Key)>, ArithError> {
        let ahead = &mut self.ahead;
        match self.ranking {
            AdlRanking::ProRata => {
                while self.next_id < accounts {
                    let id = self.next_id;
                    self.next_id = id.saturating_add(1);
                    if id == skip {
                        continue;
                    }
                    if let Some(found) = eval(id)? {
                        return Ok(Some(found));
                    }
                }
                Ok(None)
            }
            AdlRanking::Ranked => {
                if let Some(found) = ahead.pop() {
                    return Ok(Some(found));
                }
                if ahead.last {
                    return Ok(None);
                }
                (ahead.len, ahead.next) = (0, 0);
                for id in (0..accounts).filter(|&id| id != skip) {
                    if let Some((size, key)) = eval(id)? {
                        ahead.offer(size, key);
                    }
                }
                ahead.last = ahead.len < AHEAD;
                Ok(ahead.pop())
            }
        }
    }
}

impl<const A: usize> Engine<'_, A> {
    /// Unweighted equity at the oracle, and the maintenance margin (equity
    /// less maintenance health).
    fn equity_and_margin(&self, bal: &Balances<A>) -> Result<(Value, Value), ArithError> {
        let mut equity = Value::ZERO;
        for (i, m) in self.state.markets.iter().enumerate() {
            let b = account::effective(bal.get(i).copied().unwrap_or(Qty::ZERO), m.deposit_index)?;
            let round = if b.is_negative() {
                Round::Up
            } else {
                Round::Down
            };
            equity = equity.add(b.value_at(m.oracle, round)?)?;
        }
        let maint = self.maint_health(bal)?.net()?;
        Ok((equity, equity.sub(maint)?))
    }

    /// Hands the whole account to the backstop vault if its equity is below
    /// the vault's share of its maintenance margin. Returns whether it did.
    pub(super) fn try_backstop(
        &mut self,
        id: u32,
        bal: &mut Balances<A>,
        sink: &mut dyn EventSink,
    ) -> Result<bool, StepFault> {
        let Some(backstop) = self.containment.backstop else {
            return Ok(false);
        };
        if self.blocked_assets() & self.exposure(bal) != 0 {
            return Ok(false);
        }
        let (equity, margin) = self.equity_and_margin(bal)?;
        if equity >= margin.scale(backstop.below, Round::Down)? {
            return Ok(false);
        }
        // What the vault takes on, valued as `equity_and_margin` values it,
        // so that assets − liabilities is the equity exactly.
        let (mut assets, mut liabilities) = (Value::ZERO, Value::ZERO);
        for asset in 0..self.state.markets.len() {
            let stored = bal.get(asset).copied().unwrap_or(Qty::ZERO);
            let index = self.index(asset);
            let held = account::effective(stored, index)?;
            let oracle = self.market(asset)?.oracle;
            if held.is_positive() {
                assets = assets.add(held.value_at(oracle, Round::Down)?)?;
            } else if held.is_negative() {
                liabilities = liabilities.sub(held.value_at(oracle, Round::Up)?)?;
            }
            if held.is_positive() {
                self.state
                    .ledger
                    .transfer(asset, Book::Accounts, Book::Backstop, held)?;
                if index != Ratio::ONE {
                    // The deposit's effective amount was rounded down: the
                    // part under an ulp stays in the accounts' book with
                    // nobody holding it, as a liquidation's does.
                    self.state.ledger.add_slack(asset, Fx::ONE)?;
                }
            } else if held.is_negative() {
                self.state
                    .ledger
                    .transfer(asset, Book::Backstop, Book::Accounts, held.neg()?)?;
            }
            self.store(id as usize, asset, Qty::ZERO)?;
            if let Some(b) = bal.get_mut(asset) {
                *b = Qty::ZERO;
            }
        }
        let report = &mut self.state.report;
        report.backstopped = report.backstopped.saturating_add(1);
        report.backstop_assets = report.backstop_assets.add(assets)?;
        report.backstop_liabilities = report.backstop_liabilities.add(liabilities)?;
        report.backstop_equity = report.backstop_equity.add(equity)?;
        if equity.is_negative() {
            report.backstop_negative_equity = report.backstop_negative_equity.add(equity)?;
        }
        sink.emit(&Event::BackstopTakeover {
            round: self.state.round,
            account: id,
            equity,
        });
        Ok(true)
    }

    /// The backstop vault's profit and loss now: its holdings (the
    /// `Backstop` book) at the oracle, valued as a takeover values an
    /// account, less the equity it took on.
    pub(super) fn backstop_pnl(&self) -> Result<Value, ArithError> {
        let mut holdings = Value::ZERO;
        for (asset, m) in self.state.markets.iter().enumerate() {
            let held = self.state.ledger.balance(asset, Book::Backstop);
            let round = if held.is_negative() {
                Round::Up
            } else {
                Round::Down
            };
            holdings = holdings.add(held.value_at(m.oracle, round)?)?;
        }
        holdings.sub(self.state.report.backstop_equity)
    }

    fn index(&self, asset: usize) -> Ratio {
        self.state
            .markets
            .get(asset)
            .map_or(Ratio::ONE, |m| m.deposit_index)
    }

    /// Bit `i` set for every asset the row holds or owes.
    fn exposure(&self, bal: &Balances<A>) -> u32 {
        bal.iter()
            .take(self.state.markets.len().min(32))
            .enumerate()
            .filter(|(_, b)| **b != Qty::ZERO)
            .fold(0, |mask, (i, _)| mask | (1 << i))
    }

    /// The single risky position of an underwater account the insurance
    /// fund cannot make whole, if auto-deleveraging applies to it.
    fn bankrupt_position(&self, bal: &Balances<A>) -> Result<Option<Position>, ArithError> {
        let exposure = self.exposure(bal) & !1;
        if exposure.count_ones() != 1 || self.blocked_assets() & exposure != 0 {
            return Ok(None);
        }
        let asset = exposure.trailing_zeros() as usize;
        let risky = bal.get(asset).copied().unwrap_or(Qty::ZERO);
        let quote = account::effective(bal.first().copied().unwrap_or(Qty::ZERO), self.index(0))?;
        if risky.is_positive() == quote.is_positive() || quote == Qty::ZERO {
            return Ok(None);
        }
        let (equity, _) = self.equity_and_margin(bal)?;
        let shortfall = equity.neg()?;
        if !equity.is_negative() || self.state.insurance >= shortfall {
            return Ok(None);
        }
        let risky = account::effective(risky, self.index(asset))?;
        Ok(Some(Position {
            asset,
            risky,
            quote,
        }))
    }

    /// A counterparty's opposite position and its rank key, if eligible:
    /// it holds the other side of `p.asset` and has positive equity.
    fn counterparty(&self, id: usize, p: &Position) -> Result<Option<(Qty, Key)>, ArithError> {
        let row = self.load(id);
        let held = account::effective(
            row.get(p.asset).copied().unwrap_or(Qty::ZERO),
            self.index(p.asset),
        )?;
        if held == Qty::ZERO || held.is_positive() == p.risky.is_positive() {
            return Ok(None);
        }
        let (equity, _) = self.equity_and_margin(&row)?;
        if !equity.is_positive() {
            return Ok(None);
        }
        let size = held.abs()?;
        // (mark / entry) is the same for every holder: rank by leverage.
        let score = num::div(size.0, equity.0, Round::Down)?;
        Ok(Some((size, (score, u32::try_from(id).unwrap_or(u32::MAX)))))
    }

    /// The slice of the counterparty `(size, key)`, for `left` units still
    /// to close out of `total` opposite units (pro rata).
    fn slice(
        &self,
        p: &Position,
        ranking: AdlRanking,
        (size, key): (Qty, Key),
        (left, total): (Qty, Qty),
    ) -> Result<Slice, ArithError> {
        let whole = p.risky.abs()?;
        let qty = match ranking {
            AdlRanking::Ranked => size.min(left),
            AdlRanking::ProRata if total <= whole => size,
            AdlRanking::ProRata => Qty(num::mul_div(whole.0, size.0, total.0, Round::Down)?),
        }
        .min(left);
        let quote = Value(num::mul_div(qty.0, p.quote.abs()?.0, whole.0, Round::Down)?);
        Ok(Slice {
            counterparty: key.1,
            qty,
            quote,
        })
    }

    /// Σ of the opposite positions (pro rata needs it before any slice).
    fn opposite_total(&self, bankrupt: u32, p: &Position) -> Result<Qty, ArithError> {
        let mut total = Qty::ZERO;
        for id in (0..self.accounts).filter(|&id| id != bankrupt as usize) {
            if let Some((size, _)) = self.counterparty(id, p)? {
                total = total.add(size)?;
            }
        }
        Ok(total)
    }

    /// Closes what it can of an underwater account's position against
    /// opposite positions at its bankruptcy price. Returns whether it did.
    pub(super) fn try_deleverage(
        &mut self,
        id: u32,
        bal: &mut Balances<A>,
        sink: &mut UnitSink<'_, A>,
    ) -> Result<bool, StepFault> {
        let Some(ranking) = self.containment.deleveraging else {
            return Ok(false);
        };
        let Some(p) = self.bankrupt_position(bal)? else {
            return Ok(false);
        };
        let total = match ranking {
            AdlRanking::ProRata => self.opposite_total(id, &p)?,
            AdlRanking::Ranked => Qty::ZERO,
        };
        // Plan: every slice and every new balance, nothing written. The
        // first slices are kept for the commit.
        let mut planned = *bal;
        let mut planned_health = self.maint_health(&planned)?.net()?;
        let mut kept = [None::<Slice>; AHEAD];
        let (mut left, mut walk, mut slices) = (p.risky.abs()?, Walk::new(ranking), 0usize);
        while left.is_positive() && slices < self.accounts {
            let Some(found) = walk.next(self.accounts, id as usize, &mut |c| {
                self.counterparty(c, &p)
            })?
            else {
                break;
            };
            let slice = self.slice(&p, ranking, found, (left, total))?;
            // A slice too small to beat rounding (its quote rounds to
            // nothing) would lower the account's health: it and the rest
            // of the position are left to the waterfall.
            let mut next = planned;
            self.slice_balances(&p, &slice, &mut next)?;
            let next_health = self.maint_health(&next)?.net()?;
            if next_health < planned_health {
                break;
            }
            (planned, planned_health) = (next, next_health);
            left = left.sub(slice.qty)?;
            if let Some(slot) = kept.get_mut(slices) {
                *slot = Some(slice);
            }
            slices = slices.saturating_add(1);
        }
        if slices == 0 {
            return Ok(false);
        }
        // Commit: the same slices again, written. The order cannot change
        // between the passes: a slice either closes its counterparty's
        // whole position (which leaves the walk) or is the last, and a
        // walk never comes back to an account it has passed. A plan of at
        // most `AHEAD` slices is replayed as kept; a longer one is walked
        // again.
        if slices <= AHEAD {
            for slice in kept.iter().flatten() {
                self.commit_slice(id, &p, slice, bal, sink)?;
            }
            return Ok(true);
        }
        let mut left = p.risky.abs()?;
        walk = Walk::new(ranking);
        for _ in 0..slices {
            let Some(found) = walk.next(self.accounts, id as usize, &mut |c| {
                self.counterparty(c, &p)
            })?
            else {
                break;
            };
            let slice = self.slice(&p, ranking, found, (left, total))?;
            self.commit_slice(id, &p, &slice, bal, sink)?;
            left = left.sub(slice.qty)?;
        }
        Ok(true)
    }

    /// The bankrupt row after `slice` (for planning).
    fn slice_balances(
        &self,
        p: &Position,
        slice: &Slice,
        bankrupt: &mut Balances<A>,
    ) -> Result<(), ArithError> {
        let counterparty = self.load(slice.counterparty as usize);
        let (ours, _) = self.moved(p, slice, bankrupt, &counterparty)?;
        *bankrupt = ours;
        Ok(())
    }

    /// Both rows after `slice`: the risky units move toward the short side,
    /// the quote the other way.
    fn moved(
        &self,
        p: &Position,
        slice: &Slice,
        bankrupt: &Balances<A>,
        counterparty: &Balances<A>,
    ) -> Result<(Balances<A>, Balances<A>), ArithError> {
        let (a, ia, iq) = (p.asset, self.index(p.asset), self.index(0));
        let (mut ours, mut theirs) = (*bankrupt, *counterparty);
        let get = |row: &Balances<A>, i: usize| row.get(i).copied().unwrap_or(Qty::ZERO);
        let quote = slice.quote.as_quote_qty();
        let (new_ours_a, new_theirs_a, new_ours_q, new_theirs_q) = if p.risky.is_negative() {
            // A bankrupt short receives the asset and pays quote.
            (
                account::credit(get(&ours, a), slice.qty, ia)?,
                account::debit(get(&theirs, a), slice.qty, ia)?,
                account::debit(get(&ours, 0), quote, iq)?,
                account::credit(get(&theirs, 0), quote, iq)?,
            )
        } else {
            // A bankrupt long gives the asset up and receives quote.
            (
                account::debit(get(&ours, a), slice.qty, ia)?,
                account::credit(get(&theirs, a), slice.qty, ia)?,
                account::credit(get(&ours, 0), quote, iq)?,
                account::debit(get(&theirs, 0), quote, iq)?,
            )
        };
        let set = |row: &mut Balances<A>, i: usize, v: Qty| {
            if let Some(slot) = row.get_mut(i) {
                *slot = v;
            }
        };
        set(&mut ours, a, new_ours_a);
        set(&mut theirs, a, new_theirs_a);
        set(&mut ours, 0, new_ours_q);
        set(&mut theirs, 0, new_theirs_q);
        Ok((ours, theirs))
    }

    fn commit_slice(
        &mut self,
        id: u32,
        p: &Position,
        slice: &Slice,
        bal: &mut Balances<A>,
        sink: &mut UnitSink<'_, A>,
    ) -> Result<(), StepFault> {
        self.journal(sink, slice.counterparty)?;
        let other = slice.counterparty as usize;
        let counterparty = self.load(other);
        let (ours, theirs) = self.moved(p, slice, bal, &counterparty)?;
        for asset in [0, p.asset] {
            let get = |row: &Balances<A>| row.get(asset).copied().unwrap_or(Qty::ZERO);
            self.store(id as usize, asset, get(&ours))?;
            self.store(other, asset, get(&theirs))?;
            if self.index(asset) != Ratio::ONE {
                // Shares round in the protocol's favour on both sides.
                self.state.ledger.add_slack(asset, Fx::from_num(4))?;
            }
        }
        *bal = ours;
        let price = self.market(p.asset)?.oracle;
        let r = &mut self.state.report;
        r.deleveraged = r.deleveraged.add(slice.qty.value_at(price, Round::Down)?)?;
        sink.emit(&Event::Deleveraged {
            round: self.state.round,
            account: id,
            counterparty: slice.counterparty,
            asset: u8::try_from(p.asset).unwrap_or(u8::MAX),
            qty: slice.qty,
            quote: slice.quote,
        });
        // Both rows are written and the books balance: keep the slice.
        self.savepoint(sink);
        Ok(())
    }
}

/// Which side a bankrupt account's remaining loss falls on.
#[derive(Clone, Copy)]
pub(super) struct LossSide {
    /// The risky asset of the bankrupt account's position.
    pub position: usize,
    /// True if the bankrupt account was long it (its loss is in the quote,
    /// taken from the shorts); false if short (its loss is in the asset,
    /// taken from the longs).
    pub bankrupt_long: bool,
}

impl LossSide {
    /// The asset the loss is counted in.
    fn loss_asset(self) -> usize {
        if self.bankrupt_long {
            0
        } else {
            self.position
        }
    }
}

impl<const A: usize> Engine<'_, A> {
    /// The side that takes a remaining loss in `asset` when deleveraging is
    /// on: `exposure` is the risky asset the account held (its last seized
    /// collateral), needed when the debt is in the quote.
    pub(super) fn loss_side(&self, asset: usize, exposure: Option<usize>) -> Option<LossSide> {
        self.containment.deleveraging?;
        if asset == 0 {
            exposure.filter(|&x| x != 0).map(|position| LossSide {
                position,
                bankrupt_long: true,
            })
        } else {
            Some(LossSide {
                position: asset,
                bankrupt_long: false,
            })
        }
    }

    /// How much of a loss account `id` can take, in the loss asset, and its
    /// rank key; `None` unless it holds the opposite side with equity.
    fn loss_capacity(&self, id: usize, side: LossSide) -> Result<Option<(Qty, Key)>, ArithError> {
        let row = self.load(id);
        let held = account::effective(
            row.get(side.position).copied().unwrap_or(Qty::ZERO),
            self.index(side.position),
        )?;
        let opposite = if side.bankrupt_long {
            held.is_negative()
        } else {
            held.is_positive()
        };
        if !opposite {
            return Ok(None);
        }
        let (equity, _) = self.equity_and_margin(&row)?;
        if !equity.is_positive() {
            return Ok(None);
        }
        let loss_asset = side.loss_asset();
        let own = account::effective(
            row.get(loss_asset).copied().unwrap_or(Qty::ZERO),
            self.index(loss_asset),
        )?;
        // It gives up at most its equity, and only from what it holds.
        let by_equity = equity.qty_at(self.market(loss_asset)?.oracle, Round::Down)?;
        let capacity = by_equity.min(own.max(Qty::ZERO));
        if !capacity.is_positive() {
            return Ok(None);
        }
        let score = num::div(held.abs()?.0, equity.0, Round::Down)?;
        Ok(Some((
            capacity,
            (score, u32::try_from(id).unwrap_or(u32::MAX)),
        )))
    }

    /// Takes up to `loss` (in the loss asset) from the opposite side,
    /// ranked or pro rata, each account at most its capacity, and returns
    /// what was taken. Every step only lowers a positive balance, so none
    /// can overflow.
    pub(super) fn deleverage_loss(
        &mut self,
        bankrupt: u32,
        side: LossSide,
        loss: Qty,
        sink: &mut UnitSink<'_, A>,
    ) -> Result<Qty, StepFault> {
        let Some(ranking) = self.containment.deleveraging else {
            return Ok(Qty::ZERO);
        };
        let others = (0..self.accounts).filter(|&id| id != bankrupt as usize);
        let mut total = Qty::ZERO;
        if ranking == AdlRanking::ProRata {
            for id in others.clone() {
                if let Some((capacity, _)) = self.loss_capacity(id, side)? {
                    total = total.add(capacity)?;
                }
            }
        }
        let mut left = loss;
        match ranking {
            AdlRanking::ProRata => {
                for id in others {
                    if !left.is_positive() {
                        break;
                    }
                    let Some((capacity, _)) = self.loss_capacity(id, side)? else {
                        continue;
                    };
                    let share = if total <= loss {
                        capacity
                    } else {
                        Qty(num::mul_div(loss.0, capacity.0, total.0, Round::Up)?)
                    };
                    left =
                        left.sub(self.take_loss(id, side, share.min(left).min(capacity), sink)?)?;
                }
            }
            AdlRanking::Ranked => {
                // Only the account just taken from changes: every other
                // key stays where the walk found it. One taken from is
                // left without capacity, except by a rounding residue; if
                // one is not, the walk starts again, to rank it anew
                // against the rest.
                let mut walk = Walk::new(ranking);
                let most = self.accounts;
                for take in 0..most {
                    if !left.is_positive() {
                        break;
                    }
                    let Some((capacity, key)) =
                        walk.next(self.accounts, bankrupt as usize, &mut |id| {
                            self.loss_capacity(id, side)
                        })?
                    else {
                        break;
                    };
                    let id = key.1 as usize;
                    left = left.sub(self.take_loss(id, side, capacity.min(left), sink)?)?;
                    if left.is_positive()
                        && take.saturating_add(1) < most
                        && self.loss_capacity(id, side)?.is_some()
                    {
                        walk = Walk::new(ranking);
                    }
                }
            }
        }
        loss.sub(left).map_err(StepFault::from)
    }

    /// Lowers account `id`'s loss-asset balance by `amount` into the
    /// bad-debt book.
    fn take_loss(
        &mut self,
        id: usize,
        side: LossSide,
        amount: Qty,
        sink: &mut UnitSink<'_, A>,
    ) -> Result<Qty, StepFault> {
        self.journal(sink, u32::try_from(id).map_err(|_| ArithError::Overflow)?)?;
        let asset = side.loss_asset();
        let index = self.index(asset);
        let stored = self.load(id).get(asset).copied().unwrap_or(Qty::ZERO);
        self.store(id, asset, account::debit(stored, amount, index)?)?;
        self.state
            .ledger
            .transfer(asset, Book::Accounts, Book::BadDebt, amount)?;
        if index != Ratio::ONE {
            self.state.ledger.add_slack(asset, Fx::from_num(2))?;
        }
        if let Some(r) = self.state.report.per_asset.get_mut(asset) {
            r.unrecovered = r.unrecovered.sub(amount)?;
        }
        // The row and the books agree: keep the take.
        self.savepoint(sink);
        Ok(amount)
    }
}

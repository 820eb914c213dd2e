//! Pro-rata auto-deleveraging in time independent of the accounts: a loss
//! goes to the opposite side of the market through an index per side, as
//! socialized loss goes to lenders through the deposit index.
//!
//! Per risky asset (a [`Side`]):
//! - the **longs** are its depositors: their holding is already shares of
//!   the deposit index, and the quote they receive is a per-share
//!   accumulator, [`Side::credited`];
//! - the **shorts** are its debtors: a short's debt is debt shares of the
//!   side's [`Side::debt_index`], and the quote they pay a per-share
//!   accumulator, [`Side::charged`].
//!
//! An account keeps a [`Snap`] per risky asset: its debt shares and the
//! accumulator it was last settled at. A row is **settled** (its stored
//! debts brought to their shares at the index, the quote it received or
//! paid since its snapshot added to its quote) whenever the engine values
//! or liquidates it, so the liquidation unit still reads base units. An
//! event writes one `Side`, never the counterparties' rows: O(1).
//!
//! Every rounding is in the protocol's favour: a debt at the index and a
//! charge round up, a credit rounds down; a close lowers the shorts' debts
//! by at most what the bankrupt gives up, and takes from the longs at least
//! what it receives. What the roundings
//! leave in the accounts' book with no holder is bounded per asset by
//! [`Side::slack`], which the audit allows.

use super::{Engine, Event, EventSink, Termination};
use crate::ledger::Book;
use crate::liquidate::Written;
use crate::num::{div_round, ArithError, ArithResult, Index, Qty, Round, Value, INDEX_SCALE};

/// How auto-deleveraging picks the opposite positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Deleveraging {
    /// Every opposite position in proportion to its size.
    ProRata,
    /// The most leveraged opposite positions first, each whole but the
    /// last ([`super::ranked`]).
    Ranked,
}

/// Fraction bits of the quote accumulators: quote base units per share,
/// times 2^64, so that a step of less than a quote unit over 10^18 shares
/// (an 18-decimal token's) still counts. An account accrues at most what
/// an `i64` balance holds, so its accrual times 2^64 stays in an `i128`.
pub const ACC_BITS: u32 = 64;
/// The lowest debt index: shorts keep a billionth of each debt share's
/// debt, so that a share never becomes worthless and new debt never takes
/// unbounded shares.
pub const MIN_DEBT_INDEX: Index = Index(1_000_000_000);

/// One risky asset's two sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Side {
    /// A short's debt is `⌈shares × index⌉`: lowered when shorts take over a
    /// bankrupt long's position.
    pub debt_index: Index,
    /// Σ of the shorts' debt shares.
    pub debt_shares: i128,
    /// Accounts with debt shares (each settlement rounds one of them).
    pub shorts: u32,
    /// Quote a debt share has paid, times 2^[`ACC_BITS`].
    pub charged: i128,
    /// Quote a deposit share has received, times 2^[`ACC_BITS`].
    pub credited: i128,
    /// The relative health a charge can have taken from a short since the
    /// round began, Q32.32 (the watch's drift grows by it).
    pub charge_drift: u64,
    /// Base units of this asset the deleveraging's roundings have left in
    /// the accounts' book with no holder, at most.
    pub slack: i128,
}

impl Default for Side {
    fn default() -> Self {
        Self {
            debt_index: Index::ONE,
            debt_shares: 0,
            shorts: 0,
            charged: 0,
            credited: 0,
            charge_drift: 0,
            slack: 0,
        }
    }
}

/// An account's place on one risky asset's sides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Snap {
    /// Its debt shares (zero unless it owes the asset).
    pub debt_shares: Qty,
    /// The accumulator of its side when it was last settled.
    pub paid: i128,
}

/// `⌈shares × index⌉`, a short's debt.
pub fn owed(shares: Qty, index: Index) -> ArithResult<Qty> {
    if index == Index::ONE {
        return Ok(shares);
    }
    let n = i128::from(shares.0).wrapping_mul(i128::from(index.0));
    let q = div_round(n, u128::from(INDEX_SCALE), Round::Up)?;
    i64::try_from(q).map(Qty).map_err(|_| ArithError::Overflow)
}

/// `amount` of quote per share over `shares`, the accumulator's step,
/// rounded as asked.
pub fn per_share(amount: i128, shares: i128, round: Round) -> ArithResult<i128> {
    let scaled = amount.checked_shl(ACC_BITS).ok_or(ArithError::Overflow)?;
    if amount.unsigned_abs() >> (127 - ACC_BITS) != 0 {
        return Err(ArithError::Overflow);
    }
    div_round(
        scaled,
        u128::try_from(shares).map_err(|_| ArithError::Domain)?,
        round,
    )
}

/// `shares × step / 2^ACC_BITS`, rounded as asked: what an account's
/// shares received or paid since its snapshot.
fn accrued(shares: i64, step: i128, round: Round) -> ArithResult<i128> {
    let n = step
        .checked_mul(i128::from(shares))
        .ok_or(ArithError::Overflow)?;
    // Accumulators only grow: a shift, where a 128-bit division would be a
    // call.
    if n >= 0 {
        let bias = match round {
            Round::Up => (1i128 << ACC_BITS).wrapping_sub(1),
            Round::Down => 0,
        };
        return Ok(n.checked_add(bias).ok_or(ArithError::Overflow)? >> ACC_BITS);
    }
    div_round(n, 1u128 << ACC_BITS, round)
}

/// Brings `row` up to date with `sides` (one per asset, the quote's
/// unused) from its `snaps` (one per risky asset): each debt to its
/// shares at the debt index, and the quote its deposits received and its
/// debts paid since the snapshot added to its quote balance (at the
/// quote's deposit `index`). Returns how many accruals it rounded (each
/// by under a quote unit, against the account). Writes nothing on an error.
pub fn settle(
    row: &mut [Qty],
    snaps: &mut [Snap],
    sides: &[Side],
    quote_index: Index,
) -> ArithResult<u32> {
    let mut quote = 0i128;
    let mut roundings = 0u32;
    for ((&b, snap), side) in row
        .iter()
        .skip(1)
        .zip(snaps.iter())
        .zip(sides.iter().skip(1))
    {
        let step = match b.is_negative() {
            true => side.charged.wrapping_sub(snap.paid),
            false => side.credited.wrapping_sub(snap.paid),
        };
        if b.0 == 0 || step == 0 {
            continue;
        }
        roundings = roundings.saturating_add(1);
        quote = match b.is_negative() {
            true => quote.wrapping_sub(accrued(snap.debt_shares.0, step, Round::Up)?),
            false => quote.wrapping_add(accrued(b.0, step, Round::Down)?),
        };
    }
    let mut new_debts = [Qty::ZERO; super::ASSET_LIMIT];
    for (((&b, snap), side), slot) in row
        .iter()
        .skip(1)
        .zip(snaps.iter())
        .zip(sides.iter().skip(1))
        .zip(new_debts.iter_mut())
    {
        *slot = match b.is_negative() {
            true => owed(snap.debt_shares, side.debt_index)?.neg()?,
            false => b,
        };
    }
    let first = row.first().copied().unwrap_or(Qty::ZERO);
    let amount = Qty(i64::try_from(quote.unsigned_abs()).map_err(|_| ArithError::Overflow)?);
    let new_quote = match quote {
        0 => first,
        q if q > 0 => crate::account::credit(first, amount, quote_index)?,
        _ => crate::account::debit(first, amount, quote_index)?,
    };
    // Nothing can fail past here.
    for ((b, snap), side) in row
        .iter_mut()
        .skip(1)
        .zip(snaps.iter_mut())
        .zip(sides.iter().skip(1))
    {
        if b.is_negative() {
            snap.paid = side.charged;
        } else if b.is_positive() {
            snap.paid = side.credited;
        }
    }
    for (b, &new) in row.iter_mut().skip(1).zip(new_debts.iter()) {
        *b = new;
    }
    if let Some(q) = row.first_mut() {
        *q = new_quote;
    }
    Ok(roundings)
}

/// Copies `src` over the start of `dst` (as `copy_from_slice`, without
/// its panic on a length it cannot prove).
fn copy_into<T: Copy>(dst: Option<&mut [T]>, src: &[T]) {
    for (slot, &x) in dst.unwrap_or(&mut []).iter_mut().zip(src) {
        *slot = x;
    }
}

/// Whether `row` is settled already: every deposit at its side's credit,
/// every debt at its side's charge and its shares at the debt index. Most
/// rows valued are (nothing moved their sides since), and this reads them
/// without copying.
fn settled(row: &[Qty], snaps: &[Snap], sides: &[Side]) -> bool {
    let risky = row.iter().skip(1).zip(snaps).zip(sides.iter().skip(1));
    risky.fold(true, |all, ((&b, snap), side)| {
        all && match b.0 {
            0 => true,
            x if x > 0 => snap.paid == side.credited,
            _ => {
                snap.paid == side.charged
                    && (side.debt_index == Index::ONE
                        && snap.debt_shares == Qty(b.0.wrapping_neg())
                        || owed(snap.debt_shares, side.debt_index).ok()
                            == Some(Qty(b.0.wrapping_neg())))
            }
        }
    })
}

/// After a settled row was written to `row`, brings its snapshots and
/// its sides' totals to the new balances ([`fresh_snap`]). Writes nothing
/// on an error: a first pass computes every snapshot, the second writes.
pub fn resnap(row: &[Qty], snaps: &mut [Snap], sides: &mut [Side]) -> ArithResult<()> {
    let risky = row.iter().skip(1).zip(snaps.iter());
    for ((&b, snap), side) in risky.zip(sides.iter().skip(1)) {
        fresh_snap(b, snap, side)?;
    }
    let risky = row.iter().skip(1).zip(snaps.iter_mut());
    for ((&b, snap), side) in risky.zip(sides.iter_mut().skip(1)) {
        let new = fresh_snap(b, snap, side).unwrap_or(*snap);
        if snap.debt_shares.is_positive() {
            side.shorts = side.shorts.saturating_sub(1);
        }
        if new.debt_shares.is_positive() {
            side.shorts = side.shorts.saturating_add(1);
        }
        side.debt_shares = side
            .debt_shares
            .wrapping_sub(i128::from(snap.debt_shares.0))
            .wrapping_add(i128::from(new.debt_shares.0));
        *snap = new;
    }
    Ok(())
}

/// The snapshot of a settled balance `b` that was `snap`: a debt still its
/// shares at the index keeps them; one that moved takes new shares (over
/// the index, rounded up) and the side's current charge; a deposit the
/// current credit (a settled one had it already).
fn fresh_snap(b: Qty, snap: &Snap, side: &Side) -> ArithResult<Snap> {
    if !b.is_negative() {
        return Ok(Snap {
            debt_shares: Qty::ZERO,
            paid: if b.is_positive() { side.credited } else { 0 },
        });
    }
    if snap.debt_shares.is_positive() && owed(snap.debt_shares, side.debt_index)? == b.neg()? {
        return Ok(*snap);
    }
    Ok(Snap {
        debt_shares: b.neg()?.shares(side.debt_index, Round::Up)?,
        paid: side.charged,
    })
}

/// `⌊x × index⌋` or `⌈…⌉` for `x >= 0` up to 2^127, without the product's
/// overflow: split at the index's scale.
fn times_index(x: i128, index: Index, round: Round) -> ArithResult<i128> {
    let scale = i128::from(INDEX_SCALE);
    let (whole, part) = (
        x.checked_div(scale).unwrap_or(0),
        x.checked_rem(scale).unwrap_or(0),
    );
    let i = i128::from(index.0);
    let high = whole.checked_mul(i).ok_or(ArithError::Overflow)?;
    let low = div_round(part.wrapping_mul(i), u128::from(INDEX_SCALE), round)?;
    high.checked_add(low).ok_or(ArithError::Overflow)
}

/// The one risky position of a bankrupt row, with the quote on its other
/// side (effective units, both positive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) asset: usize,
    /// Long the asset (holding it, owing quote), else short.
    pub(super) long: bool,
    /// Units of the asset held or owed.
    pub(super) size: Qty,
    /// Quote owed or held.
    pub(super) quote: Qty,
}

impl Position {
    /// The quote `size` of the position is worth at its bankruptcy price,
    /// `size × quote / position`, rounded down.
    pub(super) fn quote_for(&self, size: Qty) -> ArithResult<Value> {
        let (part, whole) = (size.0.unsigned_abs(), self.size.0.unsigned_abs());
        crate::num::mul_div(part, self.quote.0.unsigned_abs(), whole, false).map(Value)
    }
}

impl<const A: usize, const N: usize> Engine<'_, A, N> {
    /// Account `id`'s snapshots.
    fn snap_range(&self, id: u32) -> core::ops::Range<usize> {
        let per = self.markets.len().saturating_sub(1);
        let start = (id as usize).saturating_mul(per);
        start..start.saturating_add(per)
    }

    /// Settles account `id`'s row with the sides ([`settle`]), on copies
    /// first: nothing is written unless all of it succeeds.
    pub(super) fn settle_row(&mut self, id: u32) -> Result<(), Termination> {
        let fault = Termination::Fault(ArithError::Domain);
        let (range, snap_range) = (self.row_range(id as usize), self.snap_range(id));
        let stored = self.balances.get(range.clone()).ok_or(fault)?;
        let kept = self.snaps.get(snap_range.clone()).ok_or(fault)?;
        if settled(stored, kept, &self.sides) {
            return Ok(());
        }
        let mut row: heapless::Vec<Qty, A> =
            heapless::Vec::from_slice(stored).map_err(|_| fault)?;
        let mut snaps: heapless::Vec<Snap, A> =
            heapless::Vec::from_slice(kept).map_err(|_| fault)?;
        let quote = self.markets.first().ok_or(fault)?;
        let roundings = settle(&mut row, &mut snaps, &self.sides, quote.state.index)
            .map_err(Termination::Fault)?;
        let (old, new) = (
            stored.first().copied().unwrap_or(Qty::ZERO),
            row.first().copied().unwrap_or(Qty::ZERO),
        );
        let shares = self
            .deposit_shares_after(0, old, new)
            .map_err(Termination::Fault)?;
        // Nothing can fail past here.
        copy_into(self.balances.get_mut(range), &row);
        copy_into(self.snaps.get_mut(snap_range), &snaps);
        if let Some(q) = self.markets.first_mut() {
            q.state.deposit_shares = shares;
        }
        // Each accrual rounded by under a unit, against the account.
        self.add_quote_slack(i128::from(roundings));
        Ok(())
    }

    /// After account `id`'s settled row was written, its snapshots and the
    /// sides' totals ([`resnap`]).
    pub(super) fn resnap_row(&mut self, id: u32) -> Result<(), Termination> {
        let (range, snaps) = (self.row_range(id as usize), self.snap_range(id));
        let fault = Termination::Fault(ArithError::Domain);
        let row = self.balances.get(range).ok_or(fault)?;
        let snaps = self.snaps.get_mut(snaps).ok_or(fault)?;
        resnap(row, snaps, &mut self.sides).map_err(Termination::Fault)
    }

    /// The bankrupt position of a settled row, if auto-deleveraging takes
    /// it: one risky position with the quote on the other side, underwater
    /// at the oracle by more than the insurance fund holds.
    pub(super) fn position(&self, row: &[Qty]) -> ArithResult<Option<Position>> {
        let mut held = row.iter().enumerate().skip(1).filter(|(_, b)| b.0 != 0);
        let (Some((asset, &risky)), None) = (held.next(), held.next()) else {
            return Ok(None);
        };
        let quote = row.first().copied().unwrap_or(Qty::ZERO);
        if quote.0 == 0 || risky.is_positive() == quote.is_positive() {
            return Ok(None);
        }
        let (Some(m), Some(q)) = (self.markets.get(asset), self.markets.first()) else {
            return Ok(None);
        };
        let (long, size, cash) = match risky.is_positive() {
            true => (true, risky.held(m.state.index)?, quote),
            false => (false, risky, quote.held(q.state.index)?),
        };
        // A holding's worth rounds down, a debt's up: equity is not
        // overstated.
        let equity = size.value(m.oracle, Round::Down)?.add(Value(cash.0))?;
        if !equity.is_negative() || self.insurance >= equity.neg()? {
            return Ok(None);
        }
        Ok(Some(Position {
            asset,
            long,
            size: Qty(size.0.checked_abs().ok_or(ArithError::Overflow)?),
            quote: Qty(cash.0.checked_abs().ok_or(ArithError::Overflow)?),
        }))
    }

    /// Closes what the opposite side can take of account `id`'s bankrupt
    /// position at its bankruptcy price (its row settled). Returns whether
    /// it did; writes nothing if not.
    pub(super) fn close_bankrupt(
        &mut self,
        id: u32,
        sink: &mut impl EventSink,
    ) -> Result<bool, Termination> {
        let fault = Termination::Fault;
        let range = self.row_range(id as usize);
        let row = self
            .balances
            .get(range.clone())
            .ok_or(fault(ArithError::Domain))?;
        let Some(p) = self.position(row).map_err(fault)? else {
            return Ok(false);
        };
        let mut before = [Qty::ZERO; super::ASSET_LIMIT];
        let n = row.len();
        for (slot, &b) in before.iter_mut().zip(row) {
            *slot = b;
        }
        let before = before.get(..n).ok_or(fault(ArithError::Domain))?;
        let closed = match p.long {
            true => self.close_long(id, &p, before),
            false => self.close_short(id, &p, before),
        }
        .map_err(fault)?;
        let Some((size, quote)) = closed else {
            return Ok(false);
        };
        self.resnap_row(id)?;
        self.refresh_terms(p.asset)?;
        self.report.deleveraged = self.report.deleveraged.saturating_add(1);
        sink.emit(&Event::Deleveraged {
            round: self.round,
            account: id,
            asset: u8::try_from(p.asset).unwrap_or(u8::MAX),
            long: p.long,
            size,
            quote,
            counterparty: None,
        });
        Ok(true)
    }

    /// A bankrupt long hands `size` of its asset to the shorts, who pay its
    /// quote debt in proportion: the debt index falls, the charge rises.
    fn close_long(
        &mut self,
        id: u32,
        p: &Position,
        before: &[Qty],
    ) -> ArithResult<Option<(Qty, Value)>> {
        let side = self.sides.get(p.asset).copied().ok_or(ArithError::Domain)?;
        let shares = side.debt_shares;
        if shares <= 0 {
            return Ok(None);
        }
        let shorts = i128::from(side.shorts);
        let opposite = times_index(shares, side.debt_index, Round::Down)?;
        let kept = times_index(shares, MIN_DEBT_INDEX, Round::Up)?;
        let room = opposite.saturating_sub(kept).saturating_sub(shorts);
        let size = i128::from(p.size.0).min(room);
        // Each short's debt rounds up, so the index falls by what takes
        // at most `size` from them all.
        let cut = div_round(
            size.saturating_sub(shorts)
                .saturating_mul(i128::from(INDEX_SCALE)),
            u128::try_from(shares).map_err(|_| ArithError::Domain)?,
            Round::Down,
        )?;
        let cut = u64::try_from(cut.max(0)).map_err(|_| ArithError::Overflow)?;
        if cut == 0 {
            return Ok(None);
        }
        let size = Qty(i64::try_from(size).map_err(|_| ArithError::Overflow)?);
        let paid = p.quote_for(size)?;
        let step = per_share(i128::from(paid.0), shares, Round::Up)?;
        let charged = side.charged.checked_add(step).ok_or(ArithError::Overflow)?;
        let index = Index(side.debt_index.0.saturating_sub(cut));
        let drift = self.charge_drift(p.asset, i128::from(paid.0), shares, index);
        let (asset_index, quote_index) = (self.index_of(p.asset), self.index_of(0));
        let held = before.get(p.asset).copied().unwrap_or(Qty::ZERO);
        let new_held = crate::account::debit(held, size, asset_index)?;
        let cash = before.first().copied().unwrap_or(Qty::ZERO);
        let new_cash = crate::account::credit(cash, Qty(paid.0), quote_index)?;
        let deposits = self.deposit_shares_after(p.asset, held, new_held)?;
        let quote_deposits = self.deposit_shares_after(0, cash, new_cash)?;
        // Nothing can fail past here.
        self.write_pair(
            id,
            p.asset,
            (new_held, new_cash),
            (deposits, quote_deposits),
        );
        let slack = shorts
            .saturating_mul(2)
            .saturating_add(shares.checked_div(i128::from(INDEX_SCALE)).unwrap_or(0))
            .saturating_add(3);
        let quote_slack = (shares >> ACC_BITS)
            .saturating_add(shorts)
            .saturating_add(2);
        if let Some(s) = self.sides.get_mut(p.asset) {
            s.debt_index = index;
            s.charged = charged;
            s.charge_drift = s.charge_drift.saturating_add(drift);
            s.slack = s.slack.saturating_add(slack);
        }
        self.add_quote_slack(quote_slack);
        Ok(Some((size, paid)))
    }

    /// A bankrupt short takes `size` of its debt's asset from the longs
    /// (their deposit index falls, as a socialized loss) and pays them its
    /// quote in proportion (their credit rises).
    fn close_short(
        &mut self,
        id: u32,
        p: &Position,
        before: &[Qty],
    ) -> ArithResult<Option<(Qty, Value)>> {
        let m = self.markets.get(p.asset).ok_or(ArithError::Domain)?;
        let shares = m.state.deposit_shares;
        let Some((size, index)) = crate::liquidate::haircut(shares, m.state.index, p.size)? else {
            return Ok(None);
        };
        let paid = p.quote_for(size)?;
        let step = per_share(i128::from(paid.0), i128::from(shares.0), Round::Down)?;
        let side = self.sides.get(p.asset).copied().ok_or(ArithError::Domain)?;
        let credited = side
            .credited
            .checked_add(step)
            .ok_or(ArithError::Overflow)?;
        let quote_index = self.index_of(0);
        let owed = before.get(p.asset).copied().unwrap_or(Qty::ZERO);
        let new_owed = crate::account::credit(owed, size, index)?;
        // What the writes below lead to must not fail either: the row's new
        // snapshot and the asset's terms at the new index.
        let snap = self
            .snaps
            .get(
                self.snap_range(id)
                    .start
                    .saturating_add(p.asset)
                    .saturating_sub(1),
            )
            .copied()
            .ok_or(ArithError::Domain)?;
        fresh_snap(new_owed, &snap, &side)?;
        let risk = self.risks.get(p.asset).ok_or(ArithError::Domain)?;
        super::tiers(risk, m.oracle, index)?;
        let cash = before.first().copied().unwrap_or(Qty::ZERO);
        let new_cash = crate::account::debit(cash, Qty(paid.0), quote_index)?;
        let quote_deposits = self.deposit_shares_after(0, cash, new_cash)?;
        let deposits = self.deposit_shares_after(p.asset, owed, new_owed)?;
        // Nothing can fail past here.
        self.write_pair(
            id,
            p.asset,
            (new_owed, new_cash),
            (deposits, quote_deposits),
        );
        if let Some(m) = self.markets.get_mut(p.asset) {
            m.state.index = index;
        }
        let quote_slack = (i128::from(shares.0) >> ACC_BITS).saturating_add(2);
        // The index's floor leaves up to a unit and shares / 10^18 with no
        // holder; the bankrupt's debt re-shared at the debt index, a unit.
        let slack = i128::from(shares.0)
            .checked_div(i128::from(INDEX_SCALE))
            .unwrap_or(0)
            .saturating_add(3);
        if let Some(s) = self.sides.get_mut(p.asset) {
            s.credited = credited;
            s.slack = s.slack.saturating_add(slack);
        }
        self.add_quote_slack(quote_slack);
        Ok(Some((size, paid)))
    }

    /// Takes a bankrupt account's quote `loss` left after the insurance
    /// fund from the shorts of `asset` (the risky asset it was long), in
    /// proportion to their debt shares. Returns what was taken: all of it,
    /// or nothing if nobody is short (or the accumulator would leave its
    /// range). It cannot fail: the unit before it is written.
    pub(super) fn charge_loss(&mut self, asset: usize, loss: Qty) -> Qty {
        let Some(side) = self.sides.get(asset).copied().filter(|_| asset != 0) else {
            return Qty::ZERO;
        };
        let shares = side.debt_shares;
        if shares <= 0 || !loss.is_positive() {
            return Qty::ZERO;
        }
        let step = per_share(i128::from(loss.0), shares, Round::Up);
        let Some(charged) = step.ok().and_then(|step| side.charged.checked_add(step)) else {
            return Qty::ZERO;
        };
        let drift = self.charge_drift(asset, i128::from(loss.0), shares, side.debt_index);
        if let Some(s) = self.sides.get_mut(asset) {
            s.charged = charged;
            s.charge_drift = s.charge_drift.saturating_add(drift);
        }
        let shorts = i128::from(side.shorts);
        self.add_quote_slack(
            (shares >> ACC_BITS)
                .saturating_add(shorts)
                .saturating_add(2),
        );
        if let Some(q) = self.markets.first_mut() {
            q.books.transfer(Book::Accounts, Book::BadDebt, loss);
        }
        loss
    }

    /// Hands a unit's quote write-off `w` to the shorts of `exposure` (the
    /// risky asset the account's last step sold) and reports it.
    pub(super) fn deleverage_loss(
        &mut self,
        id: u32,
        mut w: Written,
        exposure: Option<usize>,
        sink: &mut impl EventSink,
    ) {
        if let Some(asset) = exposure.filter(|&a| a != 0) {
            let taken = self.charge_loss(asset, w.unrecovered);
            w.deleveraged = taken;
            w.unrecovered = Qty(w.unrecovered.0.saturating_sub(taken.0));
        }
        sink.emit(&Event::WrittenOff {
            account: id,
            written: w,
        });
    }

    /// The relative health a charge of `amount` over `shares` debt shares
    /// can take from a short of `asset` at debt `index`, Q32.32, rounded
    /// up: what the shares pay at most (the amount, and the step's
    /// rounding up: shares / 2^64 and a unit) over the value of their debt,
    /// times the heaviest weight (the quote it takes may be a debt). A
    /// short's debt term is at least its shares × index × price, so its
    /// loss is at most this times its term. Saturates where a number
    /// leaves its range: the drift then reaches every account.
    fn charge_drift(&self, asset: usize, amount: i128, shares: i128, index: Index) -> u64 {
        let Some(m) = self.markets.get(asset) else {
            return u64::MAX;
        };
        let paid = amount
            .unsigned_abs()
            .saturating_add((shares >> ACC_BITS).unsigned_abs())
            .saturating_add(1);
        let weighted = paid
            .saturating_mul(u128::from(self.max_weight))
            .div_ceil(u128::from(crate::num::RATIO_SCALE));
        let debt = times_index(shares, index, Round::Down).unwrap_or(0);
        let debt = Qty(i64::try_from(debt).unwrap_or(i64::MAX));
        let value = debt.value(m.oracle, Round::Down).unwrap_or(Value::ZERO);
        super::watch::ratio_bound(weighted, value.0.unsigned_abs().into(), true)
    }

    pub(super) fn index_of(&self, asset: usize) -> Index {
        self.markets
            .get(asset)
            .map_or(Index::ONE, |m| m.state.index)
    }

    /// Asset `asset`'s deposit shares after one balance goes from `old` to
    /// `new`.
    pub(super) fn deposit_shares_after(
        &self,
        asset: usize,
        old: Qty,
        new: Qty,
    ) -> ArithResult<Qty> {
        let m = self.markets.get(asset).ok_or(ArithError::Domain)?;
        crate::liquidate::shares_after(m.state.deposit_shares, old, new)
    }

    /// Writes a close: the row's risky and quote balances and both assets'
    /// deposit shares.
    pub(super) fn write_pair(
        &mut self,
        id: u32,
        asset: usize,
        (risky, quote): (Qty, Qty),
        (deposits, quote_deposits): (Qty, Qty),
    ) {
        let start = self.row_range(id as usize).start;
        if let Some(b) = self.balances.get_mut(start.saturating_add(asset)) {
            *b = risky;
        }
        if let Some(b) = self.balances.get_mut(start) {
            *b = quote;
        }
        if let Some(m) = self.markets.get_mut(asset) {
            m.state.deposit_shares = deposits;
        }
        if let Some(m) = self.markets.first_mut() {
            m.state.deposit_shares = quote_deposits;
        }
    }

    fn add_quote_slack(&mut self, slack: i128) {
        if let Some(side) = self.sides.first_mut() {
            side.slack = side.slack.saturating_add(slack);
        }
    }

    /// Account `id`'s stored balances as they stand now: under
    /// auto-deleveraging, settled with the sides on a copy.
    pub fn balances_now(&self, id: usize) -> Option<heapless::Vec<Qty, A>> {
        let stored = self.balances.get(self.row_range(id))?;
        let mut row: heapless::Vec<Qty, A> = heapless::Vec::from_slice(stored).ok()?;
        if self.pro_rata_on() {
            let id = u32::try_from(id).ok()?;
            let kept = self.snaps.get(self.snap_range(id))?;
            let mut snaps: heapless::Vec<Snap, A> = heapless::Vec::from_slice(kept).ok()?;
            settle(&mut row, &mut snaps, &self.sides, self.index_of(0)).ok()?;
        }
        Some(row)
    }

    /// Σ of the accounts' balances of every asset as settled, for the
    /// audit: `held[asset]`, each row settled on a copy.
    pub(super) fn settled_totals(&self, held: &mut [i128]) -> ArithResult<()> {
        for id in 0..self.accounts {
            let row = self.balances_now(id).ok_or(ArithError::Domain)?;
            for (asset, (total, &b)) in held.iter_mut().zip(row.iter()).enumerate() {
                let effective = match b.is_positive() {
                    true => b.held(self.index_of(asset))?,
                    false => b,
                };
                *total = total.wrapping_add(i128::from(effective.0));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sides(debt_index: Index, charged: i128, credited: i128) -> [Side; 2] {
        let side = Side {
            debt_index,
            charged,
            credited,
            ..Side::default()
        };
        [Side::default(), side]
    }

    #[test]
    fn a_short_settles_its_debt_at_the_index_and_pays_its_charge_rounded_up() {
        // 1,000 debt shares at index 0.75 owe 750; 3 quote per share plus a
        // third of a unit: 3,333.33… paid, rounded up to 3,334.
        let step = (10i128 << ACC_BITS) / 3;
        let s = sides(Index(INDEX_SCALE / 4 * 3), step, 0);
        let mut row = [Qty(10_000), Qty(-1_000)];
        let mut snaps = [Snap {
            debt_shares: Qty(1_000),
            paid: 0,
        }];
        assert_eq!(settle(&mut row, &mut snaps, &s, Index::ONE), Ok(1));
        assert_eq!(row, [Qty(10_000 - 3_334), Qty(-750)]);
        assert_eq!(snaps[0].paid, step);
        // Settled again, nothing moves.
        assert_eq!(settle(&mut row, &mut snaps, &s, Index::ONE), Ok(0));
        assert_eq!(row, [Qty(10_000 - 3_334), Qty(-750)]);
    }

    #[test]
    fn a_long_receives_its_credit_rounded_down_and_a_flat_row_nothing() {
        let step = (10i128 << ACC_BITS) / 3;
        let s = sides(Index::ONE, 0, step);
        let mut row = [Qty(-500), Qty(1_000)];
        let mut snaps = [Snap::default()];
        assert_eq!(settle(&mut row, &mut snaps, &s, Index::ONE), Ok(1));
        // 3,333.33… received: the debt of 500 is paid, 2,833 left over.
        assert_eq!(row, [Qty(2_833), Qty(1_000)]);
        let mut flat = [Qty(7), Qty(0)];
        let mut none = [Snap::default()];
        assert_eq!(settle(&mut flat, &mut none, &s, Index::ONE), Ok(0));
        assert_eq!(flat, [Qty(7), Qty(0)]);
    }

    #[test]
    fn a_failing_settlement_writes_nothing() {
        let s = sides(Index::ONE, i128::MAX / 4, 0);
        let mut row = [Qty(1), Qty(-1_000)];
        let mut snaps = [Snap {
            debt_shares: Qty(1_000),
            paid: 0,
        }];
        assert!(settle(&mut row, &mut snaps, &s, Index::ONE).is_err());
        assert_eq!(row, [Qty(1), Qty(-1_000)]);
        assert_eq!(snaps[0].paid, 0);
    }

    #[test]
    fn resnapping_moves_debt_shares_between_the_totals() {
        let mut s = sides(Index(INDEX_SCALE / 2), 40, 9);
        s[1].debt_shares = 2_000;
        s[1].shorts = 1;
        let mut snaps = [Snap {
            debt_shares: Qty(2_000),
            paid: 40,
        }];
        // A debt still its shares at the index keeps its snapshot.
        resnap(&[Qty(7), Qty(-1_000)], &mut snaps, &mut s).unwrap();
        assert_eq!(snaps[0].debt_shares, Qty(2_000));
        // Debt 1,000 (2,000 shares at one half) repaid down to 301: 602
        // shares, rounded up.
        resnap(&[Qty(0), Qty(-301)], &mut snaps, &mut s).unwrap();
        assert_eq!(snaps[0].debt_shares, Qty(602));
        assert_eq!((s[1].debt_shares, s[1].shorts), (602, 1));
        // Repaid whole and then a deposit: no short left; the credit's
        // accumulator is its snapshot.
        resnap(&[Qty(0), Qty(5)], &mut snaps, &mut s).unwrap();
        assert_eq!(
            snaps[0],
            Snap {
                debt_shares: Qty(0),
                paid: 9
            }
        );
        assert_eq!((s[1].debt_shares, s[1].shorts), (0, 0));
    }

    #[test]
    fn a_per_share_step_rounds_as_asked_and_refuses_no_shares() {
        assert_eq!(per_share(10, 3, Round::Down), Ok((10i128 << ACC_BITS) / 3));
        assert_eq!(
            per_share(10, 3, Round::Up),
            Ok((10i128 << ACC_BITS) / 3 + 1)
        );
        assert!(per_share(10, 0, Round::Up).is_err());
        assert!(per_share(i128::MAX / 2, 3, Round::Up).is_err());
    }
}

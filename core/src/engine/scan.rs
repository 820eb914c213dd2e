//! Finding this round's liquidatable accounts without rescanning them all.
//!
//! An account's maintenance health is `Σ sᵢ·xᵢ`, a sum of terms in its
//! balances `sᵢ` and the per-asset factors `xᵢ` (deposit index × weighted
//! asset price for a deposit, weighted liability price for a debt). Only a
//! deposit factor that falls or a debt factor that rises can lower it; the
//! quote's debt factor never moves (its price is 1). If every such factor
//! moves against the account by at most a relative `ε`, the health falls by
//! at most `ε·exposed`, where `exposed` is the Σ of the deposit terms and
//! the non-quote debt terms. The engine keeps the drift `G = Π (1 + εᵣ)`
//! over rounds (rounded up). A debt factor's rise counts only if a watched
//! account owes that asset: a collateral whose price recovers after a fall
//! does not grow the drift of a market where nobody borrows it.
//!
//! A round's `εᵣ` is a ratio less one (`old/new − 1` for a fall), so the
//! rounds' `1 + εᵣ` multiply up to the whole move: since drift `G₀`, a
//! deposit factor keeps at least `G₀/G` of its value and a debt factor
//! grows at most `G/G₀` times. With `x = G/G₀`, the health is then at least
//! `assets/x − moving debts·x − quote debt ≥ net − (x − 1)·exposed`. So an
//! account evaluated at drift `G₀` cannot have gone negative while
//! `x − 1 < net / exposed`, or, if it owes only the quote, while
//! `x < assets / debt = 1 + net / debt`, which is exact. It is put on a
//! watch list (a heap in the top of the scratch) keyed by the trigger
//! `G₀·(1 + net/exposed)` or `G₀·(1 + net/debt)` (rounded down, after a
//! slack that covers every term's rounding), and a round evaluates only the
//! accounts whose trigger the drift has reached, plus those whose balances
//! changed (re-watched with a trigger of zero). A falling price thus walks
//! down the watch list; cross-margined accounts far from their threshold
//! are not touched.
//!
//! The accounts a liquidation phase watches again are appended to the list
//! out of heap order, and `appended` counts them. Most of them are near
//! their threshold, so a push would carry each up to near the root, a
//! cache miss a level at 10^6 entries. A round that sweeps the list visits
//! them with the rest and orders it after; only a round that pops the list
//! orders them first, one a unit (`Phase::OrderAppended`). The run's first
//! rounds sweep, and their pushes cost nothing (docs/performance.md).
//!
//! The candidates found are exactly those of a full scan (every account
//! that is negative now and not queued already is due), and the queue
//! orders them by `(round, health, id)`, a total order, so liquidations,
//! events and digests are the same bit for bit. A full scan still runs in
//! the first round, after a unit wrote another account's row (deleveraging,
//! auctions), when the drift grows past `MAX_DRIFT`, or on every round if
//! asked ([`Engine::scan_every_round`]). A round whose drift reaches much of
//! the watch list sweeps the list instead of popping it (see `sweep`). Tests
//! compare the three ways.
//!
//! A full scan also runs when a watched account's health might overflow,
//! which the scan bounds from the largest `assets + liabilities` it saw,
//! grown each round by the largest rise of any factor (a favourable rise
//! too): the full scan meets an overflowing account in id order and fails
//! the run there, and a watch list would meet it in another order or not
//! at all. The fuzzer found that difference (`regression-overflow-unwatched`
//! in its corpus).

use super::due::{sweep_is_cheaper, DueCounts};
use super::liquidate::Ended;
use super::{Candidate, Engine, Phase, Watch};
use crate::account::{self, Health, WeightedPrice};
use crate::error::StepFault;
use crate::num::{self, ArithError, Fx, Qty, Ratio, Round, Value};

/// Past this drift the triggers lose precision: a full scan restarts it.
const MAX_DRIFT: i32 = 1 << 20;

/// The incremental scan's bookkeeping.
#[derive(Clone, Copy, Debug)]
pub(super) struct ScanState<const A: usize> {
    /// Entries of the watch list (the top of the scratch).
    pub watch_len: usize,
    /// The last of them, appended out of heap order by a liquidation
    /// phase (see `order_appended_unit`).
    pub appended: usize,
    /// The whole list is out of heap order: a sweep took entries out and
    /// left the order to the next round that pops (see `sweep`).
    pub unordered: bool,
    /// `G`, the product of `1 + ε` over the rounds since the last full scan.
    pub drift: Fx,
    /// The factors of the last scan, to measure the next round's `ε`.
    seen_index: [Ratio; A],
    seen_prices: [WeightedPrice; A],
    /// An upper bound on the rounding of one health evaluation.
    slack: Fx,
    /// Per asset, the watch list's entries with a debt in it: a debt
    /// factor's rise is adverse only to them, so a round's rise of an asset
    /// nobody watched owes does not grow the drift (a recovering price
    /// after a fall of a collateral nobody borrows).
    debtors: [u32; A],
    /// A bound on any watched account's `assets + liabilities` now: the
    /// largest at its evaluation, grown each round by the largest rise of
    /// any factor (deposit or debt). While it stays below `SAFE_GROSS` no
    /// watched account's health can overflow.
    headroom: Fx,
    /// A row changed outside its own liquidation: scan everything.
    pub rescan: bool,
    /// Whether a watch list exists (after the first full scan).
    built: bool,
    /// The watch list's triggers, counted: how much of it a drift reaches.
    due: DueCounts,
    /// Scan every account every round (the reference behaviour).
    pub every_round: bool,
    /// Sweep the watch list when that is cheaper than popping it (see
    /// `due`).
    pub sweep_when_cheaper: bool,
}

impl<const A: usize> ScanState<A> {
    pub(super) fn new() -> Self {
        Self {
            watch_len: 0,
            appended: 0,
            unordered: false,
            drift: Fx::ONE,
            seen_index: [Ratio::ONE; A],
            seen_prices: [WeightedPrice::default(); A],
            slack: Fx::ZERO,
            debtors: [0; A],
            headroom: Fx::ZERO,
            rescan: false,
            built: false,
            due: DueCounts::new(),
            every_round: false,
            sweep_when_cheaper: true,
        }
    }
}

/// Bounds `[lo, hi]` on the exact product `a·b` of non-negative numbers.
fn product_bounds(a: Fx, b: Fx) -> Result<(Fx, Fx), ArithError> {
    Ok((num::mul(a, b, Round::Down)?, num::mul(a, b, Round::Up)?))
}

/// Past this, a watched account's health might overflow: the full scan
/// evaluates every account in id order, so an overflow fails the run at the
/// same account whichever scan runs.
const SAFE_GROSS: Fx = Fx::from_bits(i128::MAX >> 2);

/// The largest rise of a factor from `old` to `new` (bounds on exact
/// non-negative values), as a ratio rounded up: 1 if it did not rise,
/// `None` if it rose from zero.
fn rise(old: (Fx, Fx), new: (Fx, Fx)) -> Result<Option<Fx>, ArithError> {
    let ((old_lo, _), (_, new_hi)) = (old, new);
    if new_hi <= old_lo {
        return Ok(Some(Fx::ONE));
    }
    if old_lo <= Fx::ZERO {
        return Ok(None);
    }
    Ok(Some(num::div(new_hi, old_lo, Round::Up)?))
}

/// A lower bound on `margin / exposed` for positive `margin` and `exposed`.
/// The trigger only has to be low, never exact (an account evaluated a
/// little early costs a little work, one evaluated late would be missed),
/// and a full-width quotient takes a 256-by-128-bit division, on every
/// evaluation. While the exposure is below 2^16 (its bits fit in 64), both
/// are scaled so that it has 32 bits, the margin rounded down and the
/// exposure up, and divided in 64 bits: a quotient to 2^-32. Larger
/// exposures take the exact quotient. The margin never passes the exposure
/// (`net ≤ assets`), so the bound is at most 1, which it returns if it ever
/// did.
fn room_below(margin: Fx, exposed: Fx) -> Result<Fx, ArithError> {
    if margin >= exposed {
        return Ok(Fx::ONE);
    }
    let (Ok(m), Ok(e)) = (
        u64::try_from(margin.to_bits()),
        u64::try_from(exposed.to_bits()),
    ) else {
        return num::div(margin, exposed, Round::Down);
    };
    let length = 64u32.saturating_sub(e.leading_zeros());
    let (m32, e32) = match length.checked_sub(32) {
        Some(shift) => {
            let dropped = e & !(u64::MAX << shift) != 0;
            (m >> shift, (e >> shift).saturating_add(u64::from(dropped)))
        }
        None => {
            let up = 32u32.saturating_sub(length);
            (m << up, e << up)
        }
    };
    // m32 < e32 ≤ 2^32, so the quotient is below 2^32: a fraction of 1 in
    // units of 2^-32, widened to the 48 fractional bits.
    let quotient = (m32 << 32).checked_div(e32).unwrap_or(0);
    Ok(Fx::from_bits(i128::from(quotient) << (Fx::FRAC_NBITS - 32)))
}

/// What a negative health makes of an evaluated account.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// A candidate of this round (a scan).
    Candidate,
    /// Due at the next round's scan (after its liquidation this round).
    DueNextRound,
}

/// Which way a factor hurts: a deposit's when it falls, a debt's when it
/// rises.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Against {
    Fall,
    Rise,
}

/// The largest move against the account from `old` to `new` (each given as
/// bounds on an exact non-negative value), as a ratio less one, rounded
/// up: `old/new − 1` for a fall, `new/old − 1` for a rise, so that the
/// rounds' `1 + ε` multiply up to the whole move since any round, however
/// many rounds it took. `None` if `old` may be zero and `new` is not, or a
/// fall may have reached zero.
fn adverse_move(old: (Fx, Fx), new: (Fx, Fx), against: Against) -> Result<Option<Fx>, ArithError> {
    let (old_lo, old_hi) = old;
    let (new_lo, new_hi) = new;
    if old_lo <= Fx::ZERO {
        // A factor that was zero stays zero or moves without bound.
        return Ok((new_hi <= Fx::ZERO && old_hi <= Fx::ZERO).then_some(Fx::ZERO));
    }
    let (before, after) = match against {
        Against::Rise => (old_lo, new_hi),
        Against::Fall => (new_lo, old_hi),
    };
    if after <= before {
        return Ok(Some(Fx::ZERO));
    }
    if before <= Fx::ZERO {
        return Ok(None);
    }
    let ratio = num::div(after, before, Round::Up)?;
    Ok(Some(num::sub(ratio, Fx::ONE)?))
}

impl<const A: usize> Engine<'_, A> {
    /// Rescans every account every round, as the reference scan does: the
    /// results are the same; only the work differs. For tests and
    /// benchmarks.
    pub fn scan_every_round(&mut self, on: bool) {
        self.scan.every_round = on;
    }

    /// Whether a round whose drift reaches a large part of the watch list
    /// sweeps the whole list in slot order instead of popping the accounts
    /// it reached one by one (on by default; see `due`). The results are
    /// the same either way; off, for tests of the pops.
    pub fn sweep_when_cheaper(&mut self, on: bool) {
        self.scan.sweep_when_cheaper = on;
    }

    /// Chooses this round's scan after the round's prices are set: the
    /// full scan, or the watch list if the drift can be measured.
    pub(super) fn start_scan(&mut self) -> Result<Phase, StepFault> {
        let n = self.state.markets.len();
        let mut slack = Fx::ZERO;
        let mut epsilon = Fx::ZERO;
        let mut largest_rise = Fx::ONE;
        let mut measurable = true;
        for i in 0..n {
            let (index, prices) = (self.state.indices.get(i), self.state.maint_prices.get(i));
            let (Some(&index), Some(&prices)) = (index, prices) else {
                return Err(ArithError::Domain.into());
            };
            slack = num::add(slack, num::add(prices.asset, prices.liability)?)?;
            let (seen_index, seen_prices) = (
                self.scan.seen_index.get(i).copied().unwrap_or(Ratio::ONE),
                self.scan.seen_prices.get(i).copied().unwrap_or_default(),
            );
            if index == seen_index && prices == seen_prices {
                continue;
            }
            let (old_deposit, new_deposit) = (
                product_bounds(seen_index.0, seen_prices.asset)?,
                product_bounds(index.0, prices.asset)?,
            );
            let old_debt = (seen_prices.liability, seen_prices.liability);
            let new_debt = (prices.liability, prices.liability);
            match (rise(old_deposit, new_deposit)?, rise(old_debt, new_debt)?) {
                (Some(d), Some(l)) => largest_rise = largest_rise.max(d).max(l),
                _ => measurable = false,
            }
            let deposit = adverse_move(old_deposit, new_deposit, Against::Fall)?;
            let owed = self.scan.debtors.get(i).is_some_and(|&d| d > 0);
            let debt = match owed {
                true => adverse_move(old_debt, new_debt, Against::Rise)?,
                false => Some(Fx::ZERO),
            };
            match (deposit, debt) {
                (Some(d), Some(l)) => epsilon = epsilon.max(d).max(l),
                _ => measurable = false,
            }
        }
        // 64 ulps per unit of weighted price and per asset: each term of a
        // health floors twice, at most `(x + 1)` ulps, at the scan and at
        // the round that reads the trigger, where `x` is at most doubled.
        let count = Fx::from_num(u8::try_from(n).unwrap_or(u8::MAX));
        self.scan.slack = num::mul(num::add(slack, count)?, Fx::from_bits(1 << 6), Round::Up)?;
        let parents = self.watch().parents();
        let s = &mut self.scan;
        s.seen_index = self.state.indices;
        s.seen_prices = self.state.maint_prices;
        let drift = num::mul(s.drift, num::add(Fx::ONE, epsilon)?, Round::Up).ok();
        let drift = drift.filter(|g| *g < Fx::from_num(MAX_DRIFT) && measurable);
        let headroom = num::mul(s.headroom, largest_rise, Round::Up).ok();
        let headroom = headroom.filter(|h| *h < SAFE_GROSS);
        // A drift that reaches a large part of the watch list: sweeping the
        // whole list in slot order is cheaper than as many pops (see `due`),
        // and finds the same. The last round's scan took out every trigger
        // up to its drift, `s.drift` still.
        let reached = drift.map_or(0, |g| s.due.reached(s.drift, g));
        let sweep = s.sweep_when_cheaper && sweep_is_cheaper(reached, s.watch_len);
        match (drift, headroom) {
            (Some(g), Some(h)) if s.built && !s.rescan && !s.every_round => {
                // Nothing is due if the drift has not grown past the last
                // scan's and no trigger is zero: no pop, so no order needed.
                let none_due = g <= s.drift && s.due.due_at_once() == 0;
                s.drift = g;
                s.headroom = h;
                Ok(match (sweep, none_due, s.unordered, s.appended > 0) {
                    (true, ..) => Phase::Sweep { next: 0 },
                    (false, true, ..) => Phase::Liquidate,
                    (false, false, true, _) => Phase::Order { remaining: parents },
                    (false, false, false, true) => Phase::OrderAppended,
                    (false, false, false, false) => Phase::Watch,
                })
            }
            _ => {
                s.drift = Fx::ONE;
                s.headroom = Fx::ZERO;
                s.watch_len = 0;
                s.appended = 0;
                s.unordered = false;
                s.debtors = [0; A];
                s.due = DueCounts::new();
                s.rescan = false;
                s.built = true;
                Ok(Phase::Scan { next: 0 })
            }
        }
    }

    /// One unit of the full scan: evaluates account `id`, unless it waits
    /// in the liquidation queue already.
    pub(super) fn scan(&mut self, id: usize) -> Result<(), StepFault> {
        if !self.is_queued(id) {
            self.evaluate(id, Found::Candidate)?;
        }
        let next = id.saturating_add(1);
        self.state.phase = if next < self.accounts {
            Phase::Scan { next }
        } else {
            Phase::Liquidate
        };
        Ok(())
    }

    /// One unit of the incremental scan: evaluates the account first on
    /// the watch list if the drift has reached its trigger; else the scan
    /// is over.
    pub(super) fn watch_unit(&mut self) -> Result<(), StepFault> {
        let drift = self.scan.drift;
        let mut watch = self.watch();
        let due = watch.peek().filter(|w| w.value().0 <= drift);
        let Some(entry) = due.and_then(|_| watch.pop()) else {
            self.state.phase = Phase::Liquidate;
            return Ok(());
        };
        let next = watch.peek().filter(|w| w.value().0 <= drift).map(|w| w.id);
        self.scan.watch_len = watch.len;
        self.prefetch_account(next);
        self.unwatched(&entry);
        self.evaluate(entry.id as usize, Found::Candidate)
    }

    /// One unit before a round pops the watch list: orders the first entry
    /// the last liquidation phase appended (one `push`, deferred). Once
    /// none is left, the pops.
    pub(super) fn order_appended_unit(&mut self) {
        let appended = self.scan.appended;
        let mut watch = self.watch();
        match watch.len.checked_sub(appended).filter(|_| appended > 0) {
            Some(first) => {
                watch.order_appended(first);
                self.scan.appended = appended.saturating_sub(1);
            }
            None => {
                self.scan.appended = 0;
                self.state.phase = Phase::Watch;
            }
        }
    }

    /// Takes an entry that left the watch list out of the counts
    /// `watch_account` put it in: its trigger's and its debts'.
    pub(super) fn unwatched(&mut self, entry: &Candidate) {
        self.scan.due.remove(entry.value().0);
        self.count_debtors(entry.round(), false);
    }

    /// Adds or removes a watched entry's debts (bit `i`: asset `i`) from
    /// the per-asset counts.
    fn count_debtors(&mut self, debts: u32, add: bool) {
        for (i, count) in self.scan.debtors.iter_mut().enumerate().take(32) {
            if debts & (1 << i) != 0 {
                *count = match add {
                    true => count.saturating_add(1),
                    false => count.saturating_sub(1),
                };
            }
        }
    }

    /// Watches account `id` after its liquidation changed its balances,
    /// from its health at this round's scan prices (the next round's drift
    /// is measured from them): due at once if it is still liquidatable.
    ///
    /// `end` is the row and maintenance health its unit ended with, if the
    /// unit computed them: the health is reused if the row is still the
    /// stored one (nothing else writes it in between, but a comparison of
    /// a few balances is cheaper than a health and proves it).
    pub(super) fn rewatch(&mut self, id: u32, end: Ended<A>) -> Result<(), StepFault> {
        let n = self.state.markets.len();
        let stored = self.stored_balances(id as usize);
        let known = end.filter(|(row, _)| stored.is_some_and(|s| row.get(..n) == Some(s)));
        self.evaluate_from(id as usize, Found::DueNextRound, known.map(|(_, h)| h))
    }

    /// The watch list, over the scratch above the candidates.
    pub(super) fn watch(&mut self) -> Watch<'_> {
        let from = self.heap_len.min(self.scratch.len());
        Watch {
            slots: self.scratch.get_mut(from..).unwrap_or(&mut []),
            len: self.scan.watch_len,
        }
    }

    /// Puts account `id` on the watch list with `trigger` (zero: evaluate
    /// it at the next round's scan), owing the risky assets in `debts`
    /// (bit `i`: asset `i`).
    pub(super) fn watch_account(
        &mut self,
        id: u32,
        trigger: Fx,
        debts: u32,
    ) -> Result<(), StepFault> {
        // A sweep restores the order once it is over. A liquidation phase
        // appends the accounts it liquidated: the next round orders them
        // only if it pops the list, and a sweep round never does.
        let liquidating = matches!(self.state.phase, Phase::Liquidate);
        let unordered = liquidating || matches!(self.state.phase, Phase::Reached { .. });
        let mut watch = self.watch();
        let entry = Candidate::tagged(Value(trigger), id, debts);
        let pushed = match unordered {
            true => watch.push_unordered(entry),
            false => watch.push(entry),
        };
        if !pushed {
            return Err(StepFault::Arith(ArithError::Overflow));
        }
        self.scan.watch_len = watch.len;
        if liquidating {
            self.scan.appended = self.scan.appended.saturating_add(1);
        }
        self.scan.due.add(trigger);
        self.count_debtors(debts, true);
        Ok(())
    }

    /// Evaluates account `id` at this round's prices: if its health is
    /// negative, a candidate now or due next round (`found`); else watched
    /// until the drift can make it negative.
    pub(super) fn evaluate(&mut self, id: usize, found: Found) -> Result<(), StepFault> {
        self.evaluate_from(id, found, None)
    }

    /// `evaluate`, with the account's maintenance health at this round's
    /// prices if it is known already.
    fn evaluate_from(
        &mut self,
        id: usize,
        found: Found,
        known: Option<Health>,
    ) -> Result<(), StepFault> {
        let stored = self.stored_balances(id).unwrap_or(&[]);
        let health = match known {
            Some(health) => health,
            None => account::health(stored, &self.state.indices, &self.state.maint_prices)?,
        };
        let net = health.net()?;
        let id32 = u32::try_from(id).map_err(|_| ArithError::Overflow)?;
        match (net.is_negative(), found) {
            (true, Found::Candidate) => self.queue(id32, net),
            (true, Found::DueNextRound) => {
                self.note_gross(&health)?;
                self.watch_account(id32, Fx::ZERO, 0)
            }
            (false, _) => {
                // The risky assets it owes (the engine holds at most 32).
                let debts = stored
                    .iter()
                    .enumerate()
                    .skip(1)
                    .filter(|(_, b)| b.is_negative())
                    .fold(0u32, |m, (i, _)| {
                        m | 1u32.checked_shl(i as u32).unwrap_or(0)
                    });
                let moving_debt = match debts {
                    // Its liabilities are the quote's term alone.
                    0 => Value::ZERO,
                    _ => self.moving_debt(stored, &health)?,
                };
                let trigger = self.trigger(&health, moving_debt)?;
                self.note_gross(&health)?;
                self.watch_account(id32, trigger, debts)
            }
        }
    }

    /// The liabilities of `health` less the quote's debt term, which never
    /// moves (computed as `health` computes it).
    fn moving_debt(&self, stored: &[Qty], health: &Health) -> Result<Value, ArithError> {
        let quote_debt = match (stored.first(), self.state.maint_prices.first()) {
            (Some(b), Some(w)) if b.is_negative() => {
                Value(num::mul(b.0, w.liability, Round::Down)?).neg()?
            }
            _ => Value::ZERO,
        };
        health.liabilities.sub(quote_debt)
    }

    /// Counts a watched account's terms in the headroom.
    fn note_gross(&mut self, health: &Health) -> Result<(), ArithError> {
        let gross = num::add(health.assets.0, health.liabilities.0)?;
        self.scan.headroom = self.scan.headroom.max(gross);
        Ok(())
    }

    /// `G·(1 + (net − slack)/(over + slack))`, rounded down, and above the
    /// drift now; an account without liabilities never goes negative.
    /// `over` is the exposure, its deposit and moving debt terms; for an
    /// account that owes only the quote it is that debt, which its deposits
    /// cover while they keep `1 + net/debt` of their value: exact in the
    /// drift, so a falling price reaches the account when it is
    /// liquidatable, not rounds before.
    fn trigger(&self, health: &Health, moving_debt: Value) -> Result<Fx, ArithError> {
        if !health.liabilities.is_positive() {
            return Ok(Fx::MAX);
        }
        let drift = self.scan.drift;
        let least = num::add(drift, num::ULP)?;
        let margin = num::sub(health.net()?.0, self.scan.slack)?;
        if !margin.is_positive() {
            return Ok(least);
        }
        let over = match moving_debt.is_positive() {
            true => num::add(health.assets.0, moving_debt.0)?,
            false => health.liabilities.0,
        };
        let exposed = num::add(over, self.scan.slack)?;
        let room = room_below(margin, exposed)?;
        // The drift second: right after a full scan it is exactly 1, which
        // `mul` skips (a million accounts' worth of multiplications).
        let trigger = num::mul(num::add(Fx::ONE, room)?, drift, Round::Down)?;
        Ok(trigger.max(least))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The room never passes the exact quotient and stays within `2^-29`
    /// of it, over margins and exposures from one ulp to 2^76 ulps (both
    /// ways of computing it).
    #[test]
    fn the_room_is_a_close_lower_bound() {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..100_000 {
            let exposed_bits =
                (next() >> (next() % 64)).max(1) as i128 * (1 + (next() % 4096) as i128);
            let margin_bits = ((exposed_bits as u128 * u128::from(next() >> 20)) >> 44) as i128;
            let (margin, exposed) = (
                Fx::from_bits(margin_bits.max(1)),
                Fx::from_bits(exposed_bits),
            );
            let room = room_below(margin, exposed).unwrap();
            let exact = num::div(margin, exposed, Round::Down).unwrap();
            assert!(room <= exact, "{margin} / {exposed}: {room} > {exact}");
            let error = num::sub(exact, room).unwrap();
            assert!(
                error <= Fx::from_bits(1 << 19),
                "{margin} / {exposed}: {room} against {exact}"
            );
        }
        let room = |m: f64, e: f64| room_below(Fx::from_num(m), Fx::from_num(e)).unwrap();
        assert_eq!(room(1.0, 1.0), Fx::ONE);
        assert_eq!(room(3.0, 2.0), Fx::ONE);
        assert_eq!(room(1.0, 4.0), Fx::from_num(0.25));
        assert_eq!(room(1e6, 4e6), Fx::from_num(0.25), "past 2^16, exactly");
    }

    /// A fall counts as `old/new − 1`, so the rounds' `1 + ε` multiply up
    /// to the whole fall, never below it and within rounding of it; a rise
    /// of a debt as `new/old − 1`; a favourable move as nothing.
    #[test]
    fn moves_multiply_up_to_the_whole_move() {
        let exact = |x: f64| (Fx::from_num(x), Fx::from_num(x));
        let fall = |from: f64, to: f64| {
            adverse_move(exact(from), exact(to), Against::Fall)
                .unwrap()
                .unwrap()
        };
        assert_eq!(fall(100.0, 80.0), Fx::from_num(0.25), "not 0.2");
        assert_eq!(fall(80.0, 100.0), Fx::ZERO, "a rise of a deposit");
        let rise = adverse_move(exact(80.0), exact(100.0), Against::Rise).unwrap();
        assert_eq!(rise, Some(Fx::from_num(0.25)));
        let to_zero = adverse_move(exact(100.0), (Fx::ZERO, Fx::ZERO), Against::Fall);
        assert_eq!(to_zero.unwrap(), None, "a fall to zero is unbounded");
        // Fifteen falls of 1.5%: the product is the whole fall's ratio.
        let (mut price, mut drift) = (2_000.0f64, Fx::ONE);
        for _ in 0..15 {
            let next = price * 0.985;
            let epsilon = fall(price, next);
            drift = num::mul(drift, num::add(Fx::ONE, epsilon).unwrap(), Round::Up).unwrap();
            price = next;
        }
        let whole = Fx::from_num(2_000.0 / price);
        assert!(drift >= num::sub(whole, Fx::from_bits(1 << 8)).unwrap());
        assert!(
            num::sub(drift, whole).unwrap() < Fx::from_num(1e-9),
            "{drift} against {whole}"
        );
    }
}

//! One pair step, planned on the unit's overlay.
//!
//! Value the row once ([`health_terms`]), taking from its terms the pair
//! (largest weighted debt L, largest weighted collateral C not skipped as
//! dust, ties to the lower index) and the debts' unweighted value; size the
//! step under the policy ([`crate::policy`]); check that it raises
//! maintenance health, from the four terms that change rather than the
//! whole row; sell the seizure into C's pool and buy L back in L's (a quote
//! side is paid directly); book every flow.

use super::overlay::Overlay;
use super::{Fault, Idle, Market, Stepped};
use crate::account::{credit, debit, health_terms, term, Health, Terms};
use crate::ledger::Book;
use crate::num::{ArithError, ArithResult, Qty, Ratio, Round, Value, Weighted, RATIO_SCALE};
use crate::num::{Index, Price};
use crate::policy::{gain_per_value, size, to_target, wanted, PairInputs, Policy};

/// The row's maintenance health, its pair and the debts' value.
pub(super) struct Valued {
    /// Maintenance health.
    pub health: Health,
    /// `(asset, weighted term)` of the largest debt (most negative term).
    pub liability: Option<(usize, Weighted)>,
    /// `(asset, weighted term)` of the largest collateral outside `skip`.
    pub collateral: Option<(usize, Weighted)>,
    /// Σ of the debts' unweighted values.
    pub debt_value: Value,
}

/// Values `row` and picks its pair, passing over collateral in `skip`.
pub(super) fn value_row(row: &[Qty], terms: &[Terms], skip: u32) -> ArithResult<Valued> {
    let (mut liability, mut collateral) = (None::<(usize, Weighted)>, None::<(usize, Weighted)>);
    let mut debt_value = Some(Value::ZERO);
    let health = health_terms(row, terms, |asset, value, weighted| {
        if value.is_negative() {
            debt_value = debt_value.and_then(|d| d.sub(value).ok());
            if liability.is_none_or(|(_, most)| weighted < most) {
                liability = Some((asset, weighted));
            }
        } else if skip.checked_shr(asset as u32).unwrap_or(0) & 1 == 0
            && collateral.is_none_or(|(_, best)| weighted > best)
        {
            collateral = Some((asset, weighted));
        }
    })?;
    Ok(Valued {
        health,
        liability,
        collateral,
        debt_value: debt_value.ok_or(ArithError::Overflow)?,
    })
}

/// `a / b <= t` exactly, as `a × 10^9 <= t × b`: a 128-by-64-bit product on
/// each side, compared in 192 bits.
pub(super) fn ratio_at_most(a: u128, b: u128, t: Ratio) -> bool {
    fn wide(x: u128, y: u64) -> (u128, u64) {
        let (hi, lo) = (x >> 64, x & u128::from(u64::MAX));
        let low = lo.wrapping_mul(u128::from(y));
        let high = hi.wrapping_mul(u128::from(y)).wrapping_add(low >> 64);
        (high, low as u64)
    }
    wide(a, RATIO_SCALE) <= wide(b, t.0)
}

/// Whether a close-factor liquidation may repay the whole debt: the health
/// factor at or below its threshold, or debts worth less than the
/// small-debt line. Decided once, from the row the unit started with.
pub(super) fn in_full(policy: &Policy, v: &Valued) -> bool {
    match *policy {
        Policy::Absorb | Policy::ToTarget => true,
        Policy::CloseFactor {
            full_close_health_factor,
            full_close_debt_value,
            ..
        } => {
            let (a, l) = (v.health.assets.0, v.health.liabilities.0);
            let (a, l) = (a.unsigned_abs(), l.unsigned_abs());
            ratio_at_most(a, l, full_close_health_factor) || v.debt_value < full_close_debt_value
        }
    }
}

/// Σ of positive stored balances after one changes from `old` to `new`.
fn shares_after(total: Qty, old: Qty, new: Qty) -> ArithResult<Qty> {
    total.sub(old.max(Qty::ZERO))?.add(new.max(Qty::ZERO))
}

/// The terms of the two health tiers a unit reads.
#[derive(Clone, Copy, Debug)]
pub struct Tiers<'t> {
    /// Maintenance: who is liquidatable, which pair, whether a step helps.
    pub maint: &'t [Terms],
    /// Liquidation end: what a to-target unit restores.
    pub liq_end: &'t [Terms],
}

/// Attempts at raising a to-target repayment until the step's own
/// roundings leave liquidation-end health at zero or above.
const TARGET_TRIES: usize = 4;

/// Plans one pair step on `o` with collateral in `skip` passed over. The
/// unit's first step requires maintenance health below zero; later steps
/// (absorb, to-target) go on while the policy wants more. Only a
/// close-factor step asks whether to close in full, and a close-factor unit
/// takes one step: the decision is made from the row the unit started with.
pub(super) fn pair_step<const A: usize>(
    o: &mut Overlay<A>,
    base: &[Market],
    tiers: Tiers<'_>,
    policy: &Policy,
    skip: u32,
    first: bool,
) -> Result<Result<Stepped, Idle>, Fault> {
    let terms = tiers.maint;
    let v = value_row(o.row(), terms, skip)?;
    if first && !v.health.is_liquidatable() {
        return Ok(Err(Idle::Healthy));
    }
    let (Some((l, old_l)), Some((c, old_c))) = (v.liability, v.collateral) else {
        return Ok(Err(Idle::NoCollateral));
    };
    let full = in_full(policy, &v);
    let (ml, mc) = (o.market(base, l)?, o.market(base, c)?);
    let (index_l, index_c, shares_l, fee_share) =
        (ml.index, mc.index, ml.deposit_shares, mc.fee_share);
    let (bl, bc) = (o.balance(l)?, o.balance(c)?);
    let pair = PairInputs {
        debt: bl.neg()?,
        held: bc.held(index_c)?,
        liability_price: ml.oracle,
        collateral_discounted: mc.discounted,
        dust: ml.dust,
    };
    let (repay, seize) = match policy {
        Policy::ToTarget => {
            let prices = (mc.oracle, mc.discounted);
            let indices = (index_l, index_c);
            match to_target_step(o.row(), tiers.liq_end, (l, c), indices, &pair, prices)? {
                Some(sized) => sized,
                None => return Ok(Err(Idle::Healthy)),
            }
        }
        _ => size(&pair, wanted(policy, pair.debt, full)?)?,
    };
    let (new_l, new_c) = (credit(bl, repay, index_l)?, debit(bc, seize, index_c)?);
    // Health after, from the two terms that change.
    let (tl, tc) = (
        terms.get(l).ok_or(ArithError::Domain)?,
        terms.get(c).ok_or(ArithError::Domain)?,
    );
    let before = v.health.net()?;
    let after = before
        .sub(old_l)?
        .sub(old_c)?
        .add(term(new_l, tl)?.1)?
        .add(term(new_c, tc)?.1)?;
    if !repay.is_positive() || after < before {
        return Ok(Err(Idle::Dust));
    }
    let quote = |v: Value| Qty(v.0);
    // C's side: the sale into its pool, its shares, its books.
    let m = o.market_mut(base, c)?;
    let proceeds = match m.pool.as_mut() {
        Some(pool) => pool.sell(seize)?,
        None => Value(seize.0),
    };
    m.deposit_shares = shares_after(m.deposit_shares, bc, new_c)?;
    if c != 0 {
        m.books.transfer(Book::Accounts, Book::Venue, seize)?;
    }
    // L's side: the purchase in its pool, its shares, its books.
    let m = o.market_mut(base, l)?;
    let cost = match m.pool.as_mut() {
        Some(pool) => pool.buy(repay)?.ok_or(Fault::VenueExhausted { asset: l })?,
        None => Value(repay.0),
    };
    m.deposit_shares = shares_after(shares_l, bl, new_l)?;
    if l != 0 {
        m.books.transfer(Book::Venue, Book::Accounts, repay)?;
    }
    // The quote's books: the keepers pay the debt and the fee out of the
    // proceeds.
    let fee = proceeds.scale(fee_share, Round::Up)?;
    let books = &mut o.market_mut(base, 0)?.books;
    match c {
        0 => books.transfer(Book::Accounts, Book::Keepers, seize)?,
        _ => books.transfer(Book::Venue, Book::Keepers, quote(proceeds))?,
    }
    match l {
        0 => books.transfer(Book::Keepers, Book::Accounts, repay)?,
        _ => books.transfer(Book::Keepers, Book::Venue, quote(cost))?,
    }
    books.transfer(Book::Keepers, Book::Insurance, quote(fee))?;
    o.insurance = o.insurance.add(fee)?;
    o.set_balance(l, new_l)?;
    o.set_balance(c, new_c)?;
    Ok(Ok(Stepped {
        liability: l,
        collateral: c,
        repaid: repay,
        seized: seize,
        proceeds,
        cost,
        fee,
        health: (before, after),
    }))
}

/// A to-target step's `(repay, seize)`: the repayment whose gain covers
/// the liquidation-end deficit, raised (at most [`TARGET_TRIES`] times) by
/// what the step's own roundings still leave short, so that the step
/// restores liquidation-end health to zero or above unless it is clamped
/// to the debt or the collateral. `None` when the target is met.
fn to_target_step(
    row: &[Qty],
    liq_end: &[Terms],
    (l, c): (usize, usize),
    (index_l, index_c): (Index, Index),
    pair: &PairInputs,
    (collateral_price, collateral_discounted): (Price, Price),
) -> ArithResult<Option<(Qty, Qty)>> {
    let health = value_row(row, liq_end, 0)?.health.net()?;
    if health.0 >= 0 {
        return Ok(None);
    }
    let (tl, tc) = (
        liq_end.get(l).ok_or(ArithError::Domain)?,
        liq_end.get(c).ok_or(ArithError::Domain)?,
    );
    let gain = gain_per_value(
        tl.liability_weight(),
        tc.asset_weight(),
        collateral_price,
        collateral_discounted,
    )?;
    let Some(gain) = gain else {
        return size(pair, pair.debt).map(Some);
    };
    let (bl, bc) = (get(row, l)?, get(row, c)?);
    let unchanged = health.sub(term(bl, tl)?.1)?.sub(term(bc, tc)?.1)?;
    let (mut repay, mut seize) = size(pair, to_target(health.neg()?, gain, pair.liability_price)?)?;
    for _ in 0..TARGET_TRIES {
        // The two balances exactly as the step will write them.
        let after = unchanged
            .add(term(credit(bl, repay, index_l)?, tl)?.1)?
            .add(term(debit(bc, seize, index_c)?, tc)?.1)?;
        let clamped = repay >= pair.debt || seize >= pair.held;
        if after.0 >= 0 || clamped {
            break;
        }
        let more = to_target(after.neg()?, gain, pair.liability_price)?.max(Qty(1));
        (repay, seize) = size(pair, repay.add(more)?)?;
    }
    Ok(Some((repay, seize)))
}

fn get(row: &[Qty], i: usize) -> ArithResult<Qty> {
    row.get(i).copied().ok_or(ArithError::Domain)
}

/// Books a transfer in market `asset`'s planned books.
pub(super) fn transfer<const A: usize>(
    o: &mut Overlay<A>,
    base: &[Market],
    asset: usize,
    from: Book,
    to: Book,
    amount: Qty,
) -> ArithResult<()> {
    o.market_mut(base, asset)?.books.transfer(from, to, amount)
}

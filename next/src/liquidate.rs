//! One pair step of a liquidation, effects first: everything it would
//! change is computed and checked, then written by plain assignments that
//! cannot fail. A step that fails (an overflow, a venue that cannot fill)
//! has written nothing, so no state is saved before it and none restored
//! after: the kernel's unit of work without its state copy.
//!
//! The step: value the row once ([`health_terms`]), taking from the terms
//! the pair (largest weighted debt L, largest weighted collateral C, ties to
//! the lower index) and the debt's unweighted value; size it under the
//! policy ([`crate::policy`]); check that it raises maintenance health, from
//! the four terms that change rather than the whole row; sell the seizure
//! into C's pool and buy L back in L's (quote sides are paid directly); book
//! every flow; then write.

use crate::account::{credit, debit, health_terms, term, Health, Terms};
use crate::ledger::{Book, Books};

use crate::num::{ArithError, ArithResult, Index, Qty, Ratio, Round, Value, Weighted, RATIO_SCALE};
use crate::policy::{size, wanted, PairInputs, Policy};
use crate::pool::Pool;

/// Per-asset state a step reads and may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Market {
    /// The oracle price.
    pub oracle: crate::num::Price,
    /// The deposit index.
    pub index: Index,
    /// Where the asset trades (`None` for the quote, which is paid).
    pub pool: Option<Pool>,
    /// The oracle price net of the bonus a liquidator gets when this asset
    /// is seized ([`crate::num::Price::discounted`]), set with the oracle.
    pub discounted: crate::num::Price,
    /// The protocol's share of a sale's proceeds, `bonus·fee / (1 + bonus)`.
    pub fee_share: Ratio,
    /// The dust size of a debt in this asset.
    pub dust: Qty,
    /// Σ of positive stored balances (deposit shares).
    pub deposit_shares: Qty,
    /// The asset's books.
    pub books: Books,
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stepped {
    /// The liability repaid.
    pub liability: usize,
    /// The collateral seized.
    pub collateral: usize,
    /// Units of L repaid.
    pub repaid: Qty,
    /// Units of C seized.
    pub seized: Qty,
    /// Quote the seizure fetched.
    pub proceeds: Value,
    /// Quote the repayment cost.
    pub cost: Value,
    /// The protocol's fee, to the insurance fund.
    pub fee: Value,
    /// Maintenance health before and after.
    pub health: (Weighted, Weighted),
}

/// Why a step did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// Maintenance health is not negative.
    Healthy,
    /// Debt but no collateral: the waterfall's case.
    NoCollateral,
    /// The step is too small to beat rounding: it would lower health.
    Dust,
}

/// Why a step failed (nothing was written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An amount overflowed, or a parameter was out of its domain.
    Arith(ArithError),
    /// A venue could not fill the trade: the market is broken.
    VenueExhausted {
        /// The asset whose venue failed.
        asset: usize,
    },
}

impl From<ArithError> for Fault {
    fn from(e: ArithError) -> Self {
        Fault::Arith(e)
    }
}

/// The row's maintenance health, its pair and the debt's value.
struct Valued {
    health: Health,
    /// `(asset, weighted term)` of the largest debt (most negative term).
    liability: Option<(usize, Weighted)>,
    /// `(asset, weighted term)` of the largest collateral.
    collateral: Option<(usize, Weighted)>,
    /// Σ of the debts' unweighted values.
    debt_value: Value,
}

fn value_row(row: &[Qty], terms: &[Terms]) -> ArithResult<Valued> {
    let (mut liability, mut collateral) = (None::<(usize, Weighted)>, None::<(usize, Weighted)>);
    let mut debt_value = Value::ZERO;
    let mut overflow = false;
    let health = health_terms(row, terms, |asset, value, weighted| {
        if value.is_negative() {
            debt_value = debt_value.sub(value).unwrap_or_else(|_| {
                overflow = true;
                Value::ZERO
            });
            if liability.is_none_or(|(_, most)| weighted < most) {
                liability = Some((asset, weighted));
            }
        } else if collateral.is_none_or(|(_, best)| weighted > best) {
            collateral = Some((asset, weighted));
        }
    })?;
    if overflow {
        return Err(ArithError::Overflow);
    }
    Ok(Valued {
        health,
        liability,
        collateral,
        debt_value,
    })
}

/// `a × RATIO_SCALE <= t × b` exactly, for the health factor test
/// `a / b <= t`: a 128-by-64-bit product on each side, compared in 192 bits.
fn ratio_at_most(a: u128, b: u128, t: Ratio) -> bool {
    fn wide(x: u128, y: u64) -> (u128, u64) {
        let (hi, lo) = (x >> 64, x & u128::from(u64::MAX));
        let low = lo.wrapping_mul(u128::from(y));
        let high = hi.wrapping_mul(u128::from(y)).wrapping_add(low >> 64);
        (high, low as u64)
    }
    wide(a, RATIO_SCALE) <= wide(b, t.0)
}

/// Whether a close-factor step may repay the whole debt: the health factor
/// at or below its threshold, or a debt worth less than the small-debt line.
fn in_full(policy: &Policy, v: &Valued) -> bool {
    match *policy {
        Policy::Absorb => true,
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

fn get(row: &[Qty], i: usize) -> ArithResult<Qty> {
    row.get(i).copied().ok_or(ArithError::Domain)
}

/// A step's books, planned on copies of the quote's, L's and C's (a risky
/// side only when it is not the quote): each transfer checks both books it
/// moves, and the copies are written back only once all have.
struct Planned {
    quote: Books,
    liability: (usize, Books),
    collateral: (usize, Books),
}

impl Planned {
    fn new(markets: &[Market], l: usize, c: usize) -> ArithResult<Self> {
        let books = |a: usize| markets.get(a).map(|m| m.books).ok_or(ArithError::Domain);
        Ok(Self {
            quote: books(0)?,
            liability: (l, books(l)?),
            collateral: (c, books(c)?),
        })
    }

    fn transfer(&mut self, asset: usize, from: Book, to: Book, amount: Qty) -> ArithResult<()> {
        let books = match asset {
            0 => &mut self.quote,
            a if a == self.liability.0 => &mut self.liability.1,
            _ => &mut self.collateral.1,
        };
        books.transfer(from, to, amount)
    }

    fn apply(&self, markets: &mut [Market]) {
        for (asset, books) in [self.liability, self.collateral] {
            if let Some(m) = markets.get_mut(asset).filter(|_| asset != 0) {
                m.books = books;
            }
        }
        if let Some(m) = markets.first_mut() {
            m.books = self.quote;
        }
    }
}

/// Σ of positive stored balances after one changes from `old` to `new`.
fn shares_after(total: Qty, old: Qty, new: Qty) -> ArithResult<Qty> {
    total.sub(old.max(Qty::ZERO))?.add(new.max(Qty::ZERO))
}

/// Runs one pair step on `row` (its stored balances, one per market) with
/// maintenance `terms`. Writes the row, the two markets and the insurance
/// fund only if it returns `Ok(Ok(_))`.
pub fn liquidate_step(
    row: &mut [Qty],
    terms: &[Terms],
    markets: &mut [Market],
    insurance: &mut Value,
    policy: &Policy,
) -> Result<Result<Stepped, Idle>, Fault> {
    if row.len() != markets.len() || terms.len() != markets.len() {
        return Err(ArithError::Domain.into());
    }
    // Plan: read only.
    let v = value_row(row, terms)?;
    if !v.health.is_liquidatable() {
        return Ok(Err(Idle::Healthy));
    }
    let (Some((l, old_l)), Some((c, old_c))) = (v.liability, v.collateral) else {
        return Ok(Err(Idle::NoCollateral));
    };
    let (ml, mc) = (
        markets.get(l).ok_or(ArithError::Domain)?,
        markets.get(c).ok_or(ArithError::Domain)?,
    );
    let (bl, bc) = (get(row, l)?, get(row, c)?);
    let pair = PairInputs {
        debt: bl.neg()?,
        held: bc.held(mc.index)?,
        liability_price: ml.oracle,
        collateral_discounted: mc.discounted,
        dust: ml.dust,
    };
    let (repay, seize) = size(&pair, wanted(policy, pair.debt, in_full(policy, &v))?)?;
    let (new_l, new_c) = (credit(bl, repay, ml.index)?, debit(bc, seize, mc.index)?);
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
    let (mut pool_c, mut pool_l) = (mc.pool, ml.pool);
    let proceeds = match pool_c.as_mut() {
        Some(pool) => pool.sell(seize)?,
        None => Value(seize.0),
    };
    let cost = match pool_l.as_mut() {
        Some(pool) => pool.buy(repay)?.ok_or(Fault::VenueExhausted { asset: l })?,
        None => Value(repay.0),
    };
    let fee = proceeds.scale(mc.fee_share, Round::Up)?;
    let mut books = Planned::new(markets, l, c)?;
    let quote = |v: Value| Qty(v.0);
    if c == 0 {
        books.transfer(0, Book::Accounts, Book::Keepers, seize)?;
    } else {
        books.transfer(c, Book::Accounts, Book::Venue, seize)?;
        books.transfer(0, Book::Venue, Book::Keepers, quote(proceeds))?;
    }
    if l == 0 {
        books.transfer(0, Book::Keepers, Book::Accounts, repay)?;
    } else {
        books.transfer(0, Book::Keepers, Book::Venue, quote(cost))?;
        books.transfer(l, Book::Venue, Book::Accounts, repay)?;
    }
    books.transfer(0, Book::Keepers, Book::Insurance, quote(fee))?;
    let insured = insurance.add(fee)?;
    let shares = (
        shares_after(ml.deposit_shares, bl, new_l)?,
        shares_after(mc.deposit_shares, bc, new_c)?,
    );

    // Apply: assignments only. Every index was read above.
    if let Some(slot) = row.get_mut(l) {
        *slot = new_l;
    }
    if let Some(slot) = row.get_mut(c) {
        *slot = new_c;
    }
    if let Some(m) = markets.get_mut(l) {
        m.pool = pool_l;
        m.deposit_shares = shares.0;
    }
    if let Some(m) = markets.get_mut(c) {
        m.pool = pool_c;
        m.deposit_shares = shares.1;
    }
    books.apply(markets);
    *insurance = insured;
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

/// The protocol's share of a sale's proceeds for a bonus and a fee share
/// of it: `⌈bonus·fee / (1 + bonus)⌉`.
pub fn fee_share(bonus: Ratio, fee: Ratio) -> ArithResult<Ratio> {
    let numerator = bonus.mul(fee, Round::Up)?;
    let one_plus = Ratio::ONE.add(bonus)?;
    let q = crate::num::div_round(
        i128::from(numerator.0).wrapping_mul(i128::from(RATIO_SCALE)),
        u128::from(one_plus.0),
        Round::Up,
    )?;
    u64::try_from(q)
        .map(Ratio)
        .map_err(|_| ArithError::Overflow)
}

#[cfg(test)]
mod tests;

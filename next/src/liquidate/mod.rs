//! A liquidation unit: pair steps sized by the policy, then the bad-debt
//! waterfall if the account is left with debt and no collateral.
//!
//! The unit plans on an overlay ([`overlay`]): a copy of the account's row,
//! of each market it touches (copied on its first write) and of the
//! insurance fund. Only once the whole plan has succeeded is it written,
//! by assignments that cannot fail. A unit that fails (an overflow, a venue
//! that cannot fill) has written nothing: no state is saved before it and
//! none restored after, where the kernel's unit copies the engine's whole
//! state first (docs/performance.md).
//!
//! The pair steps ([`step`]): close factor, one; absorb, until the debt is
//! cleared or the collateral is gone; to target, until liquidation-end
//! health is back at zero or the collateral is gone. A step too small to beat rounding
//! (it would lower health) marks its collateral as dust for the unit, and
//! the next is tried. The waterfall: [`waterfall`].

mod overlay;
mod step;
mod waterfall;

pub use step::Tiers;
pub use waterfall::MIN_DEPOSIT_INDEX;

use crate::ledger::Books;
use crate::num::{ArithError, ArithResult, Index, Qty, Ratio, Round, Value, Weighted, RATIO_SCALE};
use crate::policy::Policy;
use crate::pool::Pool;
use overlay::Overlay;

/// Per-asset state a unit reads and may write.
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

/// Why a unit failed (nothing was written).
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

/// One debt's way down the waterfall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The asset owed.
    pub asset: usize,
    /// The debt written off.
    pub written_off: Qty,
    /// The part the insurance fund bought back.
    pub covered: Qty,
    /// What the fund paid for it.
    pub insurance_paid: Value,
    /// The part taken from the asset's lenders through its index.
    pub socialized: Qty,
    /// The rest.
    pub unrecovered: Qty,
}

/// What a unit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liquidated<const A: usize> {
    /// Pair steps taken.
    pub steps: u32,
    /// The last of them.
    pub last: Option<Stepped>,
    /// Each debt the waterfall wrote off, by asset (none if the account
    /// kept collateral). An asset whose index moved needs its terms
    /// refreshed.
    pub written: [Option<Written>; A],
}

/// Liquidates the account whose stored balances are `row` (one per market),
/// with its health `tiers`, under `policy`. Writes the row, the markets it
/// touched and the insurance fund only when it returns `Ok`; `Ok(Err(_))`
/// says why it did nothing.
pub fn liquidate_unit<const A: usize>(
    row: &mut [Qty],
    tiers: Tiers<'_>,
    markets: &mut [Market],
    insurance: &mut Value,
    policy: &Policy,
) -> Result<Result<Liquidated<A>, Idle>, Fault> {
    if tiers.maint.len() != markets.len() || tiers.liq_end.len() != markets.len() {
        return Err(ArithError::Domain.into());
    }
    let base: &[Market] = markets;
    let mut o = Overlay::<A>::new(row, base, *insurance)?;
    let mut done = Liquidated {
        steps: 0,
        last: None,
        written: [None; A],
    };
    let mut skip = 0u32;
    let mut idle = Idle::Healthy;
    let tries = o.assets().saturating_mul(2).saturating_add(4);
    for _ in 0..tries {
        let first = done.steps == 0 && skip == 0;
        match step::pair_step(&mut o, base, tiers, policy, skip, first)? {
            Ok(stepped) => {
                done.steps = done.steps.saturating_add(1);
                done.last = Some(stepped);
                if matches!(policy, Policy::CloseFactor { .. }) {
                    break;
                }
            }
            Err(Idle::Dust) => {
                let c = step::value_row(o.row(), tiers.maint, skip)?.collateral;
                skip |= c.map_or(0, |(c, _)| 1u32.checked_shl(c as u32).unwrap_or(0));
            }
            Err(why) => {
                idle = why;
                break;
            }
        }
    }
    let owes = o.row().iter().any(|b| b.is_negative());
    let holds = o
        .row()
        .iter()
        .enumerate()
        .any(|(i, b)| b.is_positive() && skip.checked_shr(i as u32).unwrap_or(0) & 1 == 0);
    if owes && !holds {
        let written = &mut done.written;
        waterfall::bankrupt(&mut o, base, |w| {
            if let Some(slot) = written.get_mut(w.asset) {
                *slot = Some(w);
            }
        })?;
    } else if done.steps == 0 {
        return Ok(Err(idle));
    }
    o.apply(row, markets, insurance);
    Ok(Ok(done))
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

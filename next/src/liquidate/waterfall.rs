//! The bad-debt waterfall, planned on the unit's overlay, for an account
//! left with debt and no collateral: each debt is written off, then bought
//! back by the insurance fund as far as it can afford, then socialized over
//! the asset's lenders by lowering its deposit index (O(1)); the rest is
//! unrecovered. Penalties and fees come first implicitly: every liquidation
//! before paid them into the fund.

use super::overlay::Overlay;
use super::Market;
use crate::num::INDEX_SCALE;
use crate::num::{mul_div, signed_mul_div, ArithError, ArithResult, Index, Qty, Round, Value};
use crate::venue::VenueError;

/// The lowest deposit index: lenders keep at least a billionth of each
/// share, and a larger loss stays unrecovered rather than zeroing the pool.
pub const MIN_DEPOSIT_INDEX: Index = Index(1_000_000_000);
/// Tries at shrinking a risky debt's purchase until the fund affords it.
const INSURANCE_TRIES: usize = 8;

/// How much of `debt` in `asset` the fund buys back, and what it pays;
/// plans the purchase in the asset's venue.
fn cover<const A: usize, const N: usize>(
    o: &mut Overlay<A, N>,
    base: &[Market<N>],
    asset: usize,
    debt: Qty,
) -> ArithResult<(Qty, Value)> {
    let fund = o.insurance;
    if !fund.is_positive() {
        return Ok((Qty::ZERO, Value::ZERO));
    }
    if asset == 0 {
        let qty = debt.min(Qty(fund.0));
        return Ok((qty, Value(qty.0)));
    }
    let Some(venue) = o.state(base, asset)?.venue else {
        return Ok((Qty::ZERO, Value::ZERO));
    };
    let mut qty = debt;
    for _ in 0..INSURANCE_TRIES {
        if !qty.is_positive() {
            break;
        }
        match venue.plan(qty.neg()?) {
            Ok(trade) => {
                let cost = trade.fill().quote_out.neg()?;
                if cost <= fund {
                    if let Some(v) = o.plan(base, asset)?.state.venue.as_mut() {
                        v.apply(&trade);
                    }
                    return Ok((qty, cost));
                }
                // Too dear: scale down by what the fund affords (a convex
                // cost makes the smaller purchase cheaper per unit).
                let scaled = mul_div(
                    qty.0.unsigned_abs(),
                    fund.0.unsigned_abs(),
                    cost.0.unsigned_abs(),
                    false,
                )?;
                qty = Qty(scaled.min(qty.0.saturating_sub(1)));
            }
            // More than the venue can sell: half as much.
            Err(VenueError::Exhausted) => qty = Qty(qty.0 / 2),
            Err(VenueError::Arith(e)) => return Err(e),
            Err(VenueError::Invalid(_)) => return Err(ArithError::Domain),
        }
    }
    Ok((Qty::ZERO, Value::ZERO))
}

/// How much of `loss` the lenders of `asset` absorb, and the index that
/// takes it from them: `⌊(deposits − loss)·10^18 / shares⌋`, never below
/// [`MIN_DEPOSIT_INDEX`].
pub(crate) fn haircut(shares: Qty, index: Index, loss: Qty) -> ArithResult<Option<(Qty, Index)>> {
    if !loss.is_positive() || !shares.is_positive() {
        return Ok(None);
    }
    let deposits = shares.held(index)?;
    let kept = Qty(signed_mul_div(
        shares.0,
        MIN_DEPOSIT_INDEX.0,
        INDEX_SCALE,
        Round::Up,
    )?);
    let socialized = loss.min(deposits.sub(kept)?.max(Qty::ZERO));
    if !socialized.is_positive() {
        return Ok(None);
    }
    let left = deposits.sub(socialized)?;
    let new_index = signed_mul_div(left.0, INDEX_SCALE, shares.0.unsigned_abs(), Round::Down)?;
    match u64::try_from(new_index) {
        Ok(i) if i > 0 => Ok(Some((socialized, Index(i)))),
        _ => Ok(None),
    }
}

/// Plans the waterfall for every debt of the planned row; its records are
/// the overlay's ([`Overlay::written`]).
#[inline(never)]
pub(super) fn bankrupt<const A: usize, const N: usize>(
    o: &mut Overlay<A, N>,
    base: &[Market<N>],
    blocked: u32,
) -> ArithResult<()> {
    for asset in 0..o.assets() {
        let stored = o.balance(asset)?;
        // A debt in an asset blocked this round (a halt, a stale oracle)
        // stays, for a round that may touch it.
        let held = blocked.checked_shr(asset as u32).unwrap_or(0) & 1 == 1;
        if !stored.is_negative() || held {
            continue;
        }
        let debt = stored.neg()?;
        let (covered, paid) = cover(o, base, asset, debt)?;
        let left = debt.sub(covered)?;
        let state = o.state(base, asset)?;
        let socialized = base.get(asset).is_some_and(|m| m.socialized);
        let cut = match socialized {
            true => haircut(state.deposit_shares, state.index, left)?,
            false => None,
        };
        o.set_balance(asset, Qty::ZERO)?;
        let planned = o.plan(base, asset)?;
        let socialized = match cut {
            Some((socialized, index)) => {
                planned.state.index = index;
                socialized
            }
            None => Qty::ZERO,
        };
        let flows = &mut planned.flows;
        flows.written_off = flows.written_off.add(debt)?;
        flows.covered = flows.covered.add(covered)?;
        flows.socialized = flows.socialized.add(socialized)?;
        flows.insurance_paid = flows.insurance_paid.add(paid)?;
        o.insurance = o.insurance.sub(paid)?;
    }
    if o.insurance.is_negative() {
        return Err(ArithError::Domain);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_haircut_takes_the_loss_from_the_index_and_keeps_a_floor() {
        // 1,000 shares at index 1 lose 250: index 0.75.
        assert_eq!(
            haircut(Qty(1_000), Index::ONE, Qty(250)),
            Ok(Some((Qty(250), Index(INDEX_SCALE / 4 * 3))))
        );
        // A loss past the deposits leaves the floor.
        let (taken, index) = haircut(Qty(1_000_000_000_000), Index::ONE, Qty(i64::MAX))
            .unwrap()
            .unwrap();
        assert_eq!(index, MIN_DEPOSIT_INDEX);
        assert_eq!(taken, Qty(1_000_000_000_000 - 1_000));
        assert_eq!(haircut(Qty(0), Index::ONE, Qty(5)), Ok(None));
        assert_eq!(haircut(Qty(10), Index::ONE, Qty(0)), Ok(None));
    }
}

//! A liquidation unit: pair steps sized by the policy, then the bad-debt
//! waterfall if the account is left with debt and no collateral.
//!
//! Each step is a plan first ([`step`]): every value it will write,
//! computed from a view of the state. A unit that ends with its first step
//! writes that plan directly. One that goes on plans on an overlay
//! ([`overlay`]): a copy of the account's row, of the part of each market
//! it changes (copied on its first write), the amounts it moves and the
//! insurance fund. Only once the whole plan has succeeded is it written,
//! by assignments and transfers that cannot fail. A unit that fails (an
//! overflow, a venue that cannot fill) has written nothing: no state is
//! saved before it and none restored after, where the kernel's unit copies
//! the engine's whole state first (docs/performance.md).
//!
//! The pair steps ([`step`]): close factor, one; absorb, until the debt is
//! cleared or the collateral is gone; to target, until liquidation-end
//! health is back at zero or the collateral is gone. A step too small to beat rounding
//! (it would lower health) marks its collateral as dust for the unit, and
//! the next is tried. The waterfall: [`waterfall`]. Containment's limits on
//! a round's units: [`gate`].

mod gate;
mod overlay;
mod step;
mod waterfall;

pub use gate::Gate;
pub(crate) use step::shares_after;
pub use step::Tiers;
pub(crate) use waterfall::haircut;
pub use waterfall::MIN_DEPOSIT_INDEX;

use crate::account::Terms;
use crate::ledger::Books;
use crate::num::{ArithError, ArithResult, Index, Qty, Ratio, Round, Value, Weighted, RATIO_SCALE};
use crate::policy::Policy;
use crate::venue::{Venue, VenueError, MAX_BOOK_LEVELS};
use overlay::Overlay;

/// Per-asset state a unit reads and may write. `N` is the most levels a
/// side an order-book venue can have ([`Venue`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Market<const N: usize = MAX_BOOK_LEVELS> {
    /// The oracle price.
    pub oracle: crate::num::Price,
    /// The oracle price net of the bonus a liquidator gets when this asset
    /// is seized ([`crate::num::Price::discounted`]), set with the oracle.
    pub discounted: crate::num::Price,
    /// The protocol's share of a sale's proceeds, `bonus·fee / (1 + bonus)`.
    pub fee_share: Ratio,
    /// The dust size of a debt in this asset.
    pub dust: Qty,
    /// Whether a loss left in this asset is taken from its lenders by
    /// lowering the deposit index (else it is left unrecovered, for the
    /// engine's auto-deleveraging to take from the opposite side).
    pub socialized: bool,
    /// Whether a sale of this asset is paid at the oracle price, the
    /// round's clearing price under equilibrium settlement, the venue
    /// keeping what its curve paid above it.
    pub clears_at_oracle: bool,
    /// What a unit may change.
    pub state: MarketState<N>,
    /// The asset's books.
    pub books: Books,
}

/// The part of a market a unit changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketState<const N: usize = MAX_BOOK_LEVELS> {
    /// The deposit index.
    pub index: Index,
    /// Where the asset trades (`None` for the quote, which is paid).
    pub venue: Option<Venue<N>>,
    /// Σ of positive stored balances (deposit shares).
    pub deposit_shares: Qty,
}

/// What a step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
    /// What is left to repay or seize is held back this round: blocked, or
    /// collateral whose room is spent ([`Gate`]).
    Waiting,
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

impl Fault {
    /// A venue's refusal of a trade in `asset`.
    fn venue(asset: usize, e: VenueError) -> Self {
        match e {
            VenueError::Exhausted => Fault::VenueExhausted { asset },
            VenueError::Arith(e) => Fault::Arith(e),
            VenueError::Invalid(_) => Fault::Arith(ArithError::Domain),
        }
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
    /// The part taken from the opposite side of the account's position
    /// (auto-deleveraging; the engine fills it in).
    pub deleveraged: Qty,
    /// The rest.
    pub unrecovered: Qty,
}

/// What a unit moved in one asset, summed over its steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// The asset.
    pub asset: usize,
    /// Units seized from the account (sold into the venue; the quote, paid
    /// to the keepers).
    pub seized: Qty,
    /// Units repaid to the account (bought from the venue; the quote, paid
    /// by the keepers).
    pub repaid: Qty,
    /// Quote the asset's trades moved: the proceeds of its sale or the cost
    /// of its purchase (for the quote itself, the amount paid).
    pub traded: Value,
    /// The protocol's fee on its sale.
    pub fee: Value,
}

/// What a unit that wrote hands its caller, after it wrote: what it moved
/// in each asset it touched, then each debt it wrote off. A caller that
/// ignores the first (the engine without an event sink) pays nothing for
/// it: its code is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// What the unit moved in one asset.
    Moved(Moved),
    /// One debt's way down the waterfall.
    Written(Written),
}

/// What a unit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liquidated {
    /// Pair steps taken.
    pub steps: u32,
    /// The last of them.
    pub last: Option<Stepped>,
    /// Whether the account's debts went down the waterfall (each one's
    /// record went to the unit's `written`). An asset whose index moved
    /// needs its terms refreshed.
    pub bankrupt: bool,
    /// Whether the unit is known to have left the row owing nothing (one
    /// that ended with its first step says so): such an account has no
    /// health to watch until its balances change, and needs no valuing.
    pub settled: bool,
    /// Whether the unit stopped at a pair its gate held back: the account
    /// waits for a later round.
    pub waiting: bool,
}

/// Liquidates the account whose stored balances are `row` (one per market),
/// with its health `tiers`, under `policy`, over at most `A` assets. Writes
/// the row, the markets it touched and the insurance fund only when it
/// returns `Ok`, and only then hands what it moved and each debt it wrote
/// off to `record`;
/// `Ok(Err(_))` says why it did nothing. Under containment each step is
/// held to `gate` ([`Gate`]), which the unit charges only when it writes.
///
/// The first step is planned on the state itself, and a unit that ends
/// with it (a close-factor step, an absorb that clears the debt, a
/// to-target step that restores the target: most units) writes that plan
/// directly. A unit that goes on, or down the waterfall, continues on an
/// overlay ([`overlay`]).
/// Inlined into its one caller, the engine's round: out of line it cost
/// 18 instructions a liquidation more on the 10^5 decline (callgrind).
#[inline(always)]
pub fn liquidate_unit<const A: usize, const N: usize, const G: usize>(
    row: &mut [Qty],
    tiers: Tiers<'_>,
    markets: &mut [Market<N>],
    insurance: &mut Value,
    policy: &Policy,
    gate: Option<&mut Gate<G>>,
    mut record: impl FnMut(Record),
) -> Result<Result<Liquidated, Idle>, Fault> {
    if tiers.maint.len() != markets.len()
        || tiers.liq_end.len() != markets.len()
        || row.len() != markets.len()
        || markets.len() > A
    {
        return Err(ArithError::Domain.into());
    }
    let direct = step::Direct {
        row,
        markets,
        insurance: *insurance,
    };
    // A gate for no assets is none: its code is not linked.
    let gate = gate.filter(|_| G > 0);
    let mut plan = step::StepPlan::default();
    let limits = step::Limits::of(gate.as_deref(), 0);
    let first = step::plan_step(&direct, markets, tiers, policy, limits, true, &mut plan)?;
    if first.is_ok() {
        let (ends, owes) = ends_with(policy, &plan);
        if ends {
            if let Some(g) = gate {
                *g = charged(g, markets, &plan)?;
            }
            plan.write(row, markets, insurance);
            plan.moved()
                .into_iter()
                .for_each(|m| record(Record::Moved(m)));
            return Ok(Ok(Liquidated {
                steps: 1,
                last: Some(plan.stepped),
                bankrupt: false,
                settled: !owes,
                waiting: false,
            }));
        }
    }
    on_overlay::<A, N, G>(
        row,
        tiers,
        markets,
        insurance,
        policy,
        (gate, record),
        (first, &mut plan),
    )
}

/// `gate` after charging it the planned step `plan`: the debt value repaid
/// at the liability's oracle price, rounded up, and the sale's proceeds
/// less the fee, owed back to the keepers.
fn charged<const G: usize, const N: usize>(
    gate: &Gate<G>,
    markets: &[Market<N>],
    plan: &step::StepPlan,
) -> ArithResult<Gate<G>> {
    let s = &plan.stepped;
    let oracle = step::market(markets, s.liability)?.oracle;
    let repaid = s.repaid.value(oracle, Round::Up)?;
    let mut after = *gate;
    after.charge(s.collateral, repaid, s.proceeds.sub(s.fee)?)?;
    Ok(after)
}

/// The rest of a unit that does not end with its first step `first`
/// (planned into `plan`, which later steps are planned into in turn): on an
/// overlay, further steps and the waterfall. Out of line: its overlay (a
/// copy of each market it changes) takes no stack in the units that end
/// with their first step.
#[inline(never)]
fn on_overlay<const A: usize, const N: usize, const G: usize>(
    row: &mut [Qty],
    tiers: Tiers<'_>,
    markets: &mut [Market<N>],
    insurance: &mut Value,
    policy: &Policy,
    (gate, mut record): (Option<&mut Gate<G>>, impl FnMut(Record)),
    (first, plan): (Result<(), Idle>, &mut step::StepPlan),
) -> Result<Result<Liquidated, Idle>, Fault> {
    let base: &[Market<N>] = markets;
    let mut o = Overlay::<A, N>::new(row, base, *insurance)?;
    let mut done = Liquidated {
        steps: 0,
        last: None,
        bankrupt: false,
        settled: false,
        waiting: false,
    };
    // The unit's own copy of the gate, charged step by step.
    let mut planned_gate = gate.as_deref().copied();
    let mut skip = 0u32;
    let mut idle = Idle::Healthy;
    let mut next = Some(first);
    let tries = o.assets().saturating_mul(2).saturating_add(4);
    for _ in 0..tries {
        let limits = step::Limits::of(planned_gate.as_ref(), skip);
        let planned = match next.take() {
            Some(first) => first,
            None => step::plan_step(&o.view(base), base, tiers, policy, limits, false, plan)?,
        };
        match planned {
            Ok(()) => {
                o.write(base, plan)?;
                if let Some(g) = planned_gate.as_mut() {
                    *g = charged(g, base, plan)?;
                }
                done.steps = done.steps.saturating_add(1);
                done.last = Some(plan.stepped);
                let masks = step::Limits::of(planned_gate.as_ref(), skip).masks;
                if !goes_on(policy, plan.target_met, owes_and_holds(o.row(), masks)) {
                    break;
                }
            }
            Err(Idle::Dust) => skip |= dust_bit::<G>(o.row(), tiers.maint, limits.masks)?,
            Err(why) => {
                done.waiting = why == Idle::Waiting;
                idle = why;
                break;
            }
        }
    }
    let masks = step::Limits::of(planned_gate.as_ref(), skip).masks;
    let (owes, holds) = owes_and_holds(o.row(), masks);
    if owes && !holds {
        waterfall::bankrupt(&mut o, base, masks.blocked)?;
        done.bankrupt = true;
    } else if done.steps == 0 {
        return Ok(Err(idle));
    }
    o.apply(row, markets, insurance);
    if let (Some(g), Some(after)) = (gate, planned_gate) {
        *g = after;
    }
    o.moved().for_each(|m| record(Record::Moved(m)));
    o.written().for_each(|w| record(Record::Written(w)));
    Ok(Ok(done))
}

/// Whether `row` owes anything in an asset not blocked, and whether it
/// holds collateral outside `skip` (collateral marked as dust for the
/// unit; held-back collateral is still collateral).
fn owes_and_holds(row: &[Qty], masks: step::Masks) -> (bool, bool) {
    let (mut owes, mut holds) = (false, false);
    let bit = |mask: u32, i: usize| mask.checked_shr(i as u32).unwrap_or(0) & 1 == 1;
    for (i, b) in row.iter().enumerate() {
        owes |= b.is_negative() && !bit(masks.blocked, i);
        holds |= b.is_positive() && !bit(masks.skip, i);
    }
    (owes, holds)
}

/// The bit of the collateral a step on `row` picks (none: 0), marked as
/// dust for the unit when the step is too small to beat rounding.
fn dust_bit<const G: usize>(row: &[Qty], maint: &[Terms], masks: step::Masks) -> ArithResult<u32> {
    let c = step::value_row::<G>(row, maint, masks)?.collateral;
    Ok(c.map_or(0, |(c, _)| 1u32.checked_shl(c as u32).unwrap_or(0)))
}

/// Whether the policy takes another step after one that restored the
/// target or not (`target_met`), given whether the row then owes and
/// holds: a close-factor unit takes one; absorb goes on while a debt and
/// collateral are left; to target, until liquidation-end health is
/// restored.
fn goes_on(policy: &Policy, target_met: bool, (owes, holds): (bool, bool)) -> bool {
    let more = owes && holds;
    match policy {
        Policy::CloseFactor { .. } => false,
        Policy::Absorb => more,
        Policy::ToTarget => more && !target_met,
    }
}

/// Adds to `sold` what the policy would sell of each risky asset if it
/// liquidated the account whose stored balances are `row` at the markets'
/// oracle prices now, without trading or writing anything: the unit's own
/// sizing ([`step::size_step`]) and walk over pairs, on a copy of the row,
/// with no gate. The demand side of equilibrium settlement
/// (docs/equilibrium.md).
pub fn planned_sales<const A: usize, const N: usize>(
    row: &[Qty],
    tiers: Tiers<'_>,
    markets: &[Market<N>],
    policy: &Policy,
    sold: &mut [Qty],
) -> Result<(), Fault> {
    let n = markets.len();
    if row.len() != n || n > A || sold.len() != n || tiers.maint.len() != n {
        return Err(ArithError::Domain.into());
    }
    let mut copy = [Qty::ZERO; A];
    copy.iter_mut().zip(row).for_each(|(c, b)| *c = *b);
    let copy = copy.get_mut(..n).ok_or(ArithError::Domain)?;
    let mut skip = 0u32;
    let tries = n.saturating_mul(2).saturating_add(4);
    for attempt in 0..tries {
        let view = step::Direct {
            row: copy,
            markets,
            insurance: Value::ZERO,
        };
        let limits = step::Limits::<0>::of(None, skip);
        match step::size_step(&view, markets, tiers, policy, limits, attempt == 0)? {
            Ok(s) => {
                let (l, c) = s.pair;
                for (asset, balance) in [l, c].into_iter().zip(s.balances.1) {
                    *copy.get_mut(asset).ok_or(ArithError::Domain)? = balance;
                }
                if c != 0 {
                    let total = sold.get_mut(c).ok_or(ArithError::Domain)?;
                    *total = total.add(s.seize)?;
                }
                if !goes_on(policy, s.target_met, owes_and_holds(copy, limits.masks)) {
                    break;
                }
            }
            Err(Idle::Dust) => skip |= dust_bit::<0>(copy, tiers.maint, limits.masks)?,
            Err(_) => break,
        }
    }
    Ok(())
}

/// Whether a unit ends with its first step `plan` and writes nothing else:
/// no further step ([`goes_on`]) and no waterfall (a debt left with no
/// collateral); and whether the row then owes anything.
fn ends_with(policy: &Policy, plan: &step::StepPlan) -> (bool, bool) {
    let [l, c] = plan.balances;
    let owes = plan.others.0 || l.is_negative() || c.is_negative();
    let holds = plan.others.1 || l.is_positive() || c.is_positive();
    let bankrupt = owes && !holds;
    (
        !bankrupt && !goes_on(policy, plan.target_met, (owes, holds)),
        owes,
    )
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

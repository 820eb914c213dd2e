//! One pair step, planned on the unit's overlay.
//!
//! Value the row once ([`health_terms`]), taking from its terms the pair
//! (largest weighted debt L, largest weighted collateral C not skipped as
//! dust, ties to the lower index) and the debts' unweighted value; size the
//! step under the policy ([`crate::policy`]); check that it raises
//! maintenance health, from the four terms that change rather than the
//! whole row; sell the seizure into C's venue and buy L back in L's (a
//! quote side is paid directly). The step is a plan ([`StepPlan`]): every value
//! it writes, computed from a [`View`] of the state, and written by the
//! unit only once the unit's whole plan has succeeded.

use super::overlay::{Flows, QuoteFlows};
use super::{Fault, Gate, Idle, Market, MarketState, Moved, Stepped};
use crate::account::{credit, debit, health_terms, term, Health, Terms};
use crate::num::{ArithError, ArithResult, Qty, Ratio, Round, Value, Weighted, RATIO_SCALE};
use crate::num::{Index, Price};
use crate::policy::{gain_per_value, size, to_target, wanted, PairInputs, Policy};
use crate::venue::Trade;

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
    /// How many balances are debts, and how many deposits (skipped or
    /// not): whether the row owes or holds anything besides a pair.
    pub counts: (u32, u32),
    /// Whether the pick passed over a debt, or (no collateral found) over
    /// collateral, that the gate holds back: the account waits.
    pub held_back: bool,
}

/// What a step passes over, bit `i` for asset `i`: collateral marked as
/// dust for the unit (`skip`), and what the unit's gate holds back now:
/// assets blocked (`blocked`, either side) and collateral whose room is
/// spent (`spent`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Masks {
    /// Collateral marked as dust.
    pub skip: u32,
    /// Assets blocked this round.
    pub blocked: u32,
    /// Collateral whose room is spent.
    pub spent: u32,
}

/// What limits a step: its masks and the gate its room comes from.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits<'g, const A: usize> {
    /// What the step passes over.
    pub masks: Masks,
    /// The unit's gate, under containment.
    pub gate: Option<&'g Gate<A>>,
}

impl<'g, const A: usize> Limits<'g, A> {
    /// The limits of a step under `gate` with `skip` marked as dust.
    pub fn of(gate: Option<&'g Gate<A>>, skip: u32) -> Self {
        Self {
            masks: Masks {
                skip,
                blocked: gate.map_or(0, |g| g.blocked),
                spent: gate.map_or(0, Gate::spent),
            },
            gate,
        }
    }
}

/// Values `row` and picks its pair, passing over what `masks` holds back
/// (under a gate for `G` assets; none when `G` is zero).
pub(super) fn value_row<const G: usize>(
    row: &[Qty],
    terms: &[Terms],
    masks: Masks,
) -> ArithResult<Valued> {
    // A row no gate holds back (every row without containment) takes the
    // loop without the gate's tests; an engine built without a gate has
    // no other.
    match G > 0 && masks.blocked | masks.spent != 0 {
        false => value_row_in::<false>(row, terms, masks),
        true => value_row_in::<true>(row, terms, masks),
    }
}

/// [`value_row`], reading the gate's masks only when `HELD`.
#[inline(always)]
fn value_row_in<const HELD: bool>(
    row: &[Qty],
    terms: &[Terms],
    masks: Masks,
) -> ArithResult<Valued> {
    let (mut liability, mut collateral) = (None::<(usize, Weighted)>, None::<(usize, Weighted)>);
    let mut debt_value = Some(Value::ZERO);
    let (mut debts, mut deposits) = (0u32, 0u32);
    let masks = match HELD {
        true => masks,
        false => Masks {
            skip: masks.skip,
            ..Masks::default()
        },
    };
    let held = masks.blocked | masks.spent;
    let passed = masks.skip | held;
    let health = health_terms(row, terms, |asset, b, value, weighted| {
        debts = debts.saturating_add(u32::from(b.is_negative()));
        deposits = deposits.saturating_add(u32::from(b.is_positive()));
        if value.is_negative() {
            debt_value = debt_value.and_then(|d| d.sub(value).ok());
            if !bit(masks.blocked, asset) && liability.is_none_or(|(_, most)| weighted < most) {
                liability = Some((asset, weighted));
            }
        } else if !bit(passed, asset) && collateral.is_none_or(|(_, best)| weighted > best) {
            collateral = Some((asset, weighted));
        }
    })?;
    // Rare (no pair): whether the pick passed over something held back.
    let passed_over = |debt: bool| {
        row.iter().enumerate().any(|(i, b)| match debt {
            true => b.is_negative() && bit(masks.blocked, i),
            false => b.is_positive() && !bit(masks.skip, i) && bit(held, i),
        })
    };
    let held_back = match (liability, collateral) {
        (None, _) => masks.blocked != 0 && passed_over(true),
        (Some(_), None) => held != 0 && passed_over(false),
        _ => false,
    };
    Ok(Valued {
        health,
        liability,
        collateral,
        debt_value: debt_value.ok_or(ArithError::Overflow)?,
        counts: (debts, deposits),
        held_back,
    })
}

/// Whether `mask` has asset `asset`'s bit.
fn bit(mask: u32, asset: usize) -> bool {
    mask.checked_shr(asset as u32).unwrap_or(0) & 1 == 1
}

/// `a / b <= t` exactly, as `a × 10^9 <= t × b`: a 128-by-64-bit product on
/// each side, compared in 192 bits.
pub(super) fn ratio_at_most(a: u128, b: u128, t: Ratio) -> bool {
    // Most healths are under 2^98 weighted units: 128 bits hold both sides.
    if let (Some(x), Some(y)) = (
        a.checked_mul(u128::from(RATIO_SCALE)),
        b.checked_mul(u128::from(t.0)),
    ) {
        return x <= y;
    }
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
            v.debt_value < full_close_debt_value || ratio_at_most(a, l, full_close_health_factor)
        }
    }
}

/// Σ of positive stored balances after one changes from `old` to `new`.
pub(crate) fn shares_after(total: Qty, old: Qty, new: Qty) -> ArithResult<Qty> {
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

/// What a step reads: the row and the markets' state, as they stand or as
/// a unit has planned them so far.
pub(super) trait View<const N: usize> {
    /// The row.
    fn row(&self) -> &[Qty];
    /// Market `asset`'s state.
    fn state(&self, asset: usize) -> ArithResult<&MarketState<N>>;
    /// The insurance fund.
    fn insurance(&self) -> Value;
}

/// The state as it stands: a unit's first step reads it directly.
pub(super) struct Direct<'a, const N: usize> {
    /// The account's row.
    pub row: &'a [Qty],
    /// The markets.
    pub markets: &'a [Market<N>],
    /// The insurance fund.
    pub insurance: Value,
}

impl<const N: usize> View<N> for Direct<'_, N> {
    fn row(&self) -> &[Qty] {
        self.row
    }
    fn state(&self, asset: usize) -> ArithResult<&MarketState<N>> {
        market(self.markets, asset).map(|m| &m.state)
    }
    fn insurance(&self) -> Value {
        self.insurance
    }
}

/// A pair step planned and not yet written: what it did, and every value it
/// writes. Its two sides are indexed 0 (L) and 1 (C).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct StepPlan {
    /// What the step did.
    pub stepped: Stepped,
    /// L's and C's stored balances after.
    pub balances: [Qty; 2],
    /// The purchase of L and the sale of C in their venues (none for the
    /// quote, which is paid directly).
    pub trades: [Option<Trade>; 2],
    /// L's and C's deposit shares after.
    pub shares: [Qty; 2],
    /// The insurance fund after the fee.
    pub insurance: Value,
    /// What C's venue paid along its curve above the proceeds, which it
    /// keeps (equilibrium settlement; zero otherwise).
    pub surplus: Value,
    /// To target: whether the step restored liquidation-end health.
    pub target_met: bool,
    /// Whether the row owes, and whether it holds, anything besides the
    /// pair: with [`Self::balances`], all a unit needs to know whether
    /// it goes on.
    pub others: (bool, bool),
}

impl StepPlan {
    /// C's and L's flows and the quote's: what the step books.
    pub fn flows(&self) -> (Flows, Flows, QuoteFlows) {
        let s = &self.stepped;
        let seized = Flows {
            seized: s.seized,
            ..Flows::default()
        };
        let repaid = Flows {
            repaid: s.repaid,
            ..Flows::default()
        };
        let quote = QuoteFlows {
            proceeds: if s.collateral != 0 {
                s.proceeds
            } else {
                Value::ZERO
            },
            cost: if s.liability != 0 {
                s.cost
            } else {
                Value::ZERO
            },
            fee: s.fee,
            surplus: self.surplus,
        };
        (seized, repaid, quote)
    }

    /// What the step moved in its two assets, L's first.
    pub fn moved(&self) -> [Moved; 2] {
        let s = &self.stepped;
        [
            Moved {
                asset: s.liability,
                repaid: s.repaid,
                traded: s.cost,
                ..Moved::default()
            },
            Moved {
                asset: s.collateral,
                seized: s.seized,
                traded: s.proceeds,
                fee: s.fee,
                ..Moved::default()
            },
        ]
    }

    /// Writes side `side`'s trade and shares to the state they were planned
    /// on.
    pub fn write_state<const N: usize>(&self, side: usize, state: &mut MarketState<N>) {
        if let (Some(venue), Some(Some(trade))) = (state.venue.as_mut(), self.trades.get(side)) {
            venue.apply(trade);
        }
        if let Some(shares) = self.shares.get(side) {
            state.deposit_shares = *shares;
        }
    }

    /// Writes the step to the state itself, which it was planned on:
    /// assignments and transfers, none of which can fail (the step checked
    /// the assets and the row).
    pub fn write<const N: usize>(
        &self,
        row: &mut [Qty],
        markets: &mut [Market<N>],
        insurance: &mut Value,
    ) {
        let s = &self.stepped;
        let (seized, repaid, quote) = self.flows();
        for (side, asset, flows) in [(0, s.liability, repaid), (1, s.collateral, seized)] {
            if let (Some(b), Some(balance)) = (row.get_mut(asset), self.balances.get(side)) {
                *b = *balance;
            }
            if let Some(m) = markets.get_mut(asset) {
                self.write_state(side, &mut m.state);
                flows.book(asset, &mut m.books);
            }
        }
        if let Some(m) = markets.first_mut() {
            quote.book(&mut m.books);
        }
        *insurance = self.insurance;
    }
}

/// Plans a trade of `base_in` base units into `asset`'s venue (negative:
/// out of it): the trade and the quote the venue pays (negative: charges).
/// The quote asset has no venue: its amount is paid as is.
fn trade<const N: usize>(
    state: &MarketState<N>,
    asset: usize,
    base_in: Qty,
) -> Result<(Option<Trade>, Value), Fault> {
    match &state.venue {
        None => Ok((None, Value(base_in.0))),
        Some(venue) => {
            let trade = venue.plan(base_in).map_err(|e| Fault::venue(asset, e))?;
            Ok((Some(trade), trade.fill().quote_out))
        }
    }
}

/// A pair step sized and checked, before it trades: all that the unit's
/// plan and the equilibrium's demand ([`super::planned_sales`]) share.
pub(super) struct Sized {
    /// The liability repaid and the collateral seized.
    pub pair: (usize, usize),
    /// Units of L repaid.
    pub repay: Qty,
    /// Units of C seized.
    pub seize: Qty,
    /// L's and C's stored balances before and after.
    pub balances: ([Qty; 2], [Qty; 2]),
    /// Maintenance health before and after.
    pub health: (Weighted, Weighted),
    /// To target: whether the step restored liquidation-end health.
    pub target_met: bool,
    /// Whether the row owes, and whether it holds, anything besides the
    /// pair.
    pub others: (bool, bool),
}

/// Sizes one pair step on `view` under the policy, with what `limits`
/// holds back passed over, and checks that it raises maintenance health.
/// The unit's first step requires maintenance health below zero; later
/// steps (absorb, to-target) go on while the policy wants more. Only a
/// close-factor step asks whether to close in full, and a close-factor unit
/// takes one step: the decision is made from the row the unit started with.
#[inline(always)]
pub(super) fn size_step<const G: usize, const N: usize>(
    view: &impl View<N>,
    base: &[Market<N>],
    tiers: Tiers<'_>,
    policy: &Policy,
    limits: Limits<'_, G>,
    first: bool,
) -> Result<Result<Sized, Idle>, Fault> {
    let terms = tiers.maint;
    let row = view.row();
    let v = value_row::<G>(row, terms, limits.masks)?;
    if first && !v.health.is_liquidatable() {
        return Ok(Err(Idle::Healthy));
    }
    let (Some((l, old_l)), Some((c, old_c))) = (v.liability, v.collateral) else {
        return Ok(Err(match v.held_back {
            true => Idle::Waiting,
            false => Idle::NoCollateral,
        }));
    };
    let full = in_full(policy, &v);
    let (ml, mc) = (market(base, l)?, market(base, c)?);
    let (sl, sc) = (view.state(l)?, view.state(c)?);
    let (bl, bc) = (get(row, l)?, get(row, c)?);
    // The most the gate lets the step repay, in L's base units (an engine
    // built without a gate has none: `G` is zero).
    let gate = limits.gate.filter(|_| G > 0);
    let room = match gate.and_then(|g| g.room(c)) {
        Some(value) => Some(value.qty(ml.oracle, Round::Down)?),
        None => None,
    };
    let pair = PairInputs {
        debt: bl.neg()?,
        held: bc.held(sc.index)?,
        liability_price: ml.oracle,
        collateral_discounted: mc.discounted,
        dust: ml.dust,
        room,
    };
    let (repay, seize, target_met) = match policy {
        Policy::ToTarget => {
            let prices = (mc.oracle, mc.discounted);
            let indices = (sl.index, sc.index);
            match to_target_step(row, tiers.liq_end, (l, c), indices, &pair, prices)? {
                Some(sized) => sized,
                None => return Ok(Err(Idle::Healthy)),
            }
        }
        _ => {
            let (repay, seize) = size(&pair, wanted(policy, pair.debt, full)?)?;
            (repay, seize, false)
        }
    };
    let (new_l, new_c) = (credit(bl, repay, sl.index)?, debit(bc, seize, sc.index)?);
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
        // Cut short by the gate's room (a room worth less than a base unit
        // of the debt, or too little to beat rounding): the pair waits for
        // a round with room; it is not dust.
        let cut = room.is_some_and(|r| repay >= r);
        return Ok(Err(if cut { Idle::Waiting } else { Idle::Dust }));
    }
    Ok(Ok(Sized {
        pair: (l, c),
        repay,
        seize,
        balances: ([bl, bc], [new_l, new_c]),
        health: (before, after),
        target_met,
        // The pair is one debt and one deposit.
        others: (v.counts.0 > 1, v.counts.1 > 1),
    }))
}

/// Plans one pair step on `view` ([`size_step`]) into `out` (written only
/// when the step is planned: a plan is large, and returned by value it was
/// copied twice a unit): the sale of the seizure into C's venue and the
/// purchase of L in L's (a quote side is paid directly).
#[inline(never)]
pub(super) fn plan_step<const G: usize, const N: usize>(
    view: &impl View<N>,
    base: &[Market<N>],
    tiers: Tiers<'_>,
    policy: &Policy,
    limits: Limits<'_, G>,
    first: bool,
    out: &mut StepPlan,
) -> Result<Result<(), Idle>, Fault> {
    let s = match size_step(view, base, tiers, policy, limits, first)? {
        Ok(sized) => sized,
        Err(idle) => return Ok(Err(idle)),
    };
    let (l, c) = s.pair;
    let (sl, sc) = (view.state(l)?, view.state(c)?);
    let ([bl, bc], [new_l, new_c]) = s.balances;
    // C's side: the sale into its venue; L's: the purchase in its venue.
    let (sale, along_curve) = trade(sc, c, s.seize)?;
    let (purchase, paid) = trade(sl, l, s.repay.neg()?)?;
    let cost = paid.neg()?;
    let mc = market(base, c)?;
    // (A build without containment has no equilibrium: the constant drops
    // its code.)
    let clears = crate::engine::CONTAINMENT_BUILT && mc.clears_at_oracle;
    let (proceeds, surplus) = match clears {
        true => at_clearing_price(s.seize, mc.oracle, along_curve)?,
        false => (along_curve, Value::ZERO),
    };
    let shares = [
        shares_after(sl.deposit_shares, bl, new_l)?,
        shares_after(sc.deposit_shares, bc, new_c)?,
    ];
    // The keepers pay the debt and the fee out of the proceeds.
    let fee = proceeds.scale(mc.fee_share, Round::Up)?;
    *out = StepPlan {
        stepped: Stepped {
            liability: l,
            collateral: c,
            repaid: s.repay,
            seized: s.seize,
            proceeds,
            cost,
            fee,
            health: s.health,
        },
        balances: [new_l, new_c],
        trades: [purchase, sale],
        shares,
        insurance: view.insurance().add(fee)?,
        surplus,
        target_met: s.target_met,
        others: s.others,
    };
    Ok(Ok(()))
}

/// A sale of `seized` paid at the round's clearing price `price`
/// (equilibrium settlement), rounded down, and never more than the venue
/// paid along its curve (`along_curve`), which keeps the rest: the
/// keepers' proceeds and the venue's surplus.
fn at_clearing_price(seized: Qty, price: Price, along_curve: Value) -> ArithResult<(Value, Value)> {
    let proceeds = seized.value(price, Round::Down)?.min(along_curve);
    Ok((proceeds, along_curve.sub(proceeds)?))
}

/// A to-target step's `(repay, seize, met)`: the repayment whose gain covers
/// the liquidation-end deficit, raised (at most [`TARGET_TRIES`] times) by
/// what the step's own roundings still leave short, so that the step
/// restores liquidation-end health to zero or above unless it is clamped
/// to the debt or the collateral (`met` says whether it did). `None` when
/// the target is met already.
fn to_target_step(
    row: &[Qty],
    liq_end: &[Terms],
    (l, c): (usize, usize),
    (index_l, index_c): (Index, Index),
    pair: &PairInputs,
    (collateral_price, collateral_discounted): (Price, Price),
) -> ArithResult<Option<(Qty, Qty, bool)>> {
    let health = value_row_in::<false>(row, liq_end, Masks::default())?
        .health
        .net()?;
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
        let (repay, seize) = size(pair, pair.debt)?;
        return Ok(Some((repay, seize, false)));
    };
    let (bl, bc) = (get(row, l)?, get(row, c)?);
    let unchanged = health.sub(term(bl, tl)?.1)?.sub(term(bc, tc)?.1)?;
    let (mut repay, mut seize) = size(pair, to_target(health.neg()?, gain, pair.liability_price)?)?;
    let mut met = false;
    for _ in 0..TARGET_TRIES {
        // The two balances exactly as the step will write them.
        let after = unchanged
            .add(term(credit(bl, repay, index_l)?, tl)?.1)?
            .add(term(debit(bc, seize, index_c)?, tc)?.1)?;
        met = after.0 >= 0;
        let clamped =
            repay >= pair.debt || seize >= pair.held || pair.room.is_some_and(|r| repay >= r);
        if met || clamped {
            break;
        }
        let more = to_target(after.neg()?, gain, pair.liability_price)?.max(Qty(1));
        (repay, seize) = size(pair, repay.add(more)?)?;
    }
    Ok(Some((repay, seize, met)))
}

fn get(row: &[Qty], i: usize) -> ArithResult<Qty> {
    row.get(i).copied().ok_or(ArithError::Domain)
}

/// Market `asset`.
pub(super) fn market<const N: usize>(base: &[Market<N>], asset: usize) -> ArithResult<&Market<N>> {
    base.get(asset).ok_or(ArithError::Domain)
}

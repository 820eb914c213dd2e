//! One account's liquidation: pair steps sized by the policy, each checked
//! to raise the account's maintenance health, then the bad-debt waterfall if
//! no collateral is left.

use super::undo::UnitSink;
use super::{Engine, FLAG_PLANE_LIQUIDATED};
use crate::account::{self, Health, Term};
use crate::error::{Invariant, StepFault};
use crate::event::{Event, EventSink};
use crate::ledger::Book;
use crate::num::{self, mul, ArithError, Fx, Qty, Round, Value};
use crate::policy::{clamp_repay, to_target_repay, PairLimits, Policy};
use crate::venue::Venue;

/// The protocol's share of a sale's proceeds, `bonus·fee/(1 + bonus)`
/// rounded up: the protocol fee is a share of the bonus, and the proceeds
/// include the bonus. Fixed per asset for a run, so the engine computes it
/// once (an overflow fails the first trade that needs it, as before).
pub(super) fn fee_share(asset: &crate::asset::AssetConfig) -> Result<Fx, ArithError> {
    let bonus = asset.liquidation_bonus.0;
    num::div(
        mul(bonus, asset.protocol_fee.0, Round::Up)?,
        num::add(Fx::ONE, bonus)?,
        Round::Up,
    )
}

/// Attempts at raising a to-target repayment until the step's own roundings
/// leave liquidation-end health at zero or above.
const TARGET_TRIES: usize = 4;

/// A copy of one account's stored balances.
pub(super) type Balances<const A: usize> = [Qty; A];

/// The row and maintenance health a liquidation unit ended with, when it
/// computed them: the scan watches the account from them.
pub(super) type Ended<const A: usize> = Option<(Balances<A>, Health)>;

/// Each asset's term of a row's maintenance health: what the pair choice
/// compares.
pub(super) type Terms<const A: usize> = [Term; A];

fn balance<const A: usize>(bal: &Balances<A>, asset: usize) -> Result<Qty, ArithError> {
    bal.get(asset).copied().ok_or(ArithError::Domain)
}

fn set_balance<const A: usize>(
    bal: &mut Balances<A>,
    asset: usize,
    value: Qty,
) -> Result<(), ArithError> {
    *bal.get_mut(asset).ok_or(ArithError::Domain)? = value;
    Ok(())
}

/// The pair a step works on.
#[derive(Debug, PartialEq, Eq)]
enum Pair {
    /// No liability left.
    NoDebt,
    /// A liability but no collateral that can be seized.
    NoCollateral,
    /// What is left to repay or seize is in assets blocked this round.
    Blocked,
    /// Repay `liability`, seize `collateral`.
    Step { liability: usize, collateral: usize },
}

/// Largest weighted liability and largest weighted collateral (not in
/// `skip`, the account's dust, nor in `blocked`, the assets no
/// liquidation may touch now); ties go to the lower index. Read off the
/// terms of the row's maintenance health, whose products they are.
#[inline]
fn pick_pair<const A: usize>(terms: &Terms<A>, skip: u32, blocked: u32) -> Pair {
    // The largest liability is the most negative debt term.
    let mut liability: Option<(usize, i128)> = None;
    let mut collateral: Option<(usize, i128)> = None;
    let (mut blocked_debt, mut blocked_collateral) = (false, false);
    for (i, t) in terms.iter().enumerate() {
        let is_blocked = blocked & (1 << i) != 0;
        let seizable = skip & (1 << i) == 0;
        let (debt, held) = (t.held < 0, t.held > 0 && seizable);
        if debt && is_blocked {
            blocked_debt = true;
        } else if debt && liability.is_none_or(|(_, most)| t.value < most) {
            liability = Some((i, t.value));
        } else if held && is_blocked {
            blocked_collateral = true;
        } else if held && collateral.is_none_or(|(_, best)| t.value > best) {
            collateral = Some((i, t.value));
        }
    }
    match (liability, collateral) {
        (None, _) if blocked_debt => Pair::Blocked,
        (None, _) => Pair::NoDebt,
        (Some(_), None) if blocked_collateral => Pair::Blocked,
        (Some(_), None) => Pair::NoCollateral,
        (Some((l, _)), Some((c, _))) => Pair::Step {
            liability: l,
            collateral: c,
        },
    }
}

/// Whether `pick_pair` would find debt but no collateral
/// ([`Pair::NoCollateral`]): some debt not blocked, and no collateral
/// outside `skip`, blocked or not.
#[inline]
fn left_without_collateral<const A: usize>(terms: &Terms<A>, skip: u32, blocked: u32) -> bool {
    let (mut debt, mut collateral) = (false, false);
    for (i, t) in terms.iter().enumerate() {
        debt |= t.held < 0 && blocked & (1 << i) == 0;
        collateral |= t.held > 0 && skip & (1 << i) == 0;
    }
    debt && !collateral
}

/// One sized pair step, before it trades.
pub(super) struct Sized {
    repay: Qty,
    seize: Qty,
}

impl<const A: usize> Engine<'_, A> {
    pub(super) fn load(&self, id: usize) -> Balances<A> {
        let mut bal = [Qty::ZERO; A];
        if let Some(stored) = self.stored_balances(id) {
            bal.iter_mut().zip(stored).for_each(|(b, s)| *b = *s);
        }
        bal
    }

    /// Writes one stored balance back, keeping the deposit-share total.
    pub(super) fn store(&mut self, id: usize, asset: usize, value: Qty) -> Result<(), StepFault> {
        let n = self.state.markets.len();
        let at = id
            .checked_mul(n)
            .and_then(|s| s.checked_add(asset))
            .ok_or(ArithError::Overflow)?;
        let slot = self.balances.get_mut(at).ok_or(ArithError::Domain)?;
        let old = *slot;
        *slot = value;
        let m = self
            .state
            .markets
            .get_mut(asset)
            .ok_or(ArithError::Domain)?;
        let shares = m
            .deposit_shares
            .sub(Qty(old.0.max(Fx::ZERO)))?
            .add(Qty(value.0.max(Fx::ZERO)))?;
        m.deposit_shares = shares;
        Ok(())
    }

    pub(super) fn maint_health(&self, bal: &Balances<A>) -> Result<Health, ArithError> {
        let n = self.state.markets.len();
        account::health(
            bal.get(..n).unwrap_or(&[]),
            &self.state.indices,
            &self.state.maint_prices,
        )
    }

    /// [`Self::maint_health`] with each asset's term.
    fn maint_terms(&self, bal: &Balances<A>) -> Result<(Health, Terms<A>), ArithError> {
        let n = self.state.markets.len();
        let mut terms = [Term::default(); A];
        let health = account::health_terms(
            bal.get(..n).unwrap_or(&[]),
            &self.state.indices,
            &self.state.maint_prices,
            |asset, term| {
                if let Some(slot) = terms.get_mut(asset) {
                    *slot = term;
                }
            },
        )?;
        Ok((health, terms))
    }

    fn liq_end_health(&self, bal: &Balances<A>) -> Result<Value, ArithError> {
        let mut weighted = [account::WeightedPrice::default(); A];
        weighted
            .iter_mut()
            .zip(&self.state.markets)
            .for_each(|(w, m)| *w = m.liq_end);
        let n = self.state.markets.len();
        account::health(bal.get(..n).unwrap_or(&[]), &self.state.indices, &weighted)?.net()
    }

    /// The word of the liquidated plane that holds account `id`'s bit: a
    /// unit's undo record keeps it.
    pub(super) fn flag_word(&self, id: u32) -> u32 {
        self.flag_word_of(FLAG_PLANE_LIQUIDATED, id as usize)
    }

    /// Records that a liquidation or bankruptcy changed account `id` this
    /// round.
    pub(super) fn mark_changed(&mut self, id: u32) {
        self.mark_liquidated(id);
        self.state.round_changed_accounts = self.state.round_changed_accounts.saturating_add(1);
    }

    fn mark_liquidated(&mut self, id: u32) {
        if !self.flag(FLAG_PLANE_LIQUIDATED, id as usize) {
            self.set_flag(FLAG_PLANE_LIQUIDATED, id as usize, true);
            self.state.report.accounts_liquidated =
                self.state.report.accounts_liquidated.saturating_add(1);
        }
    }

    /// Whether a close-factor liquidation may repay the whole debt.
    fn close_in_full(&self, before: &Health, bal: &Balances<A>) -> Result<bool, ArithError> {
        let Policy::CloseFactor {
            full_close_health_factor,
            full_close_debt_value,
            ..
        } = self.policy
        else {
            return Ok(true);
        };
        if before.factor_at_most(full_close_health_factor)? {
            return Ok(true);
        }
        // Aave closes small positions whole: the debt's unweighted value.
        let mut debt_value = Value::ZERO;
        for (i, m) in self.state.markets.iter().enumerate() {
            let b = *bal.get(i).unwrap_or(&Qty::ZERO);
            if b.is_negative() {
                debt_value = debt_value.add(b.neg()?.value_owed(m.oracle)?)?;
            }
        }
        Ok(debt_value < full_close_debt_value)
    }

    /// Sizes one pair step under the policy, repaying at most `room`
    /// (a budget); `None` when the target is met.
    fn size_step(
        &self,
        bal: &Balances<A>,
        (l, c): (usize, usize),
        full: bool,
        room: Option<Qty>,
    ) -> Result<Option<Sized>, ArithError> {
        // An auction takes the debt whatever the collateral covers: what it
        // fails to raise is bad debt when it ends.
        let auctioned = l == 0 && self.auction_rule(c).is_some();
        let (ml, mc) = (self.market(l)?, self.market(c)?);
        let debt = balance(bal, l)?.neg()?;
        let held = account::effective(balance(bal, c)?, mc.deposit_index)?;
        let (cl, cc) = (self.config(l)?, self.config(c)?);
        let one_plus_bonus = num::add(Fx::ONE, cc.liquidation_bonus.0)?;
        // Collateral value owed per unit of liability repaid (the price
        // second: the quote's is exactly 1, which `mul` skips).
        let seize_value_per_unit = mul(one_plus_bonus, ml.oracle.0, Round::Up)?;
        let covered = if auctioned {
            debt
        } else {
            Qty(num::div(
                mul(held.0, mc.oracle.0, Round::Down)?,
                seize_value_per_unit,
                Round::Down,
            )?)
        };
        let wanted = match self.policy {
            Policy::Absorb => debt,
            Policy::CloseFactor { close_factor, .. } if !full => {
                debt.scale(close_factor, Round::Down)?
            }
            Policy::CloseFactor { .. } => debt,
            Policy::ToTarget => {
                let deficit = self.liq_end_health(bal)?.neg()?;
                if !deficit.is_positive() {
                    return Ok(None);
                }
                // Health gained per unit repaid, rounded down (repay more).
                match self.to_target_gain((l, c), seize_value_per_unit)? {
                    Some(gain) => to_target_repay(deficit, gain)?,
                    None => debt,
                }
            }
        };
        let limits = PairLimits {
            debt,
            covered,
            dust: cl.dust,
        };
        let size = |wanted: Qty| -> Result<Sized, ArithError> {
            let repay = clamp_repay(wanted, limits);
            let repay = room.map_or(repay, |r| repay.min(r));
            let seize = if repay >= covered {
                held
            } else {
                let value = mul(repay.0, seize_value_per_unit, Round::Up)?;
                Qty(num::div(value, mc.oracle.0, Round::Up)?).min(held)
            };
            Ok(Sized { repay, seize })
        };
        let mut sized = size(wanted)?;
        if self.policy == Policy::ToTarget {
            // The repayment was sized from the exact deficit; the step's own
            // roundings (the seizure up, each health term down) can still
            // leave liquidation-end health a few ulps short. Raise it by
            // what is left, so one step restores the target (issue 22).
            for _ in 0..TARGET_TRIES {
                let short = self.liq_end_health(&self.after_step(bal, (l, c), &sized)?)?;
                let clamped = sized.repay >= debt
                    || sized.seize >= held
                    || room.is_some_and(|r| sized.repay >= r);
                if !short.is_negative() || clamped {
                    break;
                }
                let gain = self.to_target_gain((l, c), seize_value_per_unit)?;
                let more = match gain {
                    Some(gain) => to_target_repay(short.neg()?, gain)?.max(Qty(num::ULP)),
                    None => debt,
                };
                sized = size(sized.repay.add(more)?)?;
            }
        }
        Ok(Some(sized))
    }

    /// Liquidation-end health gained per unit of L repaid against C,
    /// `p_L·wl_L − p_L·(1+bonus_C)·wa_C`, rounded down; `None` if not positive.
    fn to_target_gain(
        &self,
        (l, c): (usize, usize),
        seize_value_per_unit: Fx,
    ) -> Result<Option<Fx>, ArithError> {
        let (ml, cl, cc) = (self.market(l)?, self.config(l)?, self.config(c)?);
        let kept = mul(ml.oracle.0, cl.liability_weights.liq_end.0, Round::Down)?;
        let given = mul(seize_value_per_unit, cc.asset_weights.liq_end.0, Round::Up)?;
        let gain = num::sub(kept, given)?;
        Ok((gain > Fx::ZERO).then_some(gain))
    }

    /// The row after a sized step (`stepped` and the to-target check).
    fn after_step(
        &self,
        bal: &Balances<A>,
        (l, c): (usize, usize),
        sized: &Sized,
    ) -> Result<Balances<A>, ArithError> {
        let (il, ic) = (self.index_of(l), self.index_of(c));
        let mut next = *bal;
        set_balance(
            &mut next,
            l,
            account::credit(balance(bal, l)?, sized.repay, il)?,
        )?;
        set_balance(
            &mut next,
            c,
            account::debit(balance(bal, c)?, sized.seize, ic)?,
        )?;
        Ok(next)
    }

    /// Liquidates one account found liquidatable by this round's scan.
    /// Returns its row and maintenance health at the end, which the scan
    /// watches it from, when the unit computed them (`None`: the scan
    /// evaluates the row itself).
    pub(super) fn liquidate_account(
        &mut self,
        id: u32,
        sink: &mut UnitSink<'_, A>,
    ) -> Result<Ended<A>, StepFault> {
        let idx = id as usize;
        let n = self.state.markets.len();
        let mut bal = self.load(idx);
        let (before, mut terms) = self.maint_terms(&bal)?;
        if !before.net()?.is_negative() {
            return Ok(Some((bal, before)));
        }
        let full = self.close_in_full(&before, &bal)?;
        // The backstop vault takes the whole account, or auto-deleveraging
        // closes what it can against opposite positions: no market sale.
        if self.try_backstop(id, &mut bal, sink)? {
            self.mark_changed(id);
            return Ok(None);
        }
        let deleveraged = self.try_deleverage(id, &mut bal, sink)?;
        // The row's maintenance health as it stands, kept up to date by
        // each step (a step's check computes it anyway).
        let mut now = before;
        if deleveraged {
            self.mark_changed(id);
            (now, terms) = self.maint_terms(&bal)?;
        }
        let one_step_only = matches!(self.policy, Policy::CloseFactor { .. });
        let mut skip: u32 = 0;
        // Blocked now (halts, stale oracles) and collateral whose budget is
        // spent this round: what touches them waits.
        let blocked = self.blocked_assets();
        let mut waiting: u32 = 0;
        let mut deferred = false;
        let mut steps = 0usize;
        // The risky asset the account held, for a deleveraged quote loss.
        let mut exposure: Option<usize> = None;
        let max_tries = n.saturating_mul(3).saturating_add(4);
        for _ in 0..max_tries {
            let (l, c) = match pick_pair(&terms, skip, blocked | waiting) {
                Pair::Step {
                    liability,
                    collateral,
                } => (liability, collateral),
                Pair::Blocked => {
                    deferred = true;
                    break;
                }
                Pair::NoDebt | Pair::NoCollateral => break,
            };
            let room = match self.budgets {
                true => match self.repay_room(c)? {
                    Some(value) => Some(value.qty_at(self.market(l)?.oracle, Round::Down)?),
                    None => None,
                },
                false => None,
            };
            if room.is_some_and(|r| !r.is_positive()) {
                waiting |= 1 << c;
                continue;
            }
            let Some(mut sized) = self.size_step(&bal, (l, c), full, room)? else {
                break;
            };
            let auctioned = l == 0 && self.auction_rule(c).is_some();
            if auctioned {
                // MakerDAO's `bark`: the collateral goes to auction in the
                // proportion of the debt it covers; what the auction does
                // not need comes back.
                let held = account::effective(balance(&bal, c)?, self.index_of(c))?;
                let debt = balance(&bal, l)?.neg()?;
                sized.seize = Qty(num::mul_div(held.0, sized.repay.0, debt.0, Round::Down)?);
            }
            let Some((next, after, next_terms)) = self.stepped((&bal, &now), (l, c), &sized)?
            else {
                skip |= 1 << c;
                continue;
            };
            let ic = self.index_of(c);
            if sized.seize > account::effective(balance(&bal, c)?, ic)? {
                return Err(StepFault::Invariant(Invariant::OverSeized { account: id }));
            }
            if auctioned {
                if !self.start_auction(id, c, (sized.repay, sized.seize), sink)? {
                    // Every auction slot is taken: this collateral waits.
                    waiting |= 1 << c;
                    continue;
                }
            } else {
                self.trade_step(id, l, c, &sized, sink)?;
            }
            if c != 0 {
                exposure = Some(c);
            }
            self.store(idx, l, balance(&next, l)?)?;
            self.store(idx, c, balance(&next, c)?)?;
            if ic != num::Ratio::ONE {
                // debit() rounded the shares up and effective() rounds down.
                self.state.ledger.add_slack(c, Fx::from_num(2))?;
            }
            (bal, now, terms) = (next, after, next_terms);
            steps = steps.saturating_add(1);
            if steps == 1 && !deleveraged {
                // Counted at once: a later step may end the run (a broken
                // market) and keep what was done so far.
                self.mark_changed(id);
            }
            if one_step_only {
                break;
            }
        }
        if deferred {
            self.defer(1);
        }
        let bankrupt = left_without_collateral(&terms, skip, blocked | waiting);
        if bankrupt && steps == 0 && !deleveraged {
            self.mark_changed(id);
        }
        if bankrupt {
            // The waterfall writes the row and may move deposit indices.
            self.bankrupt(id, &mut bal, exposure, sink)?;
            now = self.maint_health(&bal)?;
        }
        if now.net()? < before.net()? {
            return Err(StepFault::Invariant(Invariant::HealthLowered {
                account: id,
            }));
        }
        Ok(Some((bal, now)))
    }

    /// The row after a sized step and its maintenance health with its
    /// terms, given the row's maintenance health `now`; `None` when the
    /// step is too small to beat rounding and would lower health: that
    /// collateral is dust for this account, and is left alone.
    pub(super) fn stepped(
        &self,
        (bal, now): (&Balances<A>, &Health),
        (l, c): (usize, usize),
        sized: &Sized,
    ) -> Result<Option<(Balances<A>, Health, Terms<A>)>, ArithError> {
        let next = self.after_step(bal, (l, c), sized)?;
        if !sized.repay.is_positive() {
            return Ok(None);
        }
        let (after, terms) = self.maint_terms(&next)?;
        if after.net()? < now.net()? {
            return Ok(None);
        }
        Ok(Some((next, after, terms)))
    }

    /// What the policy would seize of each asset from account `id` at the
    /// current marks, without trading or writing anything: the demand side
    /// of equilibrium settlement.
    pub(super) fn planned_seizure(&self, id: usize) -> Result<[Qty; A], ArithError> {
        let mut seized = [Qty::ZERO; A];
        let mut bal = self.load(id);
        let (before, mut terms) = self.maint_terms(&bal)?;
        if !before.net()?.is_negative() {
            return Ok(seized);
        }
        let full = self.close_in_full(&before, &bal)?;
        let one_step_only = matches!(self.policy, Policy::CloseFactor { .. });
        let mut skip: u32 = 0;
        let mut now = before;
        for _ in 0..self.state.markets.len().saturating_mul(3).saturating_add(4) {
            let Pair::Step {
                liability,
                collateral,
            } = pick_pair(&terms, skip, 0)
            else {
                break;
            };
            let Some(sized) = self.size_step(&bal, (liability, collateral), full, None)? else {
                break;
            };
            let Some((next, after, next_terms)) =
                self.stepped((&bal, &now), (liability, collateral), &sized)?
            else {
                skip |= 1 << collateral;
                continue;
            };
            if let Some(total) = seized.get_mut(collateral) {
                *total = total.add(sized.seize)?;
            }
            (bal, now, terms) = (next, after, next_terms);
            if one_step_only {
                break;
            }
        }
        Ok(seized)
    }

    fn index_of(&self, asset: usize) -> num::Ratio {
        self.state
            .markets
            .get(asset)
            .map_or(num::Ratio::ONE, |m| m.deposit_index)
    }

    /// The venue of `asset`, to trade in place.
    fn venue_mut(&mut self, asset: usize) -> Result<&mut Venue, ArithError> {
        self.state
            .markets
            .get_mut(asset)
            .map(|m| &mut m.venue)
            .ok_or(ArithError::Domain)
    }

    /// Trades one sized step through the venues and books every flow.
    fn trade_step(
        &mut self,
        id: u32,
        l: usize,
        c: usize,
        s: &Sized,
        sink: &mut dyn EventSink,
    ) -> Result<(), StepFault> {
        let liability_oracle = self.market(l)?.oracle;
        let as_u8 = |i: usize| u8::try_from(i).unwrap_or(u8::MAX);
        // Each venue's trade is all or nothing. With both sides risky, the
        // sale runs on a copy of the collateral's venue, kept once the buy
        // has filled too: a venue that cannot fill leaves the state as it
        // was. With one side the quote, the other trades in place.
        let mut sold_into: Option<Venue> = None;
        let along_curve = if c == 0 {
            s.seize.as_quote_value()
        } else {
            let broken = |e| StepFault::from_venue(as_u8(c), e);
            if l == 0 {
                self.venue_mut(c)?.sell(s.seize).map_err(broken)?
            } else {
                let mut venue = self.market(c)?.venue;
                let proceeds = venue.sell(s.seize).map_err(broken)?;
                sold_into = Some(venue);
                proceeds
            }
        };
        // Equilibrium settlement: every sale of the round at the clearing
        // price; the venue, which paid along its curve, keeps the rest.
        let proceeds = match self.clearing_price(c).filter(|_| c != 0) {
            Some(p) => s.seize.value_at(p, Round::Down)?.min(along_curve),
            None => along_curve,
        };
        let surplus = along_curve.sub(proceeds)?;
        let cost = if l == 0 {
            s.repay.as_quote_value()
        } else {
            // A purchase raises the price: the report's low comes first.
            self.track_untracked(l)?;
            self.venue_mut(l)?
                .buy(s.repay)
                .map_err(|e| StepFault::from_venue(as_u8(l), e))?
        };
        if let Some(venue) = sold_into {
            *self.venue_mut(c)? = venue;
        }
        let fee_share = self
            .fee_shares
            .get(c)
            .copied()
            .ok_or(ArithError::Domain)??;
        let fee = Value(mul(proceeds.0, fee_share, Round::Up)?);

        // Collateral: account → venue (or keepers, for quote collateral).
        if c == 0 {
            self.state
                .ledger
                .transfer(0, Book::Accounts, Book::Keepers, s.seize)?;
        } else {
            self.state
                .ledger
                .transfer(c, Book::Accounts, Book::Venue, s.seize)?;
            self.state
                .ledger
                .transfer(0, Book::Venue, Book::Keepers, proceeds.as_quote_qty())?;
            // Only equilibrium settlement leaves a surplus.
            if surplus.is_positive() {
                self.state.ledger.transfer(
                    0,
                    Book::Venue,
                    Book::Arbitrage,
                    surplus.as_quote_qty(),
                )?;
            }
        }
        // Liability: venue (or keepers, for quote debt) → account.
        if l == 0 {
            self.state
                .ledger
                .transfer(0, Book::Keepers, Book::Accounts, s.repay)?;
        } else {
            self.state
                .ledger
                .transfer(0, Book::Keepers, Book::Venue, cost.as_quote_qty())?;
            self.state
                .ledger
                .transfer(l, Book::Venue, Book::Accounts, s.repay)?;
        }
        self.state
            .ledger
            .transfer(0, Book::Keepers, Book::Insurance, fee.as_quote_qty())?;
        self.state.insurance = self.state.insurance.add(fee)?;

        let r = &mut self.state.report;
        r.liquidations = r.liquidations.saturating_add(1);
        r.fees = r.fees.add(fee)?;
        r.keeper_pnl = r.keeper_pnl.add(proceeds.sub(fee)?.sub(cost)?)?;
        if let Some(a) = r.per_asset.get_mut(c).filter(|_| c != 0) {
            a.sold = a.sold.add(s.seize)?;
        }
        if let Some(a) = r.per_asset.get_mut(l).filter(|_| l != 0) {
            a.bought = a.bought.add(s.repay)?;
        }
        self.state.round_liquidations = self.state.round_liquidations.saturating_add(1);
        if self.budgets {
            let repaid = s.repay.value_at(liability_oracle, Round::Up)?;
            self.charge(c, repaid, proceeds.sub(fee)?)?;
        }
        // Repaying the quote moves no price the report records: the
        // quote's is 1, and its deposit index moves only in the waterfall,
        // which records it there.
        if l != 0 {
            self.track_price(l)?;
        }
        self.track_sale(c)?;
        sink.emit(&Event::Liquidation {
            round: self.state.round,
            account: id,
            liability: as_u8(l),
            collateral: as_u8(c),
            repaid: s.repay,
            seized: s.seize,
            proceeds,
            cost,
            fee,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Terms of a row: a deposit held `h > 0` worth `v`, or a debt `h < 0`
    /// owing `v < 0`; zero where nothing is held.
    fn row(terms: &[(i128, i128)]) -> Terms<4> {
        let mut row = [Term::default(); 4];
        for (slot, &(held, value)) in row.iter_mut().zip(terms) {
            *slot = Term { held, value };
        }
        row
    }

    fn step(liability: usize, collateral: usize) -> Pair {
        Pair::Step {
            liability,
            collateral,
        }
    }

    #[test]
    fn the_pair_is_the_largest_debt_and_the_largest_collateral() {
        let terms = row(&[(-5, -5), (2, 30), (-1, -9), (4, 40)]);
        assert_eq!(pick_pair(&terms, 0, 0), step(2, 3));
        // Ties go to the lower index, on both sides.
        let tied = row(&[(-5, -9), (2, 40), (-1, -9), (4, 40)]);
        assert_eq!(pick_pair(&tied, 0, 0), step(0, 1));
        assert_eq!(pick_pair(&row(&[(3, 3), (1, 1)]), 0, 0), Pair::NoDebt);
        assert_eq!(pick_pair(&row(&[(-3, -3)]), 0, 0), Pair::NoCollateral);
    }

    #[test]
    fn skipped_and_blocked_assets_are_passed_over() {
        let terms = row(&[(-5, -5), (2, 30), (-1, -9), (4, 40)]);
        // Dust collateral (skipped) leaves the next largest.
        assert_eq!(pick_pair(&terms, 1 << 3, 0), step(2, 1));
        assert_eq!(
            pick_pair(&terms, (1 << 3) | (1 << 1), 0),
            Pair::NoCollateral
        );
        // A blocked asset leaves the next largest; with none left, the
        // step waits.
        assert_eq!(pick_pair(&terms, 0, 1 << 2), step(0, 3));
        assert_eq!(pick_pair(&terms, 0, (1 << 2) | 1), Pair::Blocked);
        assert_eq!(pick_pair(&terms, 1 << 1, 1 << 3), Pair::Blocked);
        // A skipped collateral that is also blocked is not waited for.
        assert_eq!(
            pick_pair(&terms, (1 << 1) | (1 << 3), 1 << 3),
            Pair::NoCollateral
        );
    }

    #[test]
    fn an_account_is_left_without_collateral_when_its_debt_has_none_to_seize() {
        let terms = row(&[(-5, -5), (2, 30)]);
        assert!(!left_without_collateral(&terms, 0, 0));
        assert!(left_without_collateral(&terms, 1 << 1, 0));
        // Its only debt blocked: nothing to write off now.
        assert!(!left_without_collateral(&terms, 1 << 1, 1));
        // Blocked collateral is still collateral.
        assert!(!left_without_collateral(&terms, 0, 1 << 1));
        assert!(!left_without_collateral(&row(&[(3, 3)]), 0, 0));
    }
}

//! Containment inside the engine (see [`crate::containment`]): the oracle
//! rule, circuit breakers, and the per-round budgets that rate limits and
//! keeper capital put on liquidations.

use super::{ring_back, Engine, HISTORY};
use crate::error::StepFault;
use crate::event::{Event, EventSink};
use crate::num::{self, ArithError, Fx, Price, Round, Value};

/// Containment's share of the engine state.
#[derive(Clone, Copy, Debug)]
pub(super) struct LimitState<const A: usize> {
    /// Debt value repaid by liquidations this round.
    pub round_notional: Value,
    /// The same, per collateral asset seized.
    pub asset_notional: [Value; A],
    /// Quote the keepers hold now.
    pub keeper_capital: Value,
    /// Sale proceeds owed back to the keepers at the next round's start.
    pub keeper_returns: Value,
    /// Per asset, the last round of its halt (0: never halted).
    pub halted_until: [u32; A],
    /// Per asset, the round its oracle price was last published.
    pub oracle_round: [u32; A],
    /// Accounts deferred this round.
    pub round_deferred: u32,
}

impl<const A: usize> LimitState<A> {
    pub(super) fn new(keeper_capital: Value) -> Self {
        Self {
            round_notional: Value::ZERO,
            asset_notional: [Value::ZERO; A],
            keeper_capital,
            keeper_returns: Value::ZERO,
            halted_until: [0; A],
            oracle_round: [0; A],
            round_deferred: 0,
        }
    }

    /// Every number, for the digest.
    pub(super) fn for_each_number(&self, assets: usize, mut f: impl FnMut(Fx)) {
        f(self.round_notional.0);
        f(self.keeper_capital.0);
        f(self.keeper_returns.0);
        for i in 0..assets {
            f(self.asset_notional.get(i).map_or(Fx::ZERO, |v| v.0));
            f(Fx::from_num(self.halted_until.get(i).copied().unwrap_or(0)));
            f(Fx::from_num(self.oracle_round.get(i).copied().unwrap_or(0)));
        }
    }
}

impl<const A: usize> Engine<'_, A> {
    /// Resets the round's budgets and pays the keepers what they are owed
    /// plus their replenishment, up to their cap.
    pub(super) fn open_budgets(&mut self) -> Result<(), ArithError> {
        let l = &mut self.state.limits;
        l.round_notional = Value::ZERO;
        l.asset_notional = [Value::ZERO; A];
        l.round_deferred = 0;
        if let Some(k) = self.containment.keepers {
            if self.state.round > 1 {
                let topped = l
                    .keeper_capital
                    .add(l.keeper_returns)?
                    .add(k.replenish_per_round)?;
                l.keeper_capital = topped.min(k.max);
            }
            l.keeper_returns = Value::ZERO;
        }
        Ok(())
    }

    /// Forms each asset's candidate oracle price (the average of the venue
    /// prices `lag .. lag + twap` rounds back) and publishes it on the
    /// heartbeat or when it deviates enough from the published one.
    pub(super) fn update_oracles(&mut self) -> Result<(), StepFault> {
        let rule = self.containment.oracle;
        let (head, lag, round) = (self.state.history_head, self.lag, self.state.round);
        let twap = usize::from(rule.twap_rounds.max(1));
        for (asset, m) in self.state.markets.iter_mut().enumerate() {
            let history = self.history.get(asset);
            let mut sum = Fx::ZERO;
            for back in lag..lag.saturating_add(twap).min(HISTORY) {
                let price = history.and_then(|h| h.get(ring_back(head, back))).copied();
                sum = num::add(sum, price.unwrap_or(m.oracle).0)?;
            }
            let count = Fx::from_num(twap.min(HISTORY.saturating_sub(lag)).max(1));
            let candidate = Price(num::div(sum, count, Round::Down)?);
            let last = self
                .state
                .limits
                .oracle_round
                .get(asset)
                .copied()
                .unwrap_or(0);
            let due = round.saturating_sub(last) >= u32::from(rule.heartbeat_rounds);
            let moved = num::sub(candidate.0, m.oracle.0)?.abs();
            let threshold = num::mul(m.oracle.0, rule.deviation.0, Round::Down)?;
            if due || moved >= threshold {
                m.oracle = candidate;
                if let Some(slot) = self.state.limits.oracle_round.get_mut(asset) {
                    *slot = round;
                }
            }
        }
        Ok(())
    }

    /// Trips the breaker of every asset whose venue price moved more than
    /// its limit within its window, unless it is halted already.
    pub(super) fn trip_breakers(&mut self, sink: &mut dyn EventSink) -> Result<(), StepFault> {
        let (head, round) = (self.state.history_head, self.state.round);
        for (asset, limits) in self.containment.per_asset.iter().enumerate() {
            let (Some(breaker), Some(m)) = (limits.breaker, self.state.markets.get(asset)) else {
                continue;
            };
            if self.halted(asset) {
                continue;
            }
            let back = usize::from(breaker.window_rounds);
            let history = self.history.get(asset);
            let now = history
                .and_then(|h| h.get(head))
                .copied()
                .unwrap_or(m.oracle);
            let then = history
                .and_then(|h| h.get(ring_back(head, back)))
                .copied()
                .unwrap_or(now);
            let moved = num::div(num::sub(now.0, then.0)?.abs(), then.0, Round::Down)?;
            if moved > breaker.max_move.0 {
                let last = round.saturating_add(u32::from(breaker.pause_rounds).saturating_sub(1));
                if let Some(slot) = self.state.limits.halted_until.get_mut(asset) {
                    *slot = last;
                }
                sink.emit(&Event::BreakerTripped {
                    round,
                    asset: u8::try_from(asset).unwrap_or(u8::MAX),
                    resumes: last.saturating_add(1),
                });
            }
        }
        Ok(())
    }

    fn halted(&self, asset: usize) -> bool {
        self.state
            .limits
            .halted_until
            .get(asset)
            .is_some_and(|&until| until >= self.state.round && until > 0)
    }

    /// Whether some halt lasts into a later round.
    pub(super) fn halt_pending(&self) -> bool {
        let round = self.state.round;
        self.state
            .limits
            .halted_until
            .iter()
            .any(|&until| until > round)
    }

    /// Assets no liquidation may touch this round: halted, or priced by a
    /// stale oracle. Bit `i` is asset `i`.
    pub(super) fn blocked_assets(&self) -> u32 {
        let max_age = self.containment.oracle.max_age_rounds;
        let round = self.state.round;
        let mut blocked = 0u32;
        for asset in 0..self.state.markets.len().min(32) {
            let age = round.saturating_sub(
                self.state
                    .limits
                    .oracle_round
                    .get(asset)
                    .copied()
                    .unwrap_or(0),
            );
            let stale = max_age > 0 && asset != 0 && age > u32::from(max_age);
            if stale || self.halted(asset) {
                blocked |= 1 << asset;
            }
        }
        blocked
    }

    /// Whether a round's global caps can end it with candidates left
    /// waiting (`round_exhausted` is never true without them): if not, the
    /// queue empties every round, and its candidates are sorted as a batch
    /// (see `batch`; a cost choice: a batch cut short becomes a heap).
    pub(super) fn rounds_can_leave_accounts_waiting(&self) -> bool {
        let rate = self.containment.rate_limit;
        rate.max_accounts_per_round > 0 || rate.max_notional_per_round.is_some()
    }

    /// Whether the round's global caps are spent: the rest of its
    /// candidates wait. (Spent keeper capital stops sales pair by pair
    /// instead: starting an auction needs none.)
    pub(super) fn round_exhausted(&self) -> bool {
        let (rate, l) = (self.containment.rate_limit, &self.state.limits);
        let accounts = rate.max_accounts_per_round;
        (accounts > 0 && self.state.round_changed_accounts >= accounts)
            || rate
                .max_notional_per_round
                .is_some_and(|cap| l.round_notional >= cap)
    }

    /// The most debt value a liquidation seizing `collateral` may still
    /// repay this round; `None` when nothing limits it.
    pub(super) fn repay_room(&self, collateral: usize) -> Result<Option<Value>, ArithError> {
        let l = &self.state.limits;
        let mut room: Option<Value> = None;
        let mut limit = |r: Value| room = Some(room.map_or(r, |x: Value| x.min(r)));
        if let Some(cap) = self.containment.rate_limit.max_notional_per_round {
            limit(cap.sub(l.round_notional)?);
        }
        let asset_cap = self
            .containment
            .per_asset
            .get(collateral)
            .and_then(|a| a.max_notional_per_round);
        if let Some(cap) = asset_cap {
            let used = l
                .asset_notional
                .get(collateral)
                .copied()
                .unwrap_or(Value::ZERO);
            limit(cap.sub(used)?);
        }
        // Keepers pay for sales, not for starting auctions.
        if self.containment.keepers.is_some() && self.auction_rule(collateral).is_none() {
            limit(l.keeper_capital);
        }
        Ok(room.map(|r| r.max(Value::ZERO)))
    }

    /// Charges one step to the budgets: `repaid` debt value against the caps
    /// and the keepers, whose `returns` (proceeds less fee) come back next
    /// round.
    pub(super) fn charge(
        &mut self,
        collateral: usize,
        repaid: Value,
        returns: Value,
    ) -> Result<(), ArithError> {
        self.charge_caps(collateral, repaid)?;
        if self.containment.keepers.is_some() {
            let l = &mut self.state.limits;
            l.keeper_capital = l.keeper_capital.sub(repaid)?.max(Value::ZERO);
            l.keeper_returns = l.keeper_returns.add(returns)?;
        }
        Ok(())
    }

    /// Charges `repaid` debt value against the rate limits only: an auction
    /// counts against them when it starts (MakerDAO's `Hole`), but its
    /// keepers pay when they take, not before.
    pub(super) fn charge_caps(
        &mut self,
        collateral: usize,
        repaid: Value,
    ) -> Result<(), ArithError> {
        let l = &mut self.state.limits;
        l.round_notional = l.round_notional.add(repaid)?;
        if let Some(used) = l.asset_notional.get_mut(collateral) {
            *used = used.add(repaid)?;
        }
        Ok(())
    }

    /// Counts accounts that wait for a later round.
    pub(super) fn defer(&mut self, accounts: usize) {
        let n = u32::try_from(accounts).unwrap_or(u32::MAX);
        self.state.limits.round_deferred = self.state.limits.round_deferred.saturating_add(n);
        self.state.report.deferred = self.state.report.deferred.saturating_add(u64::from(n));
    }
}

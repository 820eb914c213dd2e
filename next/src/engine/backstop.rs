//! Hyperliquid's backstop liquidator vault (docs/containment.md): a
//! liquidatable account whose equity is below a share of its maintenance
//! margin is taken over whole, every balance moved to the vault's book at
//! no price, instead of being sold into the market.
//!
//! Equity is unweighted, at the oracle: holdings rounded down, debts up
//! (it is never overstated).
//! The maintenance margin is equity less maintenance health (rounded
//! down): what the weights take off. The vault takes each balance's
//! effective amount, so the accounts' book moves by what the accounts
//! held exactly.

use super::{Engine, Event, EventSink, Termination};
use crate::account::health;
use crate::ledger::Book;
use crate::num::{ArithError, ArithResult, Qty, Ratio, Round, Value};

/// The backstop vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backstop {
    /// It takes over a liquidatable account whose equity is below this
    /// share of its maintenance margin (Hyperliquid: 2/3), in (0, 1].
    pub below: Ratio,
}

impl<const A: usize, const N: usize> Engine<'_, A, N> {
    /// Account `id`'s unweighted equity at the oracle and its maintenance
    /// margin, from its settled `row`.
    pub(super) fn equity_and_margin(&self, row: &[Qty]) -> ArithResult<(Value, Value)> {
        let mut equity = Value::ZERO;
        for (&b, m) in row.iter().zip(self.markets.iter()) {
            // Rounded toward minus infinity: a holding's worth down, a
            // debt's up.
            let worth = match b.is_positive() {
                true => b.held(m.state.index)?.value(m.oracle, Round::Down)?,
                false => b.value(m.oracle, Round::Down)?,
            };
            equity = equity.add(worth)?;
        }
        let maint = health(row, &self.maint)?.net()?.value(Round::Down)?;
        Ok((equity, equity.sub(maint)?))
    }

    /// Hands account `id` (its row settled) whole to the vault if the
    /// backstop takes it and no asset it holds or owes is blocked. Returns
    /// whether it did; writes nothing if not.
    pub(super) fn try_backstop(
        &mut self,
        id: u32,
        sink: &mut impl EventSink,
    ) -> Result<bool, Termination> {
        let fault = Termination::Fault;
        let Some(backstop) = self.containment.backstop else {
            return Ok(false);
        };
        let range = self.row_range(id as usize);
        let row = self
            .balances
            .get(range.clone())
            .ok_or(fault(ArithError::Domain))?;
        let exposure = row
            .iter()
            .enumerate()
            .filter(|(_, b)| b.0 != 0)
            .fold(0u32, |m, (i, _)| {
                m | 1u32.checked_shl(i as u32).unwrap_or(0)
            });
        if exposure & self.limits.gate.blocked != 0 {
            return Ok(false);
        }
        let (equity, margin) = self.equity_and_margin(row).map_err(fault)?;
        let threshold = margin.scale(backstop.below, Round::Down).map_err(fault)?;
        if equity >= threshold {
            return Ok(false);
        }
        // Plan every effective amount and share total first.
        let mut moved = [Qty::ZERO; super::ASSET_LIMIT];
        let mut shares = [Qty::ZERO; super::ASSET_LIMIT];
        for (asset, (&b, m)) in row.iter().zip(self.markets.iter()).enumerate() {
            let (slot, total) = (moved.get_mut(asset), shares.get_mut(asset));
            let (Some(slot), Some(total)) = (slot, total) else {
                return Err(fault(ArithError::Domain));
            };
            *slot = match b.is_positive() {
                true => b.held(m.state.index).map_err(fault)?,
                false => b,
            };
            *total = m
                .state
                .deposit_shares
                .sub(b.max(Qty::ZERO))
                .map_err(fault)?;
        }
        // Nothing can fail past here.
        for (asset, m) in self.markets.iter_mut().enumerate() {
            let held = moved.get(asset).copied().unwrap_or(Qty::ZERO);
            match held.is_positive() {
                true => m.books.transfer(Book::Accounts, Book::Backstop, held),
                false => {
                    m.books
                        .transfer(Book::Backstop, Book::Accounts, Qty(held.0.saturating_neg()))
                }
            }
            m.state.deposit_shares = shares.get(asset).copied().unwrap_or(Qty::ZERO);
        }
        self.balances
            .get_mut(range)
            .unwrap_or(&mut [])
            .fill(Qty::ZERO);
        if self.pro_rata_on() {
            self.resnap_row(id)?;
        }
        let r = &mut self.report;
        r.backstopped = r.backstopped.saturating_add(1);
        r.backstop_equity = r.backstop_equity.saturating_add(equity.0);
        sink.emit(&Event::BackstopTakeover {
            round: self.round,
            account: id,
            equity,
        });
        Ok(true)
    }
}

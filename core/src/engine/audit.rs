//! The conservation audit: every book of the ledger checked against an
//! independent path. O(accounts × assets); tests run it after every step.

use super::Engine;
use crate::account;
use crate::ledger::Book;
use crate::num::{self, ArithError, Fx, Qty, ULP};

/// A conservation check that failed, naming the asset and the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuditError {
    /// The books of an asset do not sum to zero.
    BooksUnbalanced {
        /// The asset.
        asset: u8,
    },
    /// The accounts hold more than their book, or less by more than the
    /// rounding bound.
    AccountsMismatch {
        /// The asset.
        asset: u8,
        /// What the ledger says the accounts hold.
        booked: Qty,
        /// What a scan of the accounts finds.
        held: Qty,
    },
    /// The Σ of deposit shares differs from the engine's running total.
    SharesMismatch {
        /// The asset.
        asset: u8,
    },
    /// The venue book differs from the venue's own totals.
    VenueMismatch {
        /// The asset.
        asset: u8,
    },
    /// The insurance book differs from the fund, or the fund is negative.
    Insurance,
    /// Keepers were left holding an asset other than quote.
    KeepersHoldInventory {
        /// The asset.
        asset: u8,
    },
    /// The bad-debt book differs from the report's unrecovered debt.
    BadDebtMismatch {
        /// The asset.
        asset: u8,
    },
    /// The report's deposit index differs from the asset's: a loss was
    /// socialized and not recorded (a trade records only the prices it
    /// moves, and repaying the quote records nothing).
    ReportBehind {
        /// The asset.
        asset: u8,
    },
    /// The audit's own arithmetic overflowed.
    Overflow,
}

impl From<ArithError> for AuditError {
    fn from(_: ArithError) -> Self {
        AuditError::Overflow
    }
}

impl<const A: usize> Engine<'_, A> {
    /// Checks conservation for every asset.
    pub fn audit(&self) -> Result<(), AuditError> {
        let n = self.state.markets.len();
        for (asset, m) in self.state.markets.iter().enumerate() {
            let tag = u8::try_from(asset).unwrap_or(u8::MAX);
            if self.state.ledger.sum(asset)? != Qty::ZERO {
                return Err(AuditError::BooksUnbalanced { asset: tag });
            }
            let (mut held, mut shares, mut lenders) = (Fx::ZERO, Fx::ZERO, 0u64);
            // `max(1)`: n is at least 1 by construction; the optimiser is told so.
            for stored in self
                .balances
                .chunks_exact(n.max(1))
                .filter_map(|row| row.get(asset))
            {
                held = num::add(held, account::effective(*stored, m.deposit_index)?.0)?;
                if stored.is_positive() {
                    shares = num::add(shares, stored.0)?;
                    lenders = lenders.saturating_add(1);
                }
            }
            if shares != m.deposit_shares.0 {
                return Err(AuditError::SharesMismatch { asset: tag });
            }
            let booked = num::add(
                m.initial_total.0,
                self.state.ledger.balance(asset, Book::Accounts).0,
            )?;
            // Each lender's effective balance floors once more: one ulp each.
            let floors = num::mul(Fx::from_num(lenders), ULP, num::Round::Up)?;
            let bound = num::add(self.state.ledger.slack(asset).0, floors)?;
            if held > booked || num::sub(booked, held)? > bound {
                return Err(AuditError::AccountsMismatch {
                    asset: tag,
                    booked: Qty(booked),
                    held: Qty(held),
                });
            }
            let venue_book = self.state.ledger.balance(asset, Book::Venue).0;
            let venue_ok = if asset == 0 {
                let paid_out = sum_fx(self.state.markets.iter().map(|v| v.venue.quote_out.0))?;
                venue_book.checked_neg() == Some(paid_out)
            } else {
                venue_book == m.venue.base_in.0
            };
            if !venue_ok {
                return Err(AuditError::VenueMismatch { asset: tag });
            }
            if asset != 0 && self.state.ledger.balance(asset, Book::Keepers) != Qty::ZERO {
                return Err(AuditError::KeepersHoldInventory { asset: tag });
            }
            let reported = self.state.report.per_asset.get(asset);
            if reported.is_some_and(|r| r.deposit_index != m.deposit_index) {
                return Err(AuditError::ReportBehind { asset: tag });
            }
            let unrecovered = reported.map_or(Qty::ZERO, |r| r.unrecovered);
            if self
                .state
                .ledger
                .balance(asset, Book::BadDebt)
                .0
                .checked_neg()
                != Some(unrecovered.0)
            {
                return Err(AuditError::BadDebtMismatch { asset: tag });
            }
        }
        let insurance_book = self.state.ledger.balance(0, Book::Insurance).0;
        let fund_change = num::sub(self.state.insurance.0, self.initial_insurance.0)?;
        if self.state.insurance.is_negative() || insurance_book != fund_change {
            return Err(AuditError::Insurance);
        }
        Ok(())
    }
}

/// Σ of `values`, checked.
fn sum_fx(mut values: impl Iterator<Item = Fx>) -> Result<Fx, ArithError> {
    values.try_fold(Fx::ZERO, num::add)
}

//! The conservation audit: every book of the ledger checked against an
//! independent path. O(accounts × assets); tests run it after every step.

use super::Engine;
use crate::account;
use crate::ledger::Book;
use crate::num::{self, ArithError, Fx, Qty, Ratio, Value, ULP};

/// A conservation check that failed, naming the asset, the book and both
/// sides of the comparison (`found − booked` is by how much).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuditError {
    /// The books of an asset do not sum to zero.
    BooksUnbalanced {
        /// The asset.
        asset: u8,
        /// Their sum (zero when they balance).
        sum: Qty,
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
        /// The engine's running total.
        booked: Qty,
        /// What a scan of the accounts finds.
        held: Qty,
    },
    /// The venue book differs from the venue's own totals.
    VenueMismatch {
        /// The asset.
        asset: u8,
        /// The ledger's venue book.
        booked: Qty,
        /// The venue's own count (for the quote: minus what all venues
        /// paid out).
        held: Qty,
    },
    /// The insurance book differs from the fund's change, or the fund is
    /// negative.
    Insurance {
        /// The ledger's insurance book.
        booked: Value,
        /// The fund's change since the start.
        held: Value,
    },
    /// Keepers were left holding an asset other than quote.
    KeepersHoldInventory {
        /// The asset.
        asset: u8,
        /// What they hold (zero expected).
        held: Qty,
    },
    /// The bad-debt book differs from the report's unrecovered debt.
    BadDebtMismatch {
        /// The asset.
        asset: u8,
        /// The ledger's bad-debt book.
        booked: Qty,
        /// Minus the report's unrecovered debt.
        held: Qty,
    },
    /// The report's deposit index differs from the asset's: a loss was
    /// socialized and not recorded (a trade records only the prices it
    /// moves, and repaying the quote records nothing).
    ReportBehind {
        /// The asset.
        asset: u8,
        /// The report's deposit index.
        booked: Ratio,
        /// The asset's.
        held: Ratio,
    },
    /// The audit's own arithmetic overflowed.
    Overflow,
}

impl AuditError {
    /// The asset the check failed on, if it names one.
    pub fn asset(&self) -> Option<u8> {
        match *self {
            AuditError::BooksUnbalanced { asset, .. }
            | AuditError::AccountsMismatch { asset, .. }
            | AuditError::SharesMismatch { asset, .. }
            | AuditError::VenueMismatch { asset, .. }
            | AuditError::KeepersHoldInventory { asset, .. }
            | AuditError::BadDebtMismatch { asset, .. }
            | AuditError::ReportBehind { asset, .. } => Some(asset),
            AuditError::Insurance { .. } => Some(0),
            AuditError::Overflow => None,
        }
    }

    /// The book the check compared, if one: `None` for the sum of all the
    /// books and for the report's deposit index.
    pub fn book(&self) -> Option<Book> {
        match self {
            AuditError::AccountsMismatch { .. } | AuditError::SharesMismatch { .. } => {
                Some(Book::Accounts)
            }
            AuditError::VenueMismatch { .. } => Some(Book::Venue),
            AuditError::Insurance { .. } => Some(Book::Insurance),
            AuditError::KeepersHoldInventory { .. } => Some(Book::Keepers),
            AuditError::BadDebtMismatch { .. } => Some(Book::BadDebt),
            AuditError::BooksUnbalanced { .. }
            | AuditError::ReportBehind { .. }
            | AuditError::Overflow => None,
        }
    }
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
            let sum = self.state.ledger.sum(asset)?;
            if sum != Qty::ZERO {
                return Err(AuditError::BooksUnbalanced { asset: tag, sum });
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
                return Err(AuditError::SharesMismatch {
                    asset: tag,
                    booked: m.deposit_shares,
                    held: Qty(shares),
                });
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
            let venue_count = if asset == 0 {
                let paid_out = sum_fx(self.state.markets.iter().map(|v| v.venue.quote_out.0))?;
                num::sub(Fx::ZERO, paid_out)?
            } else {
                m.venue.base_in.0
            };
            if venue_book != venue_count {
                return Err(AuditError::VenueMismatch {
                    asset: tag,
                    booked: Qty(venue_book),
                    held: Qty(venue_count),
                });
            }
            let keepers = self.state.ledger.balance(asset, Book::Keepers);
            if asset != 0 && keepers != Qty::ZERO {
                return Err(AuditError::KeepersHoldInventory {
                    asset: tag,
                    held: keepers,
                });
            }
            let reported = self.state.report.per_asset.get(asset);
            if let Some(r) = reported.filter(|r| r.deposit_index != m.deposit_index) {
                return Err(AuditError::ReportBehind {
                    asset: tag,
                    booked: r.deposit_index,
                    held: m.deposit_index,
                });
            }
            let unrecovered = reported.map_or(Qty::ZERO, |r| r.unrecovered);
            let bad_debt = self.state.ledger.balance(asset, Book::BadDebt);
            if bad_debt.0.checked_neg() != Some(unrecovered.0) {
                return Err(AuditError::BadDebtMismatch {
                    asset: tag,
                    booked: bad_debt,
                    held: unrecovered.neg()?,
                });
            }
        }
        let insurance_book = self.state.ledger.balance(0, Book::Insurance).0;
        let fund_change = num::sub(self.state.insurance.0, self.initial_insurance.0)?;
        if self.state.insurance.is_negative() || insurance_book != fund_change {
            return Err(AuditError::Insurance {
                booked: Value(insurance_book),
                held: Value(fund_change),
            });
        }
        Ok(())
    }
}

/// Σ of `values`, checked.
fn sum_fx(mut values: impl Iterator<Item = Fx>) -> Result<Fx, ArithError> {
    values.try_fold(Fx::ZERO, num::add)
}

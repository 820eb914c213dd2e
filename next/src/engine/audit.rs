//! The conservation audit: what the books say against what the state
//! holds, for every asset. O(accounts): tests run it after every step, and
//! a user can on their own scenarios.
//!
//! - Each asset's books sum to zero (every transfer has two sides).
//! - Each venue's book is what the venue counts it took in (its base), and
//!   the quote's venue book what all venues paid out.
//! - The quote's insurance book is the fund's change.
//! - The accounts' book is the change of Σ effective balances (debts, and
//!   deposits at their index). A deposit held in shares rounds against its
//!   holder each time it is valued or moved at an index below one, so the
//!   accounts may hold less than booked, by at most one base unit per
//!   account and per pair step; at an index of one they hold exactly it.
//! - Each asset's deposit shares are Σ of the positive stored balances.
//! - Under pro-rata auto-deleveraging the accounts' balances are counted as settled
//!   (each row settled on a copy), and each side's rounding bound
//!   ([`super::Side::slack`]) is added to the allowance.

use super::Engine;
use crate::ledger::Book;
use crate::num::Index;
use crate::venue::Mechanism;

/// A book that does not balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditError {
    /// Asset `asset`'s books do not sum to zero.
    Unbalanced {
        /// The asset.
        asset: usize,
    },
    /// Asset `asset`'s venue book is not what its venue counts (asset 0:
    /// what all venues paid out).
    Venue {
        /// The asset.
        asset: usize,
    },
    /// The insurance book is not the fund's change.
    Insurance,
    /// The accounts hold `held` of asset `asset` where the books say
    /// `booked`.
    Accounts {
        /// The asset.
        asset: usize,
        /// Σ effective balances.
        held: i128,
        /// The starting total plus the accounts' book.
        booked: i128,
    },
    /// Asset `asset`'s deposit shares are not Σ of positive balances.
    Shares {
        /// The asset.
        asset: usize,
    },
    /// Asset `asset`'s deleveraging side does not count its shorts: Σ of
    /// their debt shares, their number, or a debt without shares.
    Side {
        /// The asset.
        asset: usize,
    },
    /// A row could not be settled with the sides.
    Settlement,
}

impl<const A: usize, const N: usize> Engine<'_, A, N> {
    /// Checks every book against the state.
    pub fn audit(&self) -> Result<(), AuditError> {
        let n = self.markets.len();
        let mut quote_paid = 0i128;
        // Under auto-deleveraging, the rows as settled (on copies).
        let mut settled = [0i128; super::ASSET_LIMIT];
        if self.pro_rata_on() {
            self.settled_totals(&mut settled)
                .map_err(|_| AuditError::Settlement)?;
            self.audit_sides()?;
        }
        for (asset, m) in self.markets.iter().enumerate() {
            if m.books.sum() != 0 {
                return Err(AuditError::Unbalanced { asset });
            }
            if let Some(v) = &m.state.venue {
                if m.books.balance(Book::Venue) != i128::from(v.base_in.0) {
                    return Err(AuditError::Venue { asset });
                }
                if !matches!(v.mechanism, Mechanism::Quote) {
                    quote_paid = quote_paid.wrapping_add(i128::from(v.quote_out.0));
                }
            }
            let (mut held, mut shares) = (0i128, 0i128);
            // `max(1)`: no zero chunk size (an engine has assets) to panic on.
            for row in self.balances.chunks_exact(n.max(1)) {
                let b = row.get(asset).copied().unwrap_or_default();
                // A deposit is shares at the index; a debt is base units.
                let effective = match b.is_positive() {
                    true => b
                        .held(m.state.index)
                        .map_err(|_| AuditError::Shares { asset })?,
                    false => b,
                };
                held = held.wrapping_add(i128::from(effective.0));
                if b.is_positive() {
                    shares = shares.wrapping_add(i128::from(b.0));
                }
            }
            if shares != i128::from(m.state.deposit_shares.0) {
                return Err(AuditError::Shares { asset });
            }
            // Ranked deleveraging writes rows as they stand, pro rata
            // settles them.
            let side = self.sides.get(asset).filter(|_| self.pro_rata_on());
            if side.is_some() {
                held = settled.get(asset).copied().unwrap_or(0);
            }
            let initial = self.initial.get(asset).copied().unwrap_or(0);
            let booked = initial.wrapping_add(m.books.balance(Book::Accounts));
            // A row not yet settled rounds each accrual to the quote: under
            // a unit for each risky asset.
            let unsettled = match (asset, side) {
                (0, Some(_)) => (self.accounts as i128).wrapping_mul(n.saturating_sub(1) as i128),
                _ => 0,
            };
            let slack = (self.accounts as i128)
                .wrapping_add(i128::from(self.report.steps))
                .wrapping_add(side.map_or(0, |s| s.slack))
                .wrapping_add(unsettled);
            let within = match (m.state.index, side) {
                (Index::ONE, None) => held == booked,
                _ => held <= booked && booked.wrapping_sub(held) <= slack,
            };
            if !within {
                return Err(AuditError::Accounts {
                    asset,
                    held,
                    booked,
                });
            }
        }
        if let Some(q) = self.markets.first() {
            if q.books.balance(Book::Venue) != quote_paid.wrapping_neg() {
                return Err(AuditError::Venue { asset: 0 });
            }
            let change =
                i128::from(self.insurance.0).wrapping_sub(i128::from(self.initial_insurance.0));
            if q.books.balance(Book::Insurance) != change {
                return Err(AuditError::Insurance);
            }
        }
        Ok(())
    }
}

impl<const A: usize, const N: usize> Engine<'_, A, N> {
    /// Each side's totals against the snapshots: Σ debt shares, the shorts
    /// counted, and every debt with shares (a debt without would vanish at
    /// its next settlement).
    fn audit_sides(&self) -> Result<(), AuditError> {
        let n = self.markets.len();
        let risky = n.saturating_sub(1);
        for (k, side) in self.sides.iter().enumerate().skip(1) {
            let (mut shares, mut shorts) = (0i128, 0u32);
            let rows = self.balances.chunks_exact(n.max(1));
            for (row, snaps) in rows.zip(self.snaps.chunks_exact(risky.max(1))) {
                let snap = snaps.get(k.wrapping_sub(1)).copied().unwrap_or_default();
                let b = row.get(k).copied().unwrap_or_default();
                if b.is_negative() != snap.debt_shares.is_positive() {
                    return Err(AuditError::Side { asset: k });
                }
                shares = shares.wrapping_add(i128::from(snap.debt_shares.0));
                shorts = shorts.wrapping_add(u32::from(snap.debt_shares.is_positive()));
            }
            if shares != side.debt_shares || shorts != side.shorts {
                return Err(AuditError::Side { asset: k });
            }
        }
        Ok(())
    }
}

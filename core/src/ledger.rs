//! The ledger: double-entry books per asset, so that every unit is accounted
//! for (debits = credits, as TigerBeetle).
//!
//! Each asset has one signed balance per [`Book`], the net amount that book has
//! received since the start. Every movement is a [`Ledger::transfer`] from one
//! book to another, so the books of an asset always sum to zero. The audit
//! (`Engine::audit`) then checks each book against an independent path: the
//! accounts book against a scan of every account, the venue book against the
//! venue's own totals, the insurance book against the fund.
//!
//! Rounding is the one place where the accounts may hold less than their book
//! says: every rounding in an account's balance favours the protocol, and the
//! ledger keeps `slack`, an upper bound on what rounding has taken, per asset.

use crate::num::{self, ArithResult, Fx, Qty, ULP};

/// Most assets, the quote asset included (Compound III: 15 collateral + base).
pub const MAX_ASSETS: usize = 16;

/// The parties that hold or owe an asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Book {
    /// All accounts together.
    Accounts = 0,
    /// The asset's venue (for the quote asset: all venues' quote).
    Venue,
    /// Liquidators: they pay the debt, receive the collateral and trade it.
    Keepers,
    /// The insurance fund (holds quote only).
    Insurance,
    /// Debt written off: negative by what is still unrecovered.
    BadDebt,
    /// Exogenous flows from shocks.
    Exogenous,
    /// Outside arbitrageurs who pull pools back to the outside price.
    Arbitrage,
    /// The backstop vault: the positions it took over.
    Backstop,
    /// Dutch auctions: collateral on sale, and the debt they still owe.
    Auction,
}

/// Number of books.
pub const BOOKS: usize = 9;
/// Books that enter the digest only once used (they came later).
const LATE_BOOKS: usize = 2;

/// Every book, in canonical order.
pub const ALL_BOOKS: [Book; BOOKS] = [
    Book::Accounts,
    Book::Venue,
    Book::Keepers,
    Book::Insurance,
    Book::BadDebt,
    Book::Exogenous,
    Book::Arbitrage,
    Book::Backstop,
    Book::Auction,
];

/// Per-asset double-entry books and rounding slack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ledger<const A: usize = MAX_ASSETS> {
    books: [[Fx; BOOKS]; A],
    slack: [Fx; A],
}

impl<const A: usize> Default for Ledger<A> {
    fn default() -> Self {
        Self {
            books: [[Fx::ZERO; BOOKS]; A],
            slack: [Fx::ZERO; A],
        }
    }
}

impl<const A: usize> Ledger<A> {
    /// Moves `amount` of asset `asset` from one book to another.
    pub fn transfer(&mut self, asset: usize, from: Book, to: Book, amount: Qty) -> ArithResult<()> {
        let row = self.books.get_mut(asset).ok_or(num::ArithError::Domain)?;
        let debit = num::sub(book(row, from), amount.0)?;
        let credit = num::add(book(row, to), amount.0)?;
        set(row, from, debit);
        set(row, to, credit);
        Ok(())
    }

    /// The net amount `book` has received of `asset`.
    pub fn balance(&self, asset: usize, book_id: Book) -> Qty {
        Qty(self
            .books
            .get(asset)
            .map_or(Fx::ZERO, |row| book(row, book_id)))
    }

    /// Σ of the books of `asset` (zero unless a transfer was one-sided).
    pub fn sum(&self, asset: usize) -> ArithResult<Qty> {
        let row = self.books.get(asset).ok_or(num::ArithError::Domain)?;
        row.iter().try_fold(Qty::ZERO, |acc, &b| acc.add(Qty(b)))
    }

    /// Records that rounding may have taken up to `ulps` more ulps of `asset`
    /// from the accounts than their book shows.
    pub fn add_slack(&mut self, asset: usize, ulps: Fx) -> ArithResult<()> {
        if let Some(s) = self.slack.get_mut(asset) {
            *s = num::add(*s, num::mul(ulps, ULP, num::Round::Up)?)?;
        }
        Ok(())
    }

    /// The rounding bound of `asset`.
    pub fn slack(&self, asset: usize) -> Qty {
        Qty(self.slack.get(asset).copied().unwrap_or(Fx::ZERO))
    }

    /// Every number, in canonical order (for the digest).
    /// The backstop and auction books enter only once used, so runs without
    /// them keep the digests they had before they existed.
    pub fn for_each_number(&self, assets: usize, mut f: impl FnMut(Fx)) {
        let late_used = self.books.iter().any(|row| {
            book(row, Book::Backstop) != Fx::ZERO || book(row, Book::Auction) != Fx::ZERO
        });
        let books = if late_used { BOOKS } else { BOOKS - LATE_BOOKS };
        for (row, slack) in self.books.iter().zip(&self.slack).take(assets) {
            row.iter().take(books).for_each(|&b| f(b));
            f(*slack);
        }
    }
}

fn book(row: &[Fx; BOOKS], b: Book) -> Fx {
    row.get(b as usize).copied().unwrap_or(Fx::ZERO)
}

fn set(row: &mut [Fx; BOOKS], b: Book, value: Fx) {
    if let Some(slot) = row.get_mut(b as usize) {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_balance_to_zero() {
        let mut l: Ledger = Ledger::default();
        l.transfer(1, Book::Accounts, Book::Venue, Qty::from_int(5))
            .unwrap();
        l.transfer(1, Book::Venue, Book::Keepers, Qty::from_int(2))
            .unwrap();
        assert_eq!(l.balance(1, Book::Accounts), Qty::from_int(-5));
        assert_eq!(l.balance(1, Book::Venue), Qty::from_int(3));
        assert_eq!(l.sum(1), Ok(Qty::ZERO));
        assert!(l
            .transfer(MAX_ASSETS, Book::Accounts, Book::Venue, Qty::ZERO)
            .is_err());
    }
}

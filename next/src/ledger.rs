//! Double-entry books per asset, in base units (debits = credits).
//!
//! Each asset has one signed balance per [`Book`]: the net amount that book
//! has received since the start. Every movement is a transfer between two
//! books, so an asset's books always sum to zero.
//!
//! A book is an `i128` and a transfer an `i64` amount, so a transfer cannot
//! fail: a book reaches the end of its range only after 2^64 transfers of
//! the largest amount, more than a run makes in centuries. The books are
//! therefore written last, when a unit applies its plan, by additions that
//! wrap in name only (and were they ever to wrap, the audit, which sums the
//! books, would see it).

use crate::num::Qty;

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
    /// The backstop vault.
    Backstop,
    /// Dutch auctions.
    Auction,
}

/// Number of books.
pub const BOOKS: usize = 9;

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

/// One asset's books.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Books([i128; BOOKS]);

impl Books {
    /// Moves `amount` from one book to another (see the module comment on
    /// why this cannot overflow). A unit books every kind of flow it can
    /// make, most of them zero: those cost a test.
    #[inline]
    pub fn transfer(&mut self, from: Book, to: Book, amount: Qty) {
        if amount.0 == 0 {
            return;
        }
        let amount = i128::from(amount.0);
        if let Some(slot) = self.0.get_mut(from as usize) {
            *slot = slot.wrapping_sub(amount);
        }
        if let Some(slot) = self.0.get_mut(to as usize) {
            *slot = slot.wrapping_add(amount);
        }
    }

    /// The net amount `book` has received.
    pub fn balance(&self, book: Book) -> i128 {
        self.0.get(book as usize).copied().unwrap_or(0)
    }

    /// Σ of the books: zero, unless a transfer was one-sided.
    pub fn sum(&self) -> i128 {
        self.0.iter().fold(0, |acc, &b| acc.wrapping_add(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_balance_to_zero_past_the_range_of_an_amount() {
        let mut b = Books::default();
        b.transfer(Book::Accounts, Book::Venue, Qty(5));
        b.transfer(Book::Venue, Book::Keepers, Qty(2));
        assert_eq!(b.balance(Book::Accounts), -5);
        assert_eq!(b.balance(Book::Venue), 3);
        assert_eq!(b.sum(), 0);
        for _ in 0..4 {
            b.transfer(Book::Keepers, Book::Venue, Qty(i64::MAX));
        }
        assert_eq!(b.balance(Book::Venue), 3 + 4 * i128::from(i64::MAX));
        assert_eq!(b.sum(), 0);
    }
}

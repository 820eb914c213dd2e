//! Double-entry books per asset, in base units (debits = credits).
//!
//! Each asset has one signed balance per [`Book`]: the net amount that book
//! has received since the start. Every movement is a transfer between two
//! books, so an asset's books always sum to zero. A book is an `i64`, as
//! an amount is: the engine bounds every asset's total so that none can
//! overflow (a transfer past it is an error, checked before anything moves).

use crate::num::{ArithError, ArithResult, Qty};

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
pub struct Books([i64; BOOKS]);

impl Books {
    /// Moves `amount` from one book to another: both sides are checked
    /// before either is written.
    pub fn transfer(&mut self, from: Book, to: Book, amount: Qty) -> ArithResult<()> {
        let debit = self.balance(from).checked_sub(amount.0);
        let credit = self.balance(to).checked_add(amount.0);
        let (Some(debit), Some(credit)) = (debit, credit) else {
            return Err(ArithError::Overflow);
        };
        if let Some(slot) = self.0.get_mut(from as usize) {
            *slot = debit;
        }
        if let Some(slot) = self.0.get_mut(to as usize) {
            *slot = credit;
        }
        Ok(())
    }

    /// The net amount `book` has received.
    pub fn balance(&self, book: Book) -> i64 {
        self.0.get(book as usize).copied().unwrap_or(0)
    }

    /// Σ of the books (zero unless a transfer was one-sided).
    pub fn sum(&self) -> ArithResult<i64> {
        self.0
            .iter()
            .try_fold(0i64, |acc, &b| acc.checked_add(b))
            .ok_or(ArithError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_balance_to_zero_and_an_overflow_moves_nothing() {
        let mut b = Books::default();
        b.transfer(Book::Accounts, Book::Venue, Qty(5)).unwrap();
        b.transfer(Book::Venue, Book::Keepers, Qty(2)).unwrap();
        assert_eq!(b.balance(Book::Accounts), -5);
        assert_eq!(b.balance(Book::Venue), 3);
        assert_eq!(b.sum(), Ok(0));
        let before = b;
        assert_eq!(
            b.transfer(Book::Keepers, Book::Venue, Qty(i64::MAX)),
            Err(ArithError::Overflow)
        );
        assert_eq!(b, before);
    }
}

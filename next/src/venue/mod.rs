//! Venues in base units: where seized collateral is sold and liabilities
//! are bought back (docs/semantics.md, "Venues"; the kernel's
//! `core/src/venue`), carried over a kind at a time: the arithmetic they
//! need beyond `crate::num`, the impact curves, the constant-product pool
//! and the order book.

mod amm;
mod book;
mod curve;
mod math;

pub use amm::{rebalanced, PoolVenue};
pub use book::{Ladder, Side, Taken, MAX_BOOK_LEVELS};
pub use curve::{Curve, CurveVenue, Slope, MAX_SLOPE_EXPONENT};

use crate::num::{ArithError, Qty, Value};

/// The parameter a configuration gets wrong (the kernel's `AssetParam`
/// names for venues).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VenueParam {
    /// A quote venue at a price other than one.
    Kind,
    /// A slope, depth, volume, `Y·σ` or reserve that is zero or out of
    /// range (a pool whose quote reserve rounds to nothing).
    Liquidity,
    /// A resilience above one.
    Resilience,
    /// A floor with another exponent than the price's.
    Floor,
    /// A fee of one or more.
    Fee,
    /// No levels, more than the ladder holds, a zero tick, or
    /// `levels·tick >= 1`.
    Levels,
}

/// Why a venue could not do what it was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VenueError {
    /// The venue's liquidity cannot absorb the trade or the move.
    Exhausted,
    /// The arithmetic failed outside a trade, or a parameter was out of its
    /// domain (a negative size, a price with another exponent).
    Arith(ArithError),
    /// The configuration is invalid.
    Invalid(VenueParam),
}

impl From<ArithError> for VenueError {
    fn from(e: ArithError) -> Self {
        VenueError::Arith(e)
    }
}

/// A trade's effect seen from the trader: base given to the venue
/// (negative: taken from it) and quote received from it (negative: paid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fill {
    /// Base the trader gave the venue (negative: took).
    pub base_in: Qty,
    /// Quote the venue paid the trader (negative: received).
    pub quote_out: Value,
}

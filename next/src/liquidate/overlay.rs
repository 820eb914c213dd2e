//! What a unit plans on: a copy of the account's row, of each market the
//! unit touches (copied when first written), and of the insurance fund. The
//! state itself is only read until the plan is whole; then
//! [`Overlay::apply`] writes the copies back with plain assignments, which
//! cannot fail. A unit that fails drops its overlay: nothing was written,
//! so nothing is saved before a unit and nothing restored after.
//!
//! The overlay does not hold the markets it was made over: each read takes
//! them (`base`), so that the same slice can be written once the plan is
//! done.

use super::Market;
use crate::num::{ArithError, ArithResult, Qty, Value};

/// The planned state of a unit over `A` assets at most.
pub(super) struct Overlay<const A: usize> {
    assets: usize,
    planned: [Option<Market>; A],
    row: [Qty; A],
    /// The insurance fund as planned.
    pub insurance: Value,
}

impl<const A: usize> Overlay<A> {
    /// An overlay of `row` (one balance per market) over `base`.
    pub fn new(row: &[Qty], base: &[Market], insurance: Value) -> ArithResult<Self> {
        if row.len() != base.len() || base.len() > A {
            return Err(ArithError::Domain);
        }
        let mut copy = [Qty::ZERO; A];
        copy.iter_mut().zip(row).for_each(|(c, b)| *c = *b);
        Ok(Self {
            assets: base.len(),
            planned: [None; A],
            row: copy,
            insurance,
        })
    }

    /// The assets.
    pub fn assets(&self) -> usize {
        self.assets
    }

    /// The row as planned.
    pub fn row(&self) -> &[Qty] {
        self.row.get(..self.assets).unwrap_or(&[])
    }

    /// One balance as planned.
    pub fn balance(&self, asset: usize) -> ArithResult<Qty> {
        self.row().get(asset).copied().ok_or(ArithError::Domain)
    }

    /// Plans a balance.
    pub fn set_balance(&mut self, asset: usize, value: Qty) -> ArithResult<()> {
        if asset >= self.assets {
            return Err(ArithError::Domain);
        }
        *self.row.get_mut(asset).ok_or(ArithError::Domain)? = value;
        Ok(())
    }

    /// Market `asset` as planned.
    pub fn market<'a>(&'a self, base: &'a [Market], asset: usize) -> ArithResult<&'a Market> {
        match self.planned.get(asset) {
            Some(Some(planned)) => Ok(planned),
            _ => base.get(asset).ok_or(ArithError::Domain),
        }
    }

    /// Market `asset`, to plan a change: copied on its first write.
    pub fn market_mut(&mut self, base: &[Market], asset: usize) -> ArithResult<&mut Market> {
        let slot = self.planned.get_mut(asset).ok_or(ArithError::Domain)?;
        if slot.is_none() {
            *slot = Some(*base.get(asset).ok_or(ArithError::Domain)?);
        }
        slot.as_mut().ok_or(ArithError::Domain)
    }

    /// Writes the plan: the row, every touched market, the fund. The
    /// lengths were checked when the overlay was made.
    pub fn apply(&self, row: &mut [Qty], markets: &mut [Market], insurance: &mut Value) {
        row.iter_mut()
            .zip(&self.row)
            .take(self.assets)
            .for_each(|(r, b)| *r = *b);
        for (market, planned) in markets.iter_mut().zip(&self.planned) {
            if let Some(planned) = planned {
                *market = *planned;
            }
        }
        *insurance = self.insurance;
    }
}

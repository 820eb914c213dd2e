//! What a unit plans on: a copy of the account's row, of the part of each
//! market the unit changes ([`MarketState`]: its index, venue and shares,
//! copied when first written), the amounts it moves, and the insurance fund. The state itself
//! is only read until the plan is whole; then [`Overlay::apply`] writes the
//! copies back with plain assignments and books the amounts, neither of
//! which can fail. A unit that fails drops its overlay: nothing was
//! written, so nothing is saved before a unit and nothing restored after.
//!
//! A market's parameters (oracle, discounted price, fee share, dust) do not
//! change in a unit and are read from the state; its books are not copied
//! either: the unit sums what it moves in each asset ([`Flows`]) and books
//! the sums, the same transfers added in another order.
//!
//! The overlay does not hold the markets it was made over: each read takes
//! them (`base`), so that the same slice can be written once the plan is
//! done.

use super::step::{market, StepPlan, View};
use super::{Market, MarketState, Moved, Written};
use crate::ledger::{Book, Books};
use crate::num::{ArithError, ArithResult, Qty, Value};

/// What a unit moves in one asset, summed over its steps and its waterfall,
/// each amount `>= 0` in the asset's base units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Flows {
    /// Seized from the accounts (to the venue; the quote to the keepers).
    pub seized: Qty,
    /// Repaid to the accounts (from the venue; the quote by the keepers).
    pub repaid: Qty,
    /// Debt written off.
    pub written_off: Qty,
    /// Written-off debt the insurance fund bought back.
    pub covered: Qty,
    /// Written-off debt taken from the asset's lenders.
    pub socialized: Qty,
    /// What the insurance fund paid for what it bought back, in quote.
    pub insurance_paid: Value,
    /// Quote the asset's trades moved: its sales' proceeds, its purchases'
    /// cost.
    pub traded: Value,
    /// The protocol's fee on its sales.
    pub fee: Value,
}

impl Flows {
    /// Books the flows of asset `asset` in its books.
    pub fn book(&self, asset: usize, books: &mut Books) {
        let (trader, payer) = match asset {
            0 => (Book::Keepers, Book::Insurance),
            _ => (Book::Venue, Book::Venue),
        };
        books.transfer(Book::Accounts, trader, self.seized);
        books.transfer(trader, Book::Accounts, self.repaid);
        books.transfer(Book::BadDebt, Book::Accounts, self.written_off);
        books.transfer(payer, Book::BadDebt, self.covered);
        books.transfer(Book::Accounts, Book::BadDebt, self.socialized);
    }
}

/// What a unit moves in the quote for the other assets' trades, each `>= 0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct QuoteFlows {
    /// Paid by venues for seized collateral, to the keepers.
    pub proceeds: Value,
    /// Paid to venues by the keepers for repaid liabilities.
    pub cost: Value,
    /// The protocol's fee, from the keepers to the insurance fund.
    pub fee: Value,
    /// What venues paid along their curves above the round's clearing
    /// price, kept by them (equilibrium settlement): booked to the
    /// arbitrage book.
    pub surplus: Value,
}

impl QuoteFlows {
    /// Books the quote's side of the other assets' flows.
    pub fn book(&self, books: &mut Books) {
        let quote = |v: Value| Qty(v.0);
        books.transfer(Book::Venue, Book::Keepers, quote(self.proceeds));
        books.transfer(Book::Keepers, Book::Venue, quote(self.cost));
        books.transfer(Book::Keepers, Book::Insurance, quote(self.fee));
        if crate::engine::CONTAINMENT_BUILT {
            books.transfer(Book::Venue, Book::Arbitrage, quote(self.surplus));
        }
    }
}

/// One market as a unit plans it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Planned<const N: usize> {
    /// Its state after the plan.
    pub state: MarketState<N>,
    /// What the plan moves in it.
    pub flows: Flows,
}

/// The planned state of a unit over `A` assets at most.
pub(super) struct Overlay<const A: usize, const N: usize> {
    assets: usize,
    planned: [Option<Planned<N>>; A],
    row: [Qty; A],
    /// The quote the plan moves for the other assets.
    pub quote: QuoteFlows,
    /// The insurance fund as planned.
    pub insurance: Value,
}

impl<const A: usize, const N: usize> Overlay<A, N> {
    /// An overlay of `row` (one balance per market) over `base`. Inlined,
    /// so that it is built in its caller's frame, not moved there.
    #[inline(always)]
    pub fn new(row: &[Qty], base: &[Market<N>], insurance: Value) -> ArithResult<Self> {
        if row.len() != base.len() || base.len() > A {
            return Err(ArithError::Domain);
        }
        let mut copy = [Qty::ZERO; A];
        copy.iter_mut().zip(row).for_each(|(c, b)| *c = *b);
        Ok(Self {
            assets: base.len(),
            planned: [None; A],
            row: copy,
            quote: QuoteFlows::default(),
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

    /// The state of market `asset` as planned.
    pub fn state<'a>(
        &'a self,
        base: &'a [Market<N>],
        asset: usize,
    ) -> ArithResult<&'a MarketState<N>> {
        match self.planned.get(asset) {
            Some(Some(planned)) => Ok(&planned.state),
            _ => market(base, asset).map(|m| &m.state),
        }
    }

    /// Market `asset`, to plan a change: its state copied on its first
    /// write.
    pub fn plan(&mut self, base: &[Market<N>], asset: usize) -> ArithResult<&mut Planned<N>> {
        let slot = self.planned.get_mut(asset).ok_or(ArithError::Domain)?;
        if slot.is_none() {
            let state = market(base, asset)?.state;
            *slot = Some(Planned {
                state,
                flows: Flows::default(),
            });
        }
        slot.as_mut().ok_or(ArithError::Domain)
    }

    /// Adds a planned step to the plan (its trades were planned on this
    /// overlay's venues).
    pub fn write(&mut self, base: &[Market<N>], plan: &StepPlan) -> ArithResult<()> {
        let quote = plan.flows().2;
        let sides = plan.moved().into_iter().enumerate().zip(plan.balances);
        for ((side, moved), balance) in sides {
            self.set_balance(moved.asset, balance)?;
            let planned = self.plan(base, moved.asset)?;
            plan.write_state(side, &mut planned.state);
            let f = &mut planned.flows;
            f.seized = f.seized.add(moved.seized)?;
            f.repaid = f.repaid.add(moved.repaid)?;
            f.traded = f.traded.add(moved.traded)?;
            f.fee = f.fee.add(moved.fee)?;
        }
        self.quote.proceeds = self.quote.proceeds.add(quote.proceeds)?;
        self.quote.cost = self.quote.cost.add(quote.cost)?;
        self.quote.fee = self.quote.fee.add(quote.fee)?;
        if crate::engine::CONTAINMENT_BUILT {
            self.quote.surplus = self.quote.surplus.add(quote.surplus)?;
        }
        self.insurance = plan.insurance;
        Ok(())
    }

    /// The overlay over `base`, as a step reads it.
    pub fn view<'a>(&'a self, base: &'a [Market<N>]) -> Planning<'a, A, N> {
        Planning {
            overlay: self,
            base,
        }
    }

    /// What the plan moves in each asset its steps touched.
    pub fn moved(&self) -> impl Iterator<Item = Moved> + '_ {
        self.planned.iter().enumerate().filter_map(|(asset, p)| {
            let f = p.as_ref()?.flows;
            let touched = f.seized.is_positive() || f.repaid.is_positive();
            touched.then_some(Moved {
                asset,
                seized: f.seized,
                repaid: f.repaid,
                traded: f.traded,
                fee: f.fee,
            })
        })
    }

    /// The debts the plan writes off, one record an asset.
    pub fn written(&self) -> impl Iterator<Item = Written> + '_ {
        self.planned.iter().enumerate().filter_map(|(asset, p)| {
            let f = p.as_ref()?.flows;
            f.written_off.is_positive().then(|| Written {
                asset,
                written_off: f.written_off,
                covered: f.covered,
                insurance_paid: f.insurance_paid,
                socialized: f.socialized,
                deleveraged: Qty::ZERO,
                unrecovered: Qty(f
                    .written_off
                    .0
                    .saturating_sub(f.covered.0)
                    .saturating_sub(f.socialized.0)),
            })
        })
    }

    /// Writes the plan: the row, every touched market's state and books,
    /// the quote's books, the fund. The lengths were checked when the
    /// overlay was made.
    pub fn apply(&self, row: &mut [Qty], markets: &mut [Market<N>], insurance: &mut Value) {
        row.iter_mut()
            .zip(&self.row)
            .take(self.assets)
            .for_each(|(r, b)| *r = *b);
        for (asset, (market, planned)) in markets.iter_mut().zip(&self.planned).enumerate() {
            if let Some(Planned { state, flows }) = planned {
                market.state = *state;
                flows.book(asset, &mut market.books);
            }
        }
        if let Some(quote) = markets.first_mut() {
            self.quote.book(&mut quote.books);
            // The quote the fund paid venues for each risky debt it bought
            // back (the quote's own it pays to the bad-debt book itself).
            for p in self.planned.iter().skip(1).flatten() {
                let paid = Qty(p.flows.insurance_paid.0);
                quote.books.transfer(Book::Insurance, Book::Venue, paid);
            }
        }
        *insurance = self.insurance;
    }
}

/// An overlay over the markets it was made over: what a step reads.
pub(super) struct Planning<'a, const A: usize, const N: usize> {
    overlay: &'a Overlay<A, N>,
    base: &'a [Market<N>],
}

impl<const A: usize, const N: usize> View<N> for Planning<'_, A, N> {
    fn row(&self) -> &[Qty] {
        self.overlay.row()
    }
    fn state(&self, asset: usize) -> ArithResult<&MarketState<N>> {
        self.overlay.state(self.base, asset)
    }
    fn insurance(&self) -> Value {
        self.overlay.insurance
    }
}

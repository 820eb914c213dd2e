//! Events: what happened, in order, through a caller's sink.

use crate::error::Error;
use crate::num::{Price, Qty, Value};

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Termination {
    /// Nothing is left that the policy may touch and no price will move.
    FixedPoint,
    /// The round cap was reached first.
    RoundCap,
    /// A venue could not absorb a trade: the market broke.
    MarketBroken {
        /// The asset whose venue ran dry.
        asset: u8,
    },
    /// The kernel stopped on an error.
    Failed(Error),
}

/// One thing that happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// A round began (after its shocks and oracle update).
    RoundStarted {
        /// The round.
        round: u32,
    },
    /// A scheduled shock was applied.
    ShockApplied {
        /// The round.
        round: u32,
        /// Its index in the schedule.
        index: u16,
    },
    /// One pair step of a liquidation.
    Liquidation {
        /// The round.
        round: u32,
        /// The account.
        account: u32,
        /// Liability asset repaid.
        liability: u8,
        /// Collateral asset seized.
        collateral: u8,
        /// Liability repaid, in its units.
        repaid: Qty,
        /// Collateral seized, in its units.
        seized: Qty,
        /// Quote the seized collateral sold for.
        proceeds: Value,
        /// Quote paid to buy the liability back.
        cost: Value,
        /// Quote paid to the insurance fund.
        fee: Value,
    },
    /// An account's remaining debt in one asset went through the waterfall.
    Bankruptcy {
        /// The round.
        round: u32,
        /// The account.
        account: u32,
        /// The liability asset.
        asset: u8,
        /// Debt written off.
        written_off: Qty,
        /// Part covered by the insurance fund.
        covered: Qty,
        /// Quote the insurance fund paid for it.
        insurance_paid: Value,
        /// Part socialized over the asset's lenders.
        socialized: Qty,
        /// Part taken from the opposite positions by auto-deleveraging.
        deleveraged: Qty,
        /// Part nobody absorbed.
        unrecovered: Qty,
    },
    /// A round ended.
    RoundEnded {
        /// The round.
        round: u32,
        /// Pair steps in the round.
        liquidations: u32,
    },
    /// The backstop vault took over an account whole: its balances moved to
    /// the vault, with no trade.
    BackstopTakeover {
        /// The round.
        round: u32,
        /// The account.
        account: u32,
        /// Its equity at the oracle when taken over.
        equity: Value,
    },
    /// Auto-deleveraging closed part of a bankrupt account's position
    /// against an opposite one, at the bankrupt account's bankruptcy price.
    Deleveraged {
        /// The round.
        round: u32,
        /// The bankrupt account.
        account: u32,
        /// The account on the other side.
        counterparty: u32,
        /// The risky asset.
        asset: u8,
        /// Units of the asset that changed hands (to the bankrupt account
        /// if it was short, from it if it was long).
        qty: Qty,
        /// Quote that changed hands the other way.
        quote: Value,
    },
    /// A liquidation put seized collateral up for auction.
    AuctionStarted {
        /// The round.
        round: u32,
        /// The auction, numbered from 0 in the order they started.
        auction: u32,
        /// The account liquidated.
        account: u32,
        /// The collateral asset.
        asset: u8,
        /// Collateral on sale.
        lot: Qty,
        /// Debt (quote) the auction must raise, before the penalty.
        debt: Value,
        /// Incentive paid to the keeper from the insurance fund.
        incentive: Value,
        /// The starting price: oracle × buf.
        top: Price,
    },
    /// Keepers took collateral from an auction.
    AuctionTaken {
        /// The round.
        round: u32,
        /// The auction, numbered from 0 in the order they started.
        auction: u32,
        /// The account whose collateral it was.
        account: u32,
        /// The collateral asset.
        asset: u8,
        /// Units taken.
        qty: Qty,
        /// Quote paid for them.
        paid: Value,
        /// The auction price this round.
        price: Price,
    },
    /// An auction restarted from a fresh top price (`redo`).
    AuctionReset {
        /// The round.
        round: u32,
        /// The auction, numbered from 0 in the order they started.
        auction: u32,
        /// The account whose collateral is on sale.
        account: u32,
        /// The collateral asset.
        asset: u8,
        /// The new starting price.
        top: Price,
    },
    /// An auction ended: the debt raised, or the collateral gone.
    AuctionEnded {
        /// The round.
        round: u32,
        /// The auction, numbered from 0 in the order they started.
        auction: u32,
        /// The account.
        account: u32,
        /// The collateral asset.
        asset: u8,
        /// Collateral returned to the account.
        returned: Qty,
        /// Debt the auction did not raise (bad debt).
        shortfall: Value,
    },
    /// Equilibrium settlement found this round's clearing price of an
    /// asset: every liquidation sale of the round is at it.
    Cleared {
        /// The round.
        round: u32,
        /// The asset.
        asset: u8,
        /// The clearing price.
        price: Price,
        /// Iterations of the price map from above.
        iterations: u32,
    },
    /// An asset's circuit breaker tripped: liquidations touching it pause.
    BreakerTripped {
        /// The round.
        round: u32,
        /// The asset.
        asset: u8,
        /// The first round in which it may be liquidated again.
        resumes: u32,
    },
    /// A unit failed (an overflow or a broken invariant) and its state was
    /// restored: the last `events` events before this one did not happen.
    RolledBack {
        /// The round.
        round: u32,
        /// Events undone.
        events: u32,
    },
    /// The run ended.
    Finished {
        /// The last round.
        round: u32,
        /// Why.
        termination: Termination,
    },
}

/// Receives events as they happen.
pub trait EventSink {
    /// Called once per event, in order.
    fn emit(&mut self, event: &Event);
}

/// A sink that drops everything.
impl EventSink for () {
    fn emit(&mut self, _: &Event) {}
}

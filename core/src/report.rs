//! The run report: what a risk analyst reads first.

use crate::event::Termination;
use crate::ledger::MAX_ASSETS;
use crate::num::{Price, Qty, Ratio, Value};

/// Per-asset outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AssetReport {
    /// Venue price at the start.
    pub initial_price: Price,
    /// Venue price now.
    pub final_price: Price,
    /// Lowest venue price seen at a round boundary or after a trade.
    pub min_price: Price,
    /// Highest venue price seen at a round boundary or after a trade.
    pub max_price: Price,
    /// Collateral seized and sold into the venue by liquidations.
    pub sold: Qty,
    /// Liabilities bought back from the venue by liquidations.
    pub bought: Qty,
    /// Debt written off from bankrupt accounts.
    pub written_off: Qty,
    /// Part of it the insurance fund covered.
    pub covered: Qty,
    /// Part of it socialized over lenders.
    pub socialized: Qty,
    /// Part of it taken from opposite positions by auto-deleveraging.
    pub deleveraged: Qty,
    /// Part of it nobody absorbed.
    pub unrecovered: Qty,
    /// The deposit index (1 until a loss is socialized).
    pub deposit_index: Ratio,
}

/// Whole-run outcome. Values are at the oracle price of the moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Report<const A: usize = MAX_ASSETS> {
    /// Rounds started.
    pub rounds: u32,
    /// Liquidation pair steps.
    pub liquidations: u64,
    /// Distinct accounts liquidated at least once.
    pub accounts_liquidated: u32,
    /// Account bankruptcies (one per account and liability asset).
    pub bankruptcies: u32,
    /// Liquidations put off to a later round by containment: a rate limit,
    /// spent keeper capital, a halt or a stale oracle (one per account and
    /// round).
    pub deferred: u64,
    /// Accounts the backstop vault took over.
    pub backstopped: u32,
    /// Value of the deposits the backstop vault took over, at the oracle
    /// of each takeover (rounded down, as equity counts them).
    pub backstop_assets: Value,
    /// Value of the debts the backstop vault took over, at the oracle of
    /// each takeover (rounded up; a positive number).
    pub backstop_liabilities: Value,
    /// Equity the backstop vault absorbed: Σ of the accounts' equity when
    /// taken over, `backstop_assets − backstop_liabilities` exactly.
    pub backstop_equity: Value,
    /// The negative part of it: Σ of the equity of the accounts taken over
    /// with negative equity (≤ 0), losses the vault took on.
    pub backstop_negative_equity: Value,
    /// The vault's profit and loss when the run ended: its holdings (the
    /// ledger's `Backstop` book) at the final oracle prices, less
    /// `backstop_equity`. Zero until the run ends.
    pub backstop_pnl: Value,
    /// Dutch auctions started.
    pub auctions: u32,
    /// Collateral taken from auctions at a price of zero.
    pub zero_bid_takes: u32,
    /// Value at the oracle of what auto-deleveraging moved: positions closed
    /// at bankruptcy prices, and losses taken from the opposite side.
    pub deleveraged: Value,
    /// Value of debt written off.
    pub bad_debt: Value,
    /// Quote the insurance fund paid toward bad debt.
    pub insurance_used: Value,
    /// Value socialized over lenders.
    pub socialized: Value,
    /// Value nobody absorbed.
    pub unrecovered: Value,
    /// Quote paid into the insurance fund as protocol fees.
    pub fees: Value,
    /// Keepers' net quote: proceeds − fees − buy-back costs.
    pub keeper_pnl: Value,
    /// The insurance fund now.
    pub insurance_fund: Value,
    /// Per-asset outcomes; entries past `assets` are unused.
    pub per_asset: [AssetReport; A],
    /// Number of assets.
    pub assets: u8,
    /// Why the run ended, once it has.
    pub termination: Option<Termination>,
}

impl<const A: usize> Report<A> {
    /// The per-asset outcomes in use.
    pub fn assets(&self) -> &[AssetReport] {
        self.per_asset
            .get(..usize::from(self.assets))
            .unwrap_or(&self.per_asset)
    }
}

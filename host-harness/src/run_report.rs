//! A run's report in the harness's units, whichever engine ran it: values
//! in whole units of the quote, quantities in whole units of their asset,
//! prices in quote a whole unit. The outputs (summary, JSON, plots) read
//! this; each engine's run is converted into it.

/// Why a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// A round without a liquidation, no shock left, prices stationary.
    FixedPoint,
    /// The round cap.
    RoundCap,
    /// A venue could not fill a trade or a shock.
    MarketBroken {
        /// The asset.
        asset: u8,
    },
    /// An amount left its range; the message says which and where.
    Failed(String),
}

impl Ended {
    /// The kebab-case name docs/report.md gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Ended::FixedPoint => "fixed-point",
            Ended::RoundCap => "round-cap",
            Ended::MarketBroken { .. } => "market-broken",
            Ended::Failed(_) => "failed",
        }
    }
}

/// One asset's outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssetOutcome {
    /// Venue price at the start.
    pub initial_price: f64,
    /// Venue price at the end.
    pub final_price: f64,
    /// Lowest venue price seen at a round's start or end or after a unit
    /// that traded.
    pub min_price: f64,
    /// Highest such price.
    pub max_price: f64,
    /// Collateral seized and sold by liquidations (and taken from
    /// auctions).
    pub sold: f64,
    /// Liabilities bought back by liquidations.
    pub bought: f64,
    /// Debt written off from bankrupt accounts.
    pub written_off: f64,
    /// Part of it the insurance fund bought back.
    pub covered: f64,
    /// Part of it taken from the asset's lenders.
    pub socialized: f64,
    /// Part of it taken from opposite positions (auto-deleveraging).
    pub deleveraged: f64,
    /// Part of it nobody absorbed.
    pub unrecovered: f64,
    /// The deposit index at the end (1 until a loss is socialized).
    pub deposit_index: f64,
}

/// Whole-run outcome. Values are at the oracle price of the moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunReport {
    /// Rounds started.
    pub rounds: u32,
    /// Liquidation pair steps.
    pub liquidations: u64,
    /// Distinct accounts liquidated at least once.
    pub accounts_liquidated: u32,
    /// Debts written off (one per account and asset owed).
    pub bankruptcies: u32,
    /// Liquidations put off to a later round (one per account and round).
    pub deferred: u64,
    /// Accounts the backstop vault took over.
    pub backstopped: u32,
    /// Value of the deposits it took over.
    pub backstop_assets: f64,
    /// Value of the debts it took over (positive).
    pub backstop_liabilities: f64,
    /// Equity it absorbed: Σ of the accounts' equity at takeover.
    pub backstop_equity: f64,
    /// The negative part of it (≤ 0).
    pub backstop_negative_equity: f64,
    /// The vault's holdings at the final oracle prices less the equity.
    pub backstop_pnl: f64,
    /// Dutch auctions started.
    pub auctions: u32,
    /// Auction takes at a price of zero.
    pub zero_bid_takes: u32,
    /// Value moved by auto-deleveraging.
    pub deleveraged: f64,
    /// Value of debt written off.
    pub bad_debt: f64,
    /// Quote the insurance fund paid toward bad debt.
    pub insurance_used: f64,
    /// Value taken from lenders.
    pub socialized: f64,
    /// Value nobody absorbed.
    pub unrecovered: f64,
    /// Protocol fees paid into the insurance fund.
    pub fees: f64,
    /// Keepers' net quote from liquidations: proceeds − fees − costs.
    pub keeper_pnl: f64,
    /// The insurance fund at the end.
    pub insurance_fund: f64,
    /// Per asset, the quote first.
    pub assets: Vec<AssetOutcome>,
    /// Why the run ended.
    pub ended: Option<Ended>,
}

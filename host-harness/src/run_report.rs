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
    /// The engine's arithmetic failed; the message says how (and, from
    /// the kernel, where).
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

/// The kernel's report (`firesale-core`) in the harness's units; `names`
/// name the assets in a failure's message.
pub fn from_kernel(r: &firesale_core::Report, names: &[String]) -> RunReport {
    let ended = r.termination.map(|t| kernel_ended(t, names));
    let assets = r
        .assets()
        .iter()
        .map(|a| AssetOutcome {
            initial_price: a.initial_price.to_f64(),
            final_price: a.final_price.to_f64(),
            min_price: a.min_price.to_f64(),
            max_price: a.max_price.to_f64(),
            sold: a.sold.to_f64(),
            bought: a.bought.to_f64(),
            written_off: a.written_off.to_f64(),
            covered: a.covered.to_f64(),
            socialized: a.socialized.to_f64(),
            deleveraged: a.deleveraged.to_f64(),
            unrecovered: a.unrecovered.to_f64(),
            deposit_index: a.deposit_index.to_f64(),
        })
        .collect();
    RunReport {
        rounds: r.rounds,
        liquidations: r.liquidations,
        accounts_liquidated: r.accounts_liquidated,
        bankruptcies: r.bankruptcies,
        deferred: r.deferred,
        backstopped: r.backstopped,
        backstop_assets: r.backstop_assets.to_f64(),
        backstop_liabilities: r.backstop_liabilities.to_f64(),
        backstop_equity: r.backstop_equity.to_f64(),
        backstop_negative_equity: r.backstop_negative_equity.to_f64(),
        backstop_pnl: r.backstop_pnl.to_f64(),
        auctions: r.auctions,
        zero_bid_takes: r.zero_bid_takes,
        deleveraged: r.deleveraged.to_f64(),
        bad_debt: r.bad_debt.to_f64(),
        insurance_used: r.insurance_used.to_f64(),
        socialized: r.socialized.to_f64(),
        unrecovered: r.unrecovered.to_f64(),
        fees: r.fees.to_f64(),
        keeper_pnl: r.keeper_pnl.to_f64(),
        insurance_fund: r.insurance_fund.to_f64(),
        assets,
        ended,
    }
}

/// The kernel's ending in the harness's terms.
pub fn kernel_ended(t: firesale_core::Termination, names: &[String]) -> Ended {
    use firesale_core::Termination;
    match t {
        Termination::FixedPoint => Ended::FixedPoint,
        Termination::RoundCap => Ended::RoundCap,
        Termination::MarketBroken { asset } => Ended::MarketBroken { asset },
        Termination::Failed(e) => Ended::Failed(crate::preflight::describe_named(&e, names)),
    }
}

//! Scenarios: a market, its accounts, a policy and a shock schedule, held in
//! host memory. Files and the bundled scenarios come in through
//! [`crate::scenario_file`] and [`crate::bundled`]; the markets the benches
//! and tests build, through [`crate::markets`].

use firesale_core::{
    AdlRanking, AssetConfig, AssetLimits, Backstop, Containment, KeeperCapital, OracleRule, Policy,
    Price, Qty, RateLimit, Ratio, Settlement, Shock, Value, VenueConfig, Weights,
};

/// Everything one run needs.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A short name for reports.
    pub name: String,
    /// Asset names, in asset order.
    pub asset_names: Vec<String>,
    /// Assets; index 0 is the quote.
    pub assets: Vec<AssetConfig>,
    /// The liquidation policy.
    pub policy: Policy,
    /// The round cap.
    pub max_rounds: u32,
    /// Oracle lag in rounds.
    pub oracle_lag_rounds: u8,
    /// Starting insurance fund, in quote.
    pub insurance_fund: Value,
    /// Shocks in round order.
    pub shocks: Vec<Shock>,
    /// Starting balances, `assets.len()` per account.
    pub balances: Vec<Qty>,
    /// Containment: rate limits, keepers, the oracle rule, breakers.
    pub limits: Limits,
}

/// Containment settings, owned (the kernel borrows them as a
/// [`Containment`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Per-round caps.
    pub rate_limit: RateLimit,
    /// The keepers' budget.
    pub keepers: Option<KeeperCapital>,
    /// The oracle rule.
    pub oracle: OracleRule,
    /// Per asset, in asset order.
    pub per_asset: Vec<AssetLimits>,
    /// The backstop vault.
    pub backstop: Option<Backstop>,
    /// Auto-deleveraging.
    pub deleveraging: Option<AdlRanking>,
    /// How a round's sales settle.
    pub settlement: Settlement,
}

impl Default for Limits {
    fn default() -> Self {
        let off = Containment::OFF;
        Limits {
            rate_limit: off.rate_limit,
            keepers: off.keepers,
            oracle: off.oracle,
            per_asset: Vec::new(),
            backstop: off.backstop,
            deleveraging: off.deleveraging,
            settlement: off.settlement,
        }
    }
}

impl Limits {
    /// The kernel's view.
    pub fn containment(&self) -> Containment<'_> {
        Containment {
            rate_limit: self.rate_limit,
            keepers: self.keepers,
            oracle: self.oracle,
            per_asset: &self.per_asset,
            backstop: self.backstop,
            deleveraging: self.deleveraging,
            settlement: self.settlement,
        }
    }
}

impl Scenario {
    /// Number of accounts.
    pub fn accounts(&self) -> usize {
        self.balances
            .len()
            .checked_div(self.assets.len())
            .unwrap_or(0)
    }

    /// A scenario with nothing in it: no assets, accounts or shocks (the
    /// engine refuses it).
    pub fn empty() -> Self {
        Scenario {
            name: String::new(),
            asset_names: Vec::new(),
            assets: Vec::new(),
            policy: Policy::Absorb,
            max_rounds: 1,
            oracle_lag_rounds: 0,
            insurance_fund: Value::ZERO,
            shocks: Vec::new(),
            balances: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// The same market and shocks with no accounts: what the shocks alone do
    /// to prices, the baseline of the amplification metric.
    pub fn without_accounts(&self) -> Self {
        // Field by field: `..self.clone()` would copy every account's
        // balances first, a whole copy of the largest thing in memory.
        Scenario {
            name: self.name.clone(),
            asset_names: self.asset_names.clone(),
            assets: self.assets.clone(),
            policy: self.policy,
            max_rounds: self.max_rounds,
            oracle_lag_rounds: self.oracle_lag_rounds,
            insurance_fund: self.insurance_fund,
            shocks: self.shocks.clone(),
            balances: vec![Qty::ZERO; self.assets.len()],
            limits: self.limits.clone(),
        }
    }

    /// The name of asset `index`.
    pub fn asset_name(&self, index: usize) -> &str {
        self.asset_names.get(index).map_or("?", String::as_str)
    }
}

/// A risky asset at `price` with asset weights `[init, liq_end, maint]`
/// (liability weights mirror them: `2 − w`), a liquidation bonus and a 10%
/// protocol fee on the bonus.
pub fn risky(price: f64, asset_weights: [f64; 3], bonus: f64, venue: VenueConfig) -> AssetConfig {
    let [init, liq_end, maint] = asset_weights.map(Ratio::from_f64);
    let mirror = |w: f64| Ratio::from_f64(2.0 - w);
    AssetConfig {
        price: Price::from_f64(price),
        asset_weights: Weights {
            init,
            liq_end,
            maint,
        },
        liability_weights: Weights {
            init: mirror(asset_weights[0]),
            liq_end: mirror(asset_weights[1]),
            maint: mirror(asset_weights[2]),
        },
        liquidation_bonus: Ratio::from_f64(bonus),
        protocol_fee: Ratio::from_f64(0.1),
        dust: Qty::from_f64(1e-6),
        venue,
    }
}

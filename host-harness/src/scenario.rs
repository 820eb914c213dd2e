//! Scenarios: a market, its accounts, a policy and a shock schedule, held in
//! host memory. The bundled default lives here; scenario files come with the
//! harness issue.

use crate::rng::SplitMix64;
use firesale_core::{
    AssetConfig, Policy, Price, Qty, Ratio, Shock, ShockKind, Value, VenueConfig, Weights,
};

/// Everything one run needs.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A short name for reports.
    pub name: String,
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
}

impl Scenario {
    /// Number of accounts.
    pub fn accounts(&self) -> usize {
        self.balances
            .len()
            .checked_div(self.assets.len())
            .unwrap_or(0)
    }

    /// The bundled default: a lending market of 3,000 generated accounts
    /// borrowing USDC against ETH, the ETH traded in a constant-product pool
    /// ($80M a side), Aave-v3-like rules, hit by a 20% drop in round 1.
    pub fn default_lending() -> Self {
        let eth = risky(
            2_000.0,
            [0.80, 0.805, 0.83],
            0.05,
            VenueConfig::ConstantProduct {
                base_reserve: Qty::from_int(40_000),
                fee: Ratio::from_f64(0.003),
                resilience: Ratio::from_f64(0.2),
            },
        );
        let mut rng = SplitMix64::new(20_200_312);
        let balances = lending_population(&mut rng, 3_000, &eth);
        Scenario {
            name: "default: 3,000 accounts, ETH/USDC constant-product pool, 20% drop".into(),
            assets: vec![AssetConfig::quote(), eth],
            policy: Policy::aave_like(),
            max_rounds: 200,
            oracle_lag_rounds: 0,
            insurance_fund: Value::from_int(250_000),
            shocks: vec![Shock {
                round: 1,
                asset: 1,
                kind: ShockKind::MovePrice(Ratio::from_f64(0.8)),
            }],
            balances,
        }
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

/// `n` accounts over `[quote, asset]`: 90% borrowers of quote against the
/// asset, collateral sizes Pareto-tailed (α = 1.3, from 1 unit, whales up to
/// 2,000), maintenance health factors uniform in [1.01, 1.8); 10% lenders
/// whose deposits cover 1.25× the total debt.
pub fn lending_population(rng: &mut SplitMix64, n: usize, asset: &AssetConfig) -> Vec<Qty> {
    let price = asset.price.to_f64();
    let weight = asset.asset_weights.maint.to_f64();
    let lenders = n / 10;
    let mut balances = Vec::with_capacity(n * 2);
    let mut total_debt = 0.0;
    for _ in lenders..n {
        let collateral = rng.pareto(1.0, 1.3).min(2_000.0);
        let health_factor = rng.range(1.01, 1.8);
        let debt = collateral * price * weight / health_factor;
        total_debt += debt;
        balances.push(Qty::from_f64(-debt));
        balances.push(Qty::from_f64(collateral));
    }
    let deposit = total_debt * 1.25 / lenders.max(1) as f64;
    let mut lender_rows = Vec::with_capacity(lenders * 2);
    for _ in 0..lenders {
        lender_rows.push(Qty::from_f64(deposit));
        lender_rows.push(Qty::ZERO);
    }
    lender_rows.extend(balances);
    lender_rows
}

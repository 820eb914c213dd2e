//! Protocol presets: each engine's published rules and default parameters
//! mapped onto firesale's. A preset replaces a scenario's policy, the
//! weights, bonus and fee of every risky asset (with the protocol's ETH-class
//! or BTC-perp defaults), and its containment; it keeps the market (prices,
//! venues), the accounts, the shocks and the insurance fund. docs/presets.md
//! has a table per preset with the source of every number and what is
//! simplified or not modelled.

use crate::scenario::{Limits, Scenario};
use firesale_core::{
    AdlRanking, AssetLimits, AuctionCurve, AuctionRule, Backstop, Policy, RateLimit, Ratio, Value,
    Weights,
};

/// One preset.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    /// The name to ask for it by.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    rules: Rules,
}

/// The numbers a preset sets.
#[derive(Clone, Copy, Debug)]
struct Rules {
    policy: Policy,
    /// Asset weights `[init, liq_end, maint]` of every risky asset.
    weights: [f64; 3],
    /// Liability weights `[init, liq_end, maint]` of every risky asset.
    liability: [f64; 3],
    bonus: f64,
    protocol_fee: f64,
    max_accounts_per_round: u32,
    auction: Option<AuctionRule>,
    backstop: Option<f64>,
    deleveraging: Option<AdlRanking>,
}

/// Weights from margin fractions: initial `i`, maintenance `m`, and the
/// health a partial liquidation restores at `end`.
const fn margins(i: f64, end: f64, m: f64) -> ([f64; 3], [f64; 3]) {
    ([1.0 - i, 1.0 - end, 1.0 - m], [1.0 + i, 1.0 + end, 1.0 + m])
}

const MAKER_WEIGHT: f64 = 1.0 / 1.5;
const DYDX: ([f64; 3], [f64; 3]) = margins(0.05, 0.03, 0.03);
const MANGO: ([f64; 3], [f64; 3]) = margins(0.2, 0.2, 0.1);
const DRIFT: ([f64; 3], [f64; 3]) = margins(0.1, 0.07, 0.05);
const HYPERLIQUID: ([f64; 3], [f64; 3]) = margins(0.025, 0.0125, 0.0125);

/// Every preset.
pub fn all() -> Vec<Preset> {
    let ratio = Ratio::from_f64;
    vec![
        Preset {
            name: "aave-v3",
            summary: "close factor 50% (100% at HF <= 0.95 or under $2,000), WETH LT 83%, bonus 5%, 10% of it to the protocol",
            rules: Rules {
                policy: Policy::CloseFactor {
                    close_factor: ratio(0.5),
                    full_close_health_factor: ratio(0.95),
                    full_close_debt_value: Value::from_int(2_000),
                },
                weights: [0.80, 0.83, 0.83],
                liability: [1.20, 1.17, 1.17],
                bonus: 0.05,
                protocol_fee: 0.10,
                max_accounts_per_round: 0,
                auction: None,
                backstop: None,
                deleveraging: None,
            },
        },
        Preset {
            name: "compound-v3",
            summary: "absorb all collateral; WETH borrowCF 0.82, liquidateCF 0.90, liquidationFactor 0.95; store-front discount 2.5%",
            rules: Rules {
                policy: Policy::Absorb,
                weights: [0.82, 0.90, 0.90],
                liability: [1.18, 1.10, 1.10],
                // liquidationFactor 0.95: the account is credited 95% of its
                // collateral, a bonus of 1/0.95 − 1 on what is repaid; the
                // buyer's discount is half of it (storeFrontPriceFactor 0.5),
                // the protocol keeps the other half.
                bonus: 1.0 / 0.95 - 1.0,
                protocol_fee: 0.5,
                max_accounts_per_round: 0,
                auction: None,
                backstop: None,
                deleveraging: None,
            },
        },
        Preset {
            name: "maker-liq2",
            summary: "vaults at 150%, whole vault to a Dutch auction: buf 1.2, 1% per step, tail 60 steps, cusp 0.4, chop 13%, tip 300, chip 0.1%",
            rules: Rules {
                policy: Policy::Absorb,
                weights: [MAKER_WEIGHT, MAKER_WEIGHT, MAKER_WEIGHT],
                liability: [1.5, 1.5, 1.5],
                bonus: 0.0,
                protocol_fee: 0.0,
                max_accounts_per_round: 0,
                auction: Some(AuctionRule {
                    buf: ratio(1.2),
                    curve: AuctionCurve::Stairstep {
                        cut: ratio(0.99),
                        step_rounds: 1,
                    },
                    tail_rounds: 60,
                    cusp: ratio(0.4),
                    penalty: ratio(0.13),
                    tip: Value::from_int(300),
                    chip: ratio(0.001),
                }),
                backstop: None,
                deleveraging: None,
            },
        },
        Preset {
            name: "dydx-v4",
            summary: "perps: initial margin 5%, maintenance 3%, whole position closed, fee 1.5% to the insurance fund, 50 liquidations per block, deleveraging",
            rules: Rules {
                policy: Policy::Absorb,
                weights: DYDX.0,
                liability: DYDX.1,
                bonus: 0.015,
                protocol_fee: 1.0,
                max_accounts_per_round: 50,
                auction: None,
                backstop: None,
                deleveraging: Some(AdlRanking::ProRata),
            },
        },
        Preset {
            name: "mango-v4",
            summary: "to liquidation-end health (init weights); ETH 5x initial, 10x maintenance leverage, liquidation fee 5%",
            rules: Rules {
                policy: Policy::ToTarget,
                weights: MANGO.0,
                liability: MANGO.1,
                bonus: 0.05,
                protocol_fee: 0.0,
                max_accounts_per_round: 0,
                auction: None,
                backstop: None,
                deleveraging: None,
            },
        },
        Preset {
            name: "drift-v2",
            summary: "perps: initial 10%, maintenance 5%, partial liquidation to the margin requirement plus a 2% buffer, penalty 2.5%, half to the insurance fund",
            rules: Rules {
                policy: Policy::ToTarget,
                weights: DRIFT.0,
                liability: DRIFT.1,
                bonus: 0.025,
                protocol_fee: 0.5,
                max_accounts_per_round: 0,
                auction: None,
                backstop: None,
                deleveraging: None,
            },
        },
        Preset {
            name: "hyperliquid",
            summary: "perps at 40x: maintenance half the initial margin, market close in 20% chunks, backstop vault below 2/3 of maintenance, ranked ADL",
            rules: Rules {
                policy: Policy::CloseFactor {
                    close_factor: ratio(0.2),
                    full_close_health_factor: ratio(0.0001),
                    full_close_debt_value: Value::ZERO,
                },
                weights: HYPERLIQUID.0,
                liability: HYPERLIQUID.1,
                bonus: 0.0,
                protocol_fee: 0.0,
                max_accounts_per_round: 0,
                auction: None,
                backstop: Some(2.0 / 3.0),
                deleveraging: Some(AdlRanking::Ranked),
            },
        },
    ]
}

/// The preset called `name`.
pub fn find(name: &str) -> Option<Preset> {
    all().into_iter().find(|p| p.name == name)
}

/// The names, for messages.
pub fn names() -> String {
    all().iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// The presets `wanted` names, in their order (all of them for none);
/// the error says which name is unknown or given twice, after `flag` (how
/// the caller's user gave them: `--presets`, `presets`).
pub fn choose(wanted: &[String], flag: &str) -> Result<Vec<Preset>, String> {
    if wanted.is_empty() {
        return Ok(all());
    }
    let mut chosen: Vec<Preset> = Vec::new();
    for name in wanted {
        let name = name.trim();
        let p = find(name).ok_or_else(|| format!("{flag}: no preset `{name}` ({})", names()))?;
        if chosen.iter().any(|q| q.name == p.name) {
            return Err(format!("{flag}: `{}` is given twice", p.name));
        }
        chosen.push(p);
    }
    Ok(chosen)
}

impl Preset {
    /// `scenario` under this preset's rules (see the module comment).
    pub fn apply(&self, scenario: &Scenario) -> Scenario {
        let r = self.rules;
        let mut s = scenario.clone();
        s.name = format!("{} [{}]", scenario.name, self.name);
        s.policy = r.policy;
        let weights = |w: [f64; 3]| Weights {
            init: Ratio::from_f64(w[0]),
            liq_end: Ratio::from_f64(w[1]),
            maint: Ratio::from_f64(w[2]),
        };
        for asset in s.assets.iter_mut().skip(1) {
            asset.asset_weights = weights(r.weights);
            asset.liability_weights = weights(r.liability);
            asset.liquidation_bonus = Ratio::from_f64(r.bonus);
            asset.protocol_fee = Ratio::from_f64(r.protocol_fee);
        }
        let per_asset = (0..s.assets.len())
            .map(|i| AssetLimits {
                auction: r.auction.filter(|_| i > 0),
                ..AssetLimits::default()
            })
            .collect();
        s.limits = Limits {
            rate_limit: RateLimit {
                max_accounts_per_round: r.max_accounts_per_round,
                max_notional_per_round: None,
            },
            per_asset,
            backstop: r.backstop.map(|b| Backstop {
                below: Ratio::from_f64(b),
            }),
            deleveraging: r.deleveraging,
            ..scenario.limits.clone()
        };
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{engine, Buffers};

    #[test]
    fn every_preset_makes_a_valid_engine_of_every_bundled_scenario() {
        for b in crate::bundled::ALL.iter().filter(|b| b.name != "million") {
            let base = b.scenario().unwrap();
            for p in all() {
                let s = p.apply(&base);
                let mut buffers = Buffers::new(&s);
                assert!(
                    engine(&s, &mut buffers).is_ok(),
                    "{} under {}",
                    b.name,
                    p.name
                );
            }
        }
        assert_eq!(all().len(), 7);
        assert!(find("aave-v3").is_some() && find("nope").is_none());
    }
}

//! proptest strategies: markets of 1 to 8 assets (the quote included) with
//! every venue kind, every policy, long, short and cross-margined accounts,
//! and shock schedules of any size and sign.

use firesale_core::num::Fx;
use firesale_core::{AssetConfig, Policy, Price, Qty, Ratio, Shock, ShockKind, Value, VenueConfig};
use firesale_harness::scenario::risky;
use firesale_harness::Scenario;
use proptest::collection::vec;
use proptest::prelude::*;

/// A venue for an asset at `price`, of any kind, shallow to deep.
pub fn venue(price: f64) -> impl Strategy<Value = VenueConfig> {
    let resilience = 0.0..1.0f64;
    let floor = 0.001..0.5f64;
    prop_oneof![
        (1e-5..0.05f64, resilience.clone(), floor.clone()).prop_map(move |(l, r, f)| {
            VenueConfig::Linear {
                lambda: Fx::from_num(price * l),
                resilience: Ratio::from_f64(r),
                floor: Price::from_f64(price * f),
            }
        }),
        (10.0..50_000.0f64, resilience.clone(), floor.clone()).prop_map(move |(d, r, f)| {
            VenueConfig::Exponential {
                depth: Qty::from_f64(d),
                resilience: Ratio::from_f64(r),
                floor: Price::from_f64(price * f),
            }
        }),
        (0.01..2.0f64, 10.0..100_000.0f64, resilience.clone(), floor).prop_map(
            move |(y, v, r, f)| {
                VenueConfig::SquareRoot {
                    y_sigma: Ratio::from_f64(y),
                    volume: Qty::from_f64(v),
                    resilience: Ratio::from_f64(r),
                    floor: Price::from_f64(price * f),
                }
            }
        ),
        (10.0..50_000.0f64, 0.0..0.05f64, resilience.clone()).prop_map(|(b, fee, r)| {
            VenueConfig::ConstantProduct {
                base_reserve: Qty::from_f64(b),
                fee: Ratio::from_f64(fee),
                resilience: Ratio::from_f64(r),
            }
        }),
        (1u8..=16, 0.0005..0.05f64, 0.5..5_000.0f64, resilience).prop_map(
            |(levels, tick, depth, r)| {
                VenueConfig::OrderBook {
                    levels,
                    tick: Ratio::from_f64(tick.min(0.9 / f64::from(levels))),
                    depth: Qty::from_f64(depth),
                    resilience: Ratio::from_f64(r),
                }
            }
        ),
    ]
}

/// A risky asset with valid weights and a bonus under which liquidation
/// raises health.
pub fn asset() -> impl Strategy<Value = AssetConfig> {
    (
        0.01..10_000.0f64,
        0.3..0.95f64,
        0.8..1.0f64,
        0.8..1.0f64,
        0.0..0.95f64,
        0.0..1.0f64,
        -9.0..0.0f64,
    )
        .prop_flat_map(|(price, maint, le, init, bonus, fee, dust_exp)| {
            venue(price).prop_map(move |v| {
                let liq_end = maint * le;
                let mut a = risky(
                    price,
                    [liq_end * init, liq_end, maint],
                    ((1.0 / maint - 1.0) * bonus).min(0.5),
                    v,
                );
                a.protocol_fee = Ratio::from_f64(fee);
                a.dust = Qty::from_f64(10f64.powf(dust_exp));
                a
            })
        })
}

/// Any of the three policies, with any close-factor parameters.
pub fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Absorb),
        Just(Policy::ToTarget),
        (0.01..1.0f64, 0.01..1.0f64, 0.0..10_000.0f64).prop_map(|(cf, hf, dv)| {
            Policy::CloseFactor {
                close_factor: Ratio::from_f64(cf),
                full_close_health_factor: Ratio::from_f64(hf),
                full_close_debt_value: Value::from_f64(dv),
            }
        }),
    ]
}

/// One account's row over `assets` assets: a lender, a long, a short, or a
/// cross-margined borrower, sized in quote value and leveraged near its limit.
fn row(assets: usize) -> impl Strategy<Value = Vec<(usize, f64)>> {
    (
        0u8..4,
        1usize..assets.max(2),
        1usize..assets.max(2),
        10.0..5_000.0f64,
        0.7..1.4f64,
    )
        .prop_map(move |(kind, a, b, value, leverage)| match kind {
            0 => vec![(0, value), (a, value)],
            1 => vec![(a, value), (0, -value * leverage * 0.8)],
            2 => vec![(0, value), (a, -value * 0.8 / leverage)],
            _ => vec![(a, value), (b, value * 0.5), (0, -value * leverage)],
        })
}

fn shock(risky: usize) -> impl Strategy<Value = (u32, u8, u8, f64)> {
    (0u32..4, 1..=risky as u8, 0u8..4, 0.0..1.0f64)
}

/// A whole scenario: 1 to 7 risky assets, 1 to 24 accounts, 0 to 8 shocks,
/// an oracle lag of 0 to 3 rounds, and step budgets to run it with.
pub fn scenario() -> impl Strategy<Value = (Scenario, Vec<u32>)> {
    (vec(asset(), 1..=7), policy(), 0u8..4, 0.0..5_000.0f64)
        .prop_flat_map(|(risky_assets, policy, lag, insurance)| {
            let risky = risky_assets.len();
            let assets = risky + 1;
            (
                Just(risky_assets),
                vec(row(assets), 1..=24),
                vec(shock(risky), 0..=8),
                vec(1u32..12, 1..6),
                Just((policy, lag, insurance)),
            )
        })
        .prop_map(
            |(risky_assets, rows, shocks, budgets, (policy, lag, insurance))| {
                let mut assets = vec![AssetConfig::quote()];
                assets.extend(risky_assets);
                let n = assets.len();
                let mut balances = vec![Qty::ZERO; rows.len() * n];
                for (id, row) in rows.iter().enumerate() {
                    for &(asset, value) in row {
                        let price = assets[asset].price.to_f64();
                        balances[id * n + asset] = Qty::from_f64(value / price);
                    }
                }
                let mut round = 1;
                let shocks = shocks
                    .into_iter()
                    .map(|(gap, asset, kind, x)| {
                        round += gap;
                        let price = assets[usize::from(asset)].price.to_f64();
                        let kind = match kind {
                            // Moves from −95% to +200%.
                            0 => ShockKind::MovePrice(Ratio::from_f64(0.05 + 2.95 * x)),
                            1 => ShockKind::SetPrice(Price::from_f64(price * (0.05 + 2.95 * x))),
                            2 => ShockKind::Sell(Qty::from_f64((1.0 + 20_000.0 * x) / price)),
                            _ => ShockKind::Buy(Qty::from_f64((1.0 + 20_000.0 * x) / price)),
                        };
                        Shock { round, asset, kind }
                    })
                    .collect();
                let scenario = Scenario {
                    asset_names: Vec::new(),
                    limits: Default::default(),
                    name: "proptest".into(),
                    assets,
                    policy,
                    max_rounds: 300,
                    oracle_lag_rounds: lag,
                    insurance_fund: Value::from_f64(insurance),
                    shocks,
                    balances,
                };
                (scenario, budgets)
            },
        )
}

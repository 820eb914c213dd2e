//! The markets the benches, the instruction counts and the tests build:
//! the bundled default, and the performance issue's fast cascade grown
//! from it.

use crate::bundled;
use crate::population::Population;
use crate::scenario::Scenario;
use firesale_core::{Qty, Ratio, Shock, ShockKind, Value, VenueConfig};

/// The bundled default (`scenarios/default.toml`): a lending market of
/// 3,000 generated accounts borrowing USDC against ETH in a
/// constant-product pool, Aave-v3-like rules, a 20% drop in round 1.
pub fn default_lending() -> Scenario {
    match bundled::find(bundled::DEFAULT).map(bundled::Bundled::scenario) {
        Some(Ok(s)) => s,
        // The bundled files are parsed by the tests; this is unreachable
        // in a tested build, and an empty scenario would fail validation.
        _ => Scenario::empty(),
    }
}

/// The performance issue's fast cascade (the cascade bench's
/// `single`): the bundled default market scaled to `accounts` (the pool
/// and the insurance fund grow with them), its price falling 1.5% at the
/// start of each of the first 15 rounds, run to its fixed point: about
/// half of the accounts are liquidated. One drop does not give that
/// shape: its spiral ends within a few rounds or, on a thinner pool,
/// takes every borrower.
pub fn fast_cascade(accounts: usize) -> Result<Scenario, String> {
    let mut s = default_lending();
    let scale = accounts as f64 / 3_000.0;
    let eth = s.assets.get_mut(1).ok_or("the default market has ETH")?;
    eth.venue = VenueConfig::ConstantProduct {
        base_reserve: Qty::from_f64(40_000.0 * scale),
        fee: Ratio::from_f64(0.003),
        resilience: Ratio::from_f64(0.2),
    };
    s.insurance_fund = Value::from_f64(250_000.0 * scale);
    s.balances = Population::lending(accounts, 20_200_312, 1).generate(&s.assets)?;
    s.shocks = (1..=15)
        .map(|round| Shock {
            round,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_f64(0.985)),
        })
        .collect();
    Ok(s)
}

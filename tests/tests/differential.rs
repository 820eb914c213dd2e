//! The kernel against the exact-rational oracle (tests/src/oracle.rs) on
//! small markets: the same accounts liquidated in the same order, every
//! amount within the rounding bound, the same ending.

use firesale_core::num::Fx;
use firesale_core::{
    AssetConfig, Event, Policy, Price, Qty, Ratio, Shock, ShockKind, Value, VenueConfig,
};
use firesale_harness::scenario::risky;
use firesale_harness::Scenario;
use firesale_tests::oracle;
use firesale_tests::strategies::policy;
use firesale_tests::try_run_checked;
use proptest::collection::vec;
use proptest::prelude::*;

fn small_market() -> impl Strategy<Value = Scenario> {
    (
        // Resilience in quarters keeps the oracle's exact denominators small.
        (
            1.0..5_000.0f64,
            0.5..0.9f64,
            0.0..0.9f64,
            1e-4..0.02f64,
            0u8..4,
        ),
        policy(),
        vec((0u8..3, 10.0..4_000.0f64, 0.85..1.3f64), 2..12),
        (0.5..1.5f64, proptest::option::of((2u32..5, 0.6..1.4f64))),
        0.0..2_000.0f64,
    )
        .prop_map(
            |(
                (price, maint, bonus, lambda, resilience),
                policy,
                rows,
                (first, second),
                insurance,
            )| {
                let venue = VenueConfig::Linear {
                    lambda: Fx::from_num(price * lambda),
                    resilience: Ratio::from_f64(f64::from(resilience) / 4.0),
                    floor: Price::from_f64(price * 0.05),
                };
                let mut eth = risky(
                    price,
                    [maint * 0.9, maint * 0.95, maint],
                    (1.0 / maint - 1.0) * bonus,
                    venue,
                );
                eth.dust = Qty::from_f64(1e-4);
                let mut quote = AssetConfig::quote();
                quote.dust = Qty::from_f64(1e-4);
                let mut balances = Vec::new();
                for (kind, value, leverage) in rows {
                    let (q, r) = match kind {
                        0 => (value, value / price),
                        1 => (-value * maint / leverage, value / price),
                        _ => (value, -value / (price * (2.0 - maint) * leverage) * 0.9),
                    };
                    balances.push(Qty::from_f64(q));
                    balances.push(Qty::from_f64(r));
                }
                let mut shocks = vec![Shock {
                    round: 1,
                    asset: 1,
                    kind: ShockKind::MovePrice(Ratio::from_f64(first)),
                }];
                if let Some((round, ratio)) = second {
                    shocks.push(Shock {
                        round,
                        asset: 1,
                        kind: ShockKind::MovePrice(Ratio::from_f64(ratio)),
                    });
                }
                Scenario {
                    asset_names: Vec::new(),
                    limits: Default::default(),
                    name: "differential".into(),
                    assets: vec![quote, eth],
                    policy,
                    // Exact denominators grow with every round; 60 rounds is
                    // past every cascade here and keeps the oracle fast.
                    max_rounds: 60,
                    oracle_lag_rounds: 0,
                    insurance_fund: Value::from_f64(insurance),
                    shocks,
                    balances,
                }
            },
        )
}

/// The kernel's liquidations grouped as the oracle reports them: one entry
/// per account per round, in order.
fn kernel_entries(events: &[Event]) -> Vec<oracle::Liquidated> {
    let mut out: Vec<oracle::Liquidated> = Vec::new();
    let mut round = 0;
    for e in events {
        let account = match *e {
            Event::RoundStarted { round: r } => {
                round = r;
                continue;
            }
            Event::Liquidation { account, .. } | Event::Bankruptcy { account, .. } => {
                account as usize
            }
            _ => continue,
        };
        if !out
            .last()
            .is_some_and(|l| l.round == round && l.account == account)
        {
            out.push(oracle::Liquidated {
                round,
                account,
                repaid: [0.0; 2],
                seized: [0.0; 2],
                written_off: [0.0; 2],
            });
        }
        let entry = out.last_mut().unwrap();
        match *e {
            Event::Liquidation {
                liability,
                collateral,
                repaid,
                seized,
                ..
            } => {
                entry.repaid[usize::from(liability)] += repaid.to_f64();
                entry.seized[usize::from(collateral)] += seized.to_f64();
            }
            Event::Bankruptcy {
                asset, written_off, ..
            } => entry.written_off[usize::from(asset)] += written_off.to_f64(),
            _ => {}
        }
    }
    out
}

fn close(kernel: f64, exact: f64, slack: f64) -> bool {
    (kernel - exact).abs() <= 1e-9 * exact.abs().max(1.0) + slack
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_kernel_agrees_with_the_exact_oracle(s in small_market()) {
        let kernel = try_run_checked(&s, &[u32::MAX]).unwrap();
        let exact = oracle::run(&s);
        let ours = kernel_entries(&kernel.events);
        let order = |v: &[oracle::Liquidated]| v.iter().map(|l| (l.round, l.account)).collect::<Vec<_>>();
        prop_assert_eq!(order(&ours), order(&exact.liquidations), "who, when and in what order");
        // One extra dust-sized step may follow a to-target step whose
        // rounded seizure left health a few ulps short of zero.
        let dust = 2e-4;

        // A dust step of the liability seizes at most this much collateral.
        let max_price = kernel.report.per_asset[1].max_price.to_f64().max(s.assets[1].price.to_f64());
        let min_price = kernel.report.per_asset[1].min_price.to_f64().min(s.assets[1].price.to_f64());
        let bonus = s.assets[1].liquidation_bonus.to_f64().max(s.assets[0].liquidation_bonus.to_f64());
        let seized_slack = [dust * max_price * (1.0 + bonus), dust / min_price * (1.0 + bonus)];
        for (k, x) in ours.iter().zip(&exact.liquidations) {
            for (a, &slack) in seized_slack.iter().enumerate() {
                prop_assert!(close(k.repaid[a], x.repaid[a], dust), "round {} account {} repaid[{}]: {} vs {}", k.round, k.account, a, k.repaid[a], x.repaid[a]);
                prop_assert!(close(k.seized[a], x.seized[a], slack), "round {} account {} seized[{}]: {} vs {}", k.round, k.account, a, k.seized[a], x.seized[a]);
                prop_assert!(close(k.written_off[a], x.written_off[a], dust), "round {} account {} written off[{}]: {} vs {}", k.round, k.account, a, k.written_off[a], x.written_off[a]);
            }
        }
        prop_assert_eq!(Some(kernel.termination), exact.termination);
        let price = s.assets[1].price.to_f64();
        prop_assert!(close(kernel.report.insurance_fund.to_f64(), exact.insurance, dust * (1.0 + price) * 4.0), "insurance {} vs {}", kernel.report.insurance_fund.to_f64(), exact.insurance);
    }
}

#[test]
fn the_oracle_is_not_vacuous() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut liquidating, mut bankrupt) = (0, 0);
    for _ in 0..100 {
        let s = small_market().new_tree(&mut runner).unwrap().current();
        let exact = oracle::run(&s);
        liquidating += usize::from(!exact.liquidations.is_empty());
        bankrupt += usize::from(
            exact
                .liquidations
                .iter()
                .any(|l| l.written_off.iter().any(|w| *w > 0.0)),
        );
    }
    assert!(
        liquidating > 50 && bankrupt > 5,
        "{liquidating} liquidating, {bankrupt} bankrupt of 100"
    );
}

#[test]
fn the_oracle_catches_a_wrong_policy() {
    // Run the kernel under close factor and the oracle under to-target on the
    // same market: they must disagree somewhere, or the comparison is blind.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut disagreements = 0;
    for _ in 0..50 {
        let mut s = small_market().new_tree(&mut runner).unwrap().current();
        s.policy = Policy::ToTarget;
        let exact = oracle::run(&s);
        s.policy = Policy::Absorb;
        let kernel = kernel_entries(&try_run_checked(&s, &[u32::MAX]).unwrap().events);
        let differs = kernel.len() != exact.liquidations.len()
            || kernel
                .iter()
                .zip(&exact.liquidations)
                .any(|(k, x)| !close(k.repaid[0] + k.repaid[1], x.repaid[0] + x.repaid[1], 1e-6));
        disagreements += usize::from(differs);
    }
    assert!(disagreements > 10, "{disagreements} of 50");
}

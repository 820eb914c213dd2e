//! The kernel, and the next engine (issue 21), against the exact-rational
//! oracle (tests/src/oracle.rs) on small markets: the same accounts
//! liquidated in the same order, every amount within the rounding bound,
//! the same ending.

use firesale_core::num::Fx;
use firesale_core::{
    AssetConfig, Event, Policy, Price, Qty, Ratio, Shock, ShockKind, Value, VenueConfig,
};
use firesale_harness::next_bridge::NextRun;
use firesale_harness::scenario::risky;
use firesale_harness::Scenario;
use firesale_next::engine::{Event as NextEvent, StepOutcome, Termination as NextEnd};
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

    /// The next engine holds amounts in base units (the quote to 10^-6,
    /// the risky asset to 10^-9) where the oracle is exact: each step
    /// rounds its amounts and the venue's fills to a base unit, and the
    /// differences carry from step to step through the venue's price.
    #[test]
    fn the_next_engine_agrees_with_the_exact_oracle(s in small_market().prop_map(on_both_grids)) {
        let exact = oracle::run(&s);
        let next = next_entries(&s);
        let order = |v: &[oracle::Liquidated]| v.iter().map(|l| (l.round, l.account)).collect::<Vec<_>>();
        prop_assert_eq!(order(&next.entries), order(&exact.liquidations), "who, when and in what order");
        // Rounding: 100 quote base units, or their worth. A dust decision
        // (repay the whole debt when less than a dust size would be left)
        // taken on a rounded amount may flip: one dust size of the asset,
        // and the collateral such a repayment seizes.
        let (low, high) = next.prices;
        let bonus = 1.0 + s.assets[1].liquidation_bonus.to_f64().max(s.assets[0].liquidation_bonus.to_f64());
        let rounding = [NEXT_QUOTE_SLACK, NEXT_QUOTE_SLACK / low];
        let dust = [QUOTE, FINE];
        let dust_seizes = [FINE * high * bonus, QUOTE / low * bonus];
        for (n, x) in next.entries.iter().zip(&exact.liquidations) {
            for a in 0..2 {
                let (owed, seized) = (rounding[a] + dust[a], rounding[a] + dust_seizes[a]);
                prop_assert!(close(n.repaid[a], x.repaid[a], owed), "round {} account {} repaid[{}]: {} vs {}", n.round, n.account, a, n.repaid[a], x.repaid[a]);
                prop_assert!(close(n.seized[a], x.seized[a], seized), "round {} account {} seized[{}]: {} vs {}", n.round, n.account, a, n.seized[a], x.seized[a]);
                prop_assert!(close(n.written_off[a], x.written_off[a], owed), "round {} account {} written off[{}]: {} vs {}", n.round, n.account, a, n.written_off[a], x.written_off[a]);
            }
        }
        prop_assert_eq!(kernel_end(next.termination), exact.termination);
        let fund = NEXT_QUOTE_SLACK + QUOTE + FINE * high * bonus;
        prop_assert!(close(next.insurance, exact.insurance, fund), "insurance {} vs {}", next.insurance, exact.insurance);
    }
}

/// `x` to the nearest multiple of `grid`.
fn snap(x: f64, grid: f64) -> f64 {
    (x / grid).round() * grid
}

/// A ratio or a price on the grid both engines hold exactly: multiples of
/// 2^-9 have nine decimals and are binary fractions.
const FINE: f64 = 1.0 / 512.0;
/// A quote amount on both grids: 2^-6 has six decimals, the quote's.
const QUOTE: f64 = 1.0 / 64.0;

/// `s` with every number on a grid that the kernel's fixed point and the
/// next engine's base units (quote 6 decimals, risky 9, ratios 9) both hold
/// exactly, so that the oracle reads the very numbers the next engine runs;
/// each dust size one step of its grid.
fn on_both_grids(mut s: Scenario) -> Scenario {
    let ratio = |r: Ratio| Ratio::from_f64(snap(r.to_f64(), FINE));
    for (i, a) in s.assets.iter_mut().enumerate() {
        let amount = if i == 0 { QUOTE } else { FINE };
        a.price = Price::from_f64(snap(a.price.to_f64(), FINE));
        for w in [&mut a.asset_weights, &mut a.liability_weights] {
            (w.init, w.liq_end, w.maint) = (ratio(w.init), ratio(w.liq_end), ratio(w.maint));
        }
        a.liquidation_bonus = ratio(a.liquidation_bonus);
        a.protocol_fee = ratio(a.protocol_fee);
        a.dust = Qty::from_f64(amount);
        if let VenueConfig::Linear {
            lambda,
            resilience,
            floor,
        } = a.venue
        {
            a.venue = VenueConfig::Linear {
                lambda: Fx::from_num(snap(lambda.to_num::<f64>(), FINE).max(FINE)),
                resilience: ratio(resilience),
                floor: Price::from_f64(snap(floor.to_f64(), FINE).max(FINE)),
            };
        }
    }
    for (k, b) in s.balances.iter_mut().enumerate() {
        let grid = if k % 2 == 0 { QUOTE } else { FINE };
        *b = Qty::from_f64(snap(b.to_f64(), grid));
    }
    s.insurance_fund = Value::from_f64(snap(s.insurance_fund.to_f64(), QUOTE));
    for sh in &mut s.shocks {
        if let ShockKind::MovePrice(r) = sh.kind {
            sh.kind = ShockKind::MovePrice(ratio(r));
        }
    }
    if let Policy::CloseFactor {
        close_factor,
        full_close_health_factor,
        full_close_debt_value,
    } = s.policy
    {
        s.policy = Policy::CloseFactor {
            close_factor: ratio(close_factor),
            full_close_health_factor: ratio(full_close_health_factor),
            full_close_debt_value: Value::from_f64(snap(full_close_debt_value.to_f64(), QUOTE)),
        };
    }
    s
}

/// What the next engine did, as the oracle reports it.
struct NextRunOutcome {
    entries: Vec<oracle::Liquidated>,
    /// The risky asset's lowest and highest oracle prices, in quote a
    /// whole unit.
    prices: (f64, f64),
    termination: NextEnd,
    insurance: f64,
}

/// The next engine's run of `s`, one unit at a time with its conservation
/// audit after each: each liquidation's amounts are read from the change
/// in the account's row (a deposit's shares at the deposit index before
/// and after), less what was written off; one entry per account per
/// round, in order.
fn next_entries(s: &Scenario) -> NextRunOutcome {
    #[derive(Default)]
    struct Events(Vec<NextEvent>);
    impl firesale_next::engine::EventSink for Events {
        fn emit(&mut self, e: &NextEvent) {
            self.0.push(*e);
        }
    }
    let units = [1e6, 1e9];
    let held = |b: i64, index: u64| match b > 0 {
        true => (i128::from(b) * i128::from(index) / 10i128.pow(18)) as f64,
        false => b as f64,
    };
    let mut run = NextRun::from_scenario(s).expect("bridged");
    run.with_engine(|e| {
        let (mut entries, mut round) = (Vec::<oracle::Liquidated>::new(), 0);
        let mut prices = (f64::MAX, 0.0f64);
        loop {
            let p = e.markets()[1].oracle;
            // Quote base units a base unit, as quote a whole unit.
            let whole =
                p.mantissa() as f64 / 10f64.powi(i32::from(p.exponent())) * units[1] / units[0];
            prices = (prices.0.min(whole), prices.1.max(whole));
            let rows: Vec<Vec<i64>> = (0..e.account_count())
                .map(|a| e.row(a).unwrap().iter().map(|q| q.0).collect())
                .collect();
            let index = |e: &firesale_next::engine::Engine<'_, 8, 0>| -> Vec<u64> {
                e.markets().iter().map(|m| m.state.index.0).collect()
            };
            let before = index(e);
            let mut events = Events::default();
            let outcome = e.step(1, &mut events);
            assert_eq!(e.audit(), Ok(()), "the next engine's audit");
            let after = index(e);
            let mut touched: Option<usize> = None;
            let mut written = [0.0f64; 2];
            for ev in &events.0 {
                match *ev {
                    NextEvent::RoundStarted { round: r } => round = r,
                    NextEvent::Liquidated { account, .. } => touched = Some(account as usize),
                    NextEvent::WrittenOff {
                        account,
                        written: w,
                    } => {
                        touched = Some(account as usize);
                        written[w.asset] += w.written_off.0 as f64;
                    }
                    _ => {}
                }
            }
            if let Some(a) = touched {
                if !entries
                    .last()
                    .is_some_and(|l| l.round == round && l.account == a)
                {
                    entries.push(oracle::Liquidated {
                        round,
                        account: a,
                        repaid: [0.0; 2],
                        seized: [0.0; 2],
                        written_off: [0.0; 2],
                    });
                }
                let entry = entries.last_mut().unwrap();
                let now = e.row(a).unwrap();
                for k in 0..2 {
                    let was = rows[a][k];
                    let change = held(now[k].0, after[k]) - held(was, before[k]);
                    if was < 0 {
                        entry.repaid[k] += (change - written[k]) / units[k];
                    } else if was > 0 {
                        entry.seized[k] -= change / units[k];
                    }
                    entry.written_off[k] += written[k] / units[k];
                }
            }
            if let StepOutcome::Done(end) = outcome {
                return NextRunOutcome {
                    entries,
                    prices,
                    termination: end,
                    insurance: e.insurance_fund().0 as f64 / units[0],
                };
            }
        }
    })
    .expect("an engine")
}

/// The next engine's ending as the kernel names it (a fault has no match).
fn kernel_end(end: NextEnd) -> Option<firesale_core::Termination> {
    use firesale_core::Termination as K;
    match end {
        NextEnd::FixedPoint => Some(K::FixedPoint),
        NextEnd::RoundCap => Some(K::RoundCap),
        NextEnd::MarketBroken { asset } => Some(K::MarketBroken { asset }),
        NextEnd::Fault(_) => None,
    }
}

/// The next engine's bound on an amount beyond `1e-9` of it: 100 quote
/// base units (in whole quote units), or their worth in the risky asset.
/// (1,000 cases: at most 38.)
const NEXT_QUOTE_SLACK: f64 = 1e-4;

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
    // Run each engine under absorb and the oracle under to-target on the
    // same market: they must disagree somewhere, or the comparison is blind.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut kernel_differs, mut next_differs) = (0, 0);
    let differs = |ours: &[oracle::Liquidated], exact: &[oracle::Liquidated]| {
        ours.len() != exact.len()
            || ours
                .iter()
                .zip(exact)
                .any(|(k, x)| !close(k.repaid[0] + k.repaid[1], x.repaid[0] + x.repaid[1], 1e-6))
    };
    for _ in 0..50 {
        let mut s = on_both_grids(small_market().new_tree(&mut runner).unwrap().current());
        s.policy = Policy::ToTarget;
        let exact = oracle::run(&s);
        s.policy = Policy::Absorb;
        let kernel = kernel_entries(&try_run_checked(&s, &[u32::MAX]).unwrap().events);
        kernel_differs += usize::from(differs(&kernel, &exact.liquidations));
        next_differs += usize::from(differs(&next_entries(&s).entries, &exact.liquidations));
    }
    assert!(
        kernel_differs > 10 && next_differs > 10,
        "the kernel differs in {kernel_differs} of 50, the next engine in {next_differs}"
    );
}

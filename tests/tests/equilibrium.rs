//! Equilibrium settlement against closed forms. Identical leveraged
//! holders of ETH (θ units, debt d in USDC, weight w) deleverage to a
//! capital ratio (to-target, bonus 0): at a mark p each sells
//! s(p) = (d − θ·p·w) / (p·(1 − w)), at most θ. The venue is exponential,
//! P(Q) = p0·e^(−Q/D). The clearing price is the greatest p with
//! p = P(Σ s(p)), which the test finds on its own, in floats, by scanning
//! down from p0 and bisecting; both engines must land on it (the next
//! one, issue 21's, through the bridge).

use firesale_core::{Event, Termination};
use firesale_harness::next_bridge::NextRun;
use firesale_harness::scenario_file::parse;
use firesale_harness::Scenario;
use firesale_next::engine::{Event as NextEvent, EventSink, Termination as NextEnd};
use firesale_tests::{run_checked, Checked};

const THETA: f64 = 10.0;
const W: f64 = 0.8;
const DEPTH: f64 = 8_000.0;
const P0: f64 = 90.0;

/// Groups of `(holders, debt)`.
fn market(groups: &[(usize, f64)]) -> Scenario {
    let mut text = format!(
        r#"
policy = "to-target"
max_rounds = 50

[containment]
settlement = "equilibrium"

[[assets]]
name = "USDC"
quote = true

[[assets]]
name = "ETH"
price = 100
weights = {{ init = {W}, liq_end = {W}, maint = {W} }}
venue = {{ kind = "exponential", depth = {DEPTH}, resilience = 0, floor = 0.01 }}

[[shocks]]
round = 1
asset = "ETH"
move_price = 0.9
"#
    );
    for &(holders, debt) in groups {
        for _ in 0..holders {
            text.push_str(&format!(
                "\n[[accounts.list]]\nbalances = {{ ETH = {THETA}, USDC = -{debt} }}\n"
            ));
        }
    }
    parse(&text).unwrap()
}

/// The closed-form price map.
fn price_map(groups: &[(usize, f64)], p: f64) -> f64 {
    let sold: f64 = groups
        .iter()
        .map(|&(n, d)| n as f64 * ((d - THETA * p * W) / (p * (1.0 - W))).clamp(0.0, THETA))
        .sum();
    P0 * (-sold / DEPTH).exp()
}

/// Fixed points of the map in `[low, high]`, highest first: a scan down
/// for sign changes of `map(p) − p`, each refined by bisection.
fn fixed_points(groups: &[(usize, f64)], low: f64, high: f64) -> Vec<f64> {
    let g = |p: f64| price_map(groups, p) - p;
    let step = 1e-3;
    let mut roots = Vec::new();
    let mut p = high;
    while p - step > low {
        let (a, b) = (p - step, p);
        if g(a) >= 0.0 && g(b) < 0.0 || g(a) == 0.0 {
            let (mut lo, mut hi) = (a, b);
            for _ in 0..100 {
                let mid = 0.5 * (lo + hi);
                if g(mid) >= 0.0 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            roots.push(lo);
        }
        p = a;
    }
    roots
}

fn clearing(run: &Checked, round: u32) -> f64 {
    run.events
        .iter()
        .find_map(|e| match *e {
            Event::Cleared {
                round: r, price, ..
            } if r == round => Some(price.to_f64()),
            _ => None,
        })
        .expect("a clearing price every round")
}

fn assert_uniform(run: &Checked, price: f64) {
    let mut sales = 0;
    for e in &run.events {
        if let Event::Liquidation {
            round: 1,
            seized,
            proceeds,
            ..
        } = *e
        {
            sales += 1;
            let each = proceeds.to_f64() / seized.to_f64();
            // At the clearing price; a last sale the curve pays less for (by
            // the iteration's 2^-40 tolerance) gets what the venue pays.
            assert!(
                (each - price).abs() < 1e-8 * price,
                "a sale at {each}, not {price}"
            );
        }
    }
    assert!(sales > 0);
}

/// The next engine's run of `s`: its clearing price in round 1 and the
/// price of each of round 1's sales, in USDC an ETH (the bridge holds ETH
/// in 9 decimals, USDC in 6), the accounts it liquidated, and its end.
struct NextCleared {
    price: f64,
    sales: Vec<f64>,
    liquidated: Vec<u32>,
    end: NextEnd,
}

fn next_cleared(s: &Scenario) -> NextCleared {
    #[derive(Default)]
    struct Sink(Vec<NextEvent>);
    impl EventSink for Sink {
        fn emit(&mut self, e: &NextEvent) {
            self.0.push(*e);
        }
    }
    let mut sink = Sink::default();
    let (end, _) = NextRun::from_scenario(s)
        .unwrap()
        .run_with(&mut sink)
        .unwrap();
    let usdc_an_eth = |quote: i64, eth: i64| (quote as f64 / 1e6) / (eth as f64 / 1e9);
    let mut cleared = NextCleared {
        price: f64::NAN,
        sales: Vec::new(),
        liquidated: Vec::new(),
        end,
    };
    for e in &sink.0 {
        match *e {
            NextEvent::Cleared {
                round: 1, price, ..
            } => {
                let per_unit = price.mantissa() as f64 / 10f64.powi(i32::from(price.exponent()));
                cleared.price = per_unit * 1e3;
            }
            NextEvent::Liquidated {
                round,
                account,
                last: Some(step),
                ..
            } => {
                cleared.liquidated.push(account);
                if round == 1 {
                    cleared
                        .sales
                        .push(usdc_an_eth(step.proceeds.0, step.seized.0));
                }
            }
            _ => {}
        }
    }
    cleared
}

/// The next engine cleared round 1 at `want` within 10^-6 and paid every
/// sale of it at its clearing price (within a base unit of the proceeds).
fn assert_next_clears_at(next: &NextCleared, want: f64) {
    assert!(
        (next.price - want).abs() < 1e-6 * want,
        "next engine {} vs closed form {want}",
        next.price
    );
    assert!(!next.sales.is_empty());
    for &each in &next.sales {
        assert!(
            (each - next.price).abs() < 1e-6 * next.price,
            "a sale at {each}, not {}",
            next.price
        );
    }
}

#[test]
fn the_clearing_price_is_the_closed_form_fixed_point() {
    let groups = [(50, 750.0)];
    let roots = fixed_points(&groups, 1.0, P0);
    assert_eq!(roots.len(), 1, "one equilibrium: {roots:?}");
    let run = run_checked(&market(&groups), &[1, 7, 4096]);
    let cleared = clearing(&run, 1);
    assert!(
        (cleared - roots[0]).abs() < 1e-6 * roots[0],
        "engine {cleared} vs closed form {}",
        roots[0]
    );
    assert!(
        cleared < P0 - 1.0,
        "the holders' sales move the price: {cleared}"
    );
    assert_uniform(&run, cleared);
    assert_eq!(run.termination, Termination::FixedPoint);
    let next = next_cleared(&market(&groups));
    assert_next_clears_at(&next, roots[0]);
    assert_eq!(next.end, NextEnd::FixedPoint);
}

#[test]
fn of_two_equilibria_the_greatest_is_returned() {
    // A second, larger group is healthy at the upper equilibrium but would
    // sell everything below 87.5: a collapse equilibrium exists too.
    let groups = [(50, 750.0), (2_000, 700.0)];
    let roots = fixed_points(&groups, 1.0, P0);
    assert!(roots.len() >= 2, "two equilibria: {roots:?}");
    let (high, low) = (roots[0], *roots.last().unwrap());
    assert!(high > 87.5 && low < 20.0, "{roots:?}");
    let run = run_checked(&market(&groups), &[1, 7, 4096]);
    let cleared = clearing(&run, 1);
    assert!(
        (cleared - high).abs() < 1e-6 * high,
        "engine {cleared} vs the greatest fixed point {high} (the other: {low})"
    );
    assert_uniform(&run, cleared);
    let untouched = run.events.iter().all(|e| match *e {
        Event::Liquidation { account, .. } => account < 50,
        _ => true,
    });
    assert!(
        untouched,
        "the second group is never liquidated at the greatest equilibrium"
    );
    let next = next_cleared(&market(&groups));
    assert_next_clears_at(&next, high);
    assert!(
        next.liquidated.iter().all(|&id| id < 50),
        "the next engine leaves the second group alone too"
    );
}

#[test]
fn equilibrium_refuses_what_it_cannot_settle() {
    let mut text = firesale_harness::bundled::find("perp-squeeze")
        .unwrap()
        .source
        .to_string();
    text.push_str("\n[containment]\nsettlement = \"equilibrium\"\n");
    text = text.replace("oracle_lag_rounds = 1", "oracle_lag_rounds = 0");
    let error = parse(&text).unwrap_err();
    assert_eq!(
        error.key.as_deref(),
        Some("containment.settlement"),
        "{error}"
    );
}

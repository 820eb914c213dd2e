//! The backstop vault and auto-deleveraging: they replace market sales, so
//! the price falls less; ADL takes the loss from opposite positions and
//! never from an account with no open position; the audit holds after every
//! step throughout.

use firesale_core::{AdlRanking, Backstop, Event, Qty, Ratio};
use firesale_harness::scenario_file::parse;
use firesale_harness::Scenario;
use firesale_tests::{engine, run_checked, Buffers, Checked};
use std::collections::BTreeMap;

/// Leveraged ETH longs borrowing USDC from flat USDC lenders, and 60 ETH
/// shorts of decreasing leverage; no insurance fund; ETH falls 35%.
fn long_crash() -> Scenario {
    let mut text = String::from(
        r#"
name = "long crash"
policy = "absorb"
max_rounds = 200
insurance_fund = 0

[[assets]]
name = "USDC"
quote = true

[[assets]]
name = "ETH"
price = 2000
weights = { init = 0.80, liq_end = 0.85, maint = 0.90 }
liquidation_bonus = 0.02
venue = { kind = "constant-product", base_reserve = 3000, fee = 0.003, resilience = 0.1 }

[[shocks]]
round = 1
asset = "ETH"
move_price = 0.65
"#,
    );
    for i in 0..60 {
        text.push_str(&format!(
            "\n[[accounts.list]]\nbalances = {{ USDC = {}, ETH = -20 }}\n",
            52_000 + 1_000 * i
        ));
    }
    text.push_str(
        r#"
[accounts.population]
count = 400
seed = 11
assets = "ETH"
health_factor = { min = 1.01, max = 1.4 }
size = { min = 1, alpha = 1.5, max = 200 }
lenders = 0.2
"#,
    );
    parse(&text).unwrap()
}

fn run(s: &Scenario) -> Checked {
    run_checked(s, &[1, 61, 2048])
}

fn final_balances(s: &Scenario) -> Vec<Qty> {
    let mut buffers = Buffers::new(s);
    let mut e = engine(s, &mut buffers).unwrap();
    e.run(&mut ());
    let n = s.assets.len();
    (0..s.accounts())
        .flat_map(|id| {
            (0..n)
                .map(|a| e.balance(id, a).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Accounts holding only USDC at the start: no open position.
fn flat(s: &Scenario) -> Vec<usize> {
    (0..s.accounts())
        .filter(|&id| s.balances[id * 2] > Qty::ZERO && s.balances[id * 2 + 1] == Qty::ZERO)
        .collect()
}

#[test]
fn without_adl_the_loss_reaches_flat_lenders() {
    let s = long_crash();
    let plain = run(&s);
    assert!(plain.report.socialized.is_positive(), "{:?}", plain.report);
    let after = final_balances(&s);
    let lenders = flat(&s);
    assert!(!lenders.is_empty());
    assert!(
        lenders.iter().any(|&id| after[id * 2] < s.balances[id * 2]),
        "socialization cuts the flat lenders"
    );
}

#[test]
fn ranked_adl_closes_the_most_leveraged_shorts_and_never_touches_a_flat_account() {
    let mut s = long_crash();
    s.limits.deleveraging = Some(AdlRanking::Ranked);
    let adl = run(&s);
    let plain = run(&long_crash());
    let slices: Vec<(u32, u32, Qty)> = adl
        .events
        .iter()
        .filter_map(|e| match *e {
            Event::Deleveraged {
                account,
                counterparty,
                qty,
                ..
            } => Some((account, counterparty, qty)),
            _ => None,
        })
        .collect();
    assert!(!slices.is_empty(), "underwater longs are deleveraged");
    for &(_, counterparty, _) in &slices {
        let eth = s.balances[counterparty as usize * 2 + 1];
        assert!(eth.is_negative(), "counterparty {counterparty} is a short");
    }
    // Shorts were listed from the most leveraged (least margin) down: the
    // first slices walk them in that order, each closed whole.
    let order: Vec<u32> = slices.iter().map(|s| s.1).collect();
    let mut seen = Vec::new();
    for id in &order {
        if !seen.contains(id) {
            seen.push(*id);
        }
    }
    assert_eq!(seen[0], 0, "the most leveraged short first");
    assert!(seen.windows(2).take(5).all(|w| w[0] < w[1]), "{seen:?}");

    let after = final_balances(&s);
    for id in flat(&s) {
        assert_eq!(
            after[id * 2],
            s.balances[id * 2],
            "flat lender {id} untouched"
        );
        assert_eq!(after[id * 2 + 1], Qty::ZERO);
    }
    assert!(adl.report.socialized < plain.report.socialized);
    let min = |c: &Checked| c.report.per_asset[1].min_price;
    assert!(min(&adl) >= min(&plain), "fewer market sales");
}

#[test]
fn pro_rata_adl_spreads_each_bankruptcy_over_every_short() {
    let mut s = long_crash();
    s.limits.deleveraging = Some(AdlRanking::ProRata);
    let adl = run(&s);
    let mut first: BTreeMap<u32, Qty> = BTreeMap::new();
    let bankrupt = adl.events.iter().find_map(|e| match *e {
        Event::Deleveraged { account, .. } => Some(account),
        _ => None,
    });
    for e in &adl.events {
        if let Event::Deleveraged {
            account,
            counterparty,
            qty,
            ..
        } = *e
        {
            if Some(account) == bankrupt {
                *first.entry(counterparty).or_default() = first
                    .get(&counterparty)
                    .copied()
                    .unwrap_or_default()
                    .add(qty)
                    .unwrap();
            }
        }
    }
    assert_eq!(first.len(), 60, "every short takes a share of the first");
    let sizes: Vec<f64> = first.values().map(|q| q.to_f64()).collect();
    let (low, high) = sizes
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
    assert!(
        high - low < 1e-9,
        "equal positions, equal shares: {low}..{high}"
    );
}

#[test]
fn the_backstop_takes_deep_accounts_whole_and_the_price_falls_less() {
    let plain = run(&long_crash());
    let mut s = long_crash();
    s.limits.backstop = Some(Backstop {
        below: Ratio::from_f64(2.0 / 3.0),
    });
    let backstopped = run(&s);
    let taken: Vec<u32> = backstopped
        .events
        .iter()
        .filter_map(|e| match *e {
            Event::BackstopTakeover {
                account, equity, ..
            } => {
                assert!(equity.to_f64() < 1e12);
                Some(account)
            }
            _ => None,
        })
        .collect();
    assert!(!taken.is_empty());
    assert_eq!(backstopped.report.backstopped as usize, taken.len());
    let after = final_balances(&s);
    for &id in &taken {
        assert_eq!(
            &after[id as usize * 2..id as usize * 2 + 2],
            &[Qty::ZERO, Qty::ZERO]
        );
    }
    let sold = |c: &Checked| c.report.per_asset[1].sold;
    assert!(sold(&backstopped) < sold(&plain));
    let min = |c: &Checked| c.report.per_asset[1].min_price;
    assert!(
        min(&backstopped) > min(&plain),
        "{:?} vs {:?}",
        min(&backstopped),
        min(&plain)
    );
}

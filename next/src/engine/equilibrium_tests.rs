//! Equilibrium settlement: one price an asset a round, at which every sale
//! is paid and which the round's sales bring the venue to; the books still
//! balance after every unit; budgets change nothing; what it cannot settle
//! is refused. The closed forms are checked in tests/tests/equilibrium.rs.

use super::tests::{config, draws, eth, step_by, usdc, Log, Run};
use super::*;
use crate::num::{Ratio, Round};
use crate::venue::VenueConfig;
use std::vec::Vec;

/// An exponential venue of depth 5,000 ETH that does not recover.
fn shallow() -> VenueConfig {
    VenueConfig::Exponential {
        depth: Qty(5_000_000_000_000),
        resilience: Ratio::ZERO,
        floor: Price::new(1_000_000_000, 12).unwrap(),
    }
}

/// `accounts` longs holding 1-10 ETH against USDC debts of 60-80% of it.
fn longs(accounts: usize, seed: u64) -> Vec<Qty> {
    let mut draw = draws(seed);
    let mut rows = Vec::new();
    for _ in 0..accounts {
        let held = 1_000_000_000 + draw(9_000_000_000) as i64;
        let debt = held * 2 * (60 + draw(20) as i64) / 100;
        rows.extend([Qty(-debt), Qty(held)]);
    }
    rows
}

fn equilibrium<'c>(assets: &'c [AssetConfig], shocks: &'c [Shock]) -> EngineConfig<'c> {
    let mut cfg = config(assets, shocks, Policy::ToTarget);
    cfg.containment = Containment {
        settlement: Settlement::Equilibrium,
        ..Containment::OFF
    };
    cfg
}

fn drop_in_round_one(bps: u32) -> [Shock; 1] {
    [Shock {
        round: 1,
        asset: 1,
        kind: ShockKind::MovePrice(Ratio::from_bps(bps)),
    }]
}

/// Each round's sales are paid at its clearing price, and bring the venue,
/// which does not recover, to that price: the price is a fixed point of
/// the map. The venue keeps what its curve paid above it; every book
/// balances after every unit.
#[test]
fn a_round_clears_at_a_fixed_point_and_every_sale_is_paid_at_it() {
    let assets = [usdc(), eth(shallow())];
    let shocks = drop_in_round_one(8_800);
    let mut run = Run::new(longs(600, 3), 2);
    let cfg = equilibrium(&assets, &shocks);
    let mut e = run.engine(&cfg);
    let mut log = Log::default();
    let mut cleared: Option<Price> = None;
    let (mut sales, mut rounds) = (0, 0);
    let end = loop {
        e.audit().unwrap();
        let before = log.0.len();
        let done = e.step(1, &mut log);
        for ev in &log.0[before..] {
            match *ev {
                Event::Cleared {
                    price, converged, ..
                } => {
                    assert!(converged, "round {rounds} hit the iteration cap");
                    cleared = Some(price)
                }
                // Every unit's sale of ETH, one step or several: each step
                // paid ⌊seized × p*⌋, so the unit at most a base unit a
                // step (at most 8 for two assets) under the whole's.
                Event::Moved { moved, .. } if moved.asset == 1 && moved.seized.is_positive() => {
                    let p = cleared.expect("a clearing price before any sale");
                    let whole = moved.seized.value(p, Round::Down).unwrap();
                    let under = whole.0 - moved.traded.0;
                    assert!((0..8).contains(&under), "{moved:?} at {p:?}");
                    sales += 1;
                }
                Event::RoundEnded { liquidations, .. } if liquidations > 0 => {
                    // No recovery: the venue is where the sales left it.
                    let p = cleared.unwrap().mantissa();
                    let venue = e.markets()[1].state.venue.unwrap().price().unwrap();
                    let gap = p.abs_diff(venue.mantissa());
                    assert!(
                        gap <= p >> 30,
                        "round {rounds}: {p} cleared, venue at {venue:?}"
                    );
                    rounds += 1;
                }
                _ => {}
            }
        }
        if let StepOutcome::Done(t) = done {
            break t;
        }
    };
    assert_eq!(end, Termination::FixedPoint);
    assert!(
        sales > 50 && rounds >= 1,
        "{sales} sales in {rounds} rounds"
    );
    // The venue paid along its curve, above the clearing price.
    let quote = &e.markets()[0].books;
    assert!(quote.balance(crate::ledger::Book::Arbitrage) > 0);
}

/// The first seller gets no better price than the last: where sequential
/// settlement pays each sale along the curve as it runs, equilibrium pays
/// all at the round's one price, which no sale of it is above.
#[test]
fn equilibrium_sells_lower_than_the_first_sale_of_a_sequential_round() {
    let assets = [usdc(), eth(shallow())];
    let shocks = drop_in_round_one(8_800);
    let first_sale = |cfg: &EngineConfig<'_>| {
        let mut run = Run::new(longs(600, 3), 2);
        let mut e = run.engine(cfg);
        let mut log = Log::default();
        e.run(&mut log);
        log.0.iter().find_map(|ev| match *ev {
            Event::Liquidated { last: Some(s), .. } => {
                Some(s.proceeds.0 as f64 / s.seized.0 as f64)
            }
            _ => None,
        })
    };
    let sequential = first_sale(&config(&assets, &shocks, Policy::ToTarget)).unwrap();
    let cleared = first_sale(&equilibrium(&assets, &shocks)).unwrap();
    assert!(cleared < sequential, "{cleared} against {sequential}");
}

#[test]
fn budgets_do_not_change_an_equilibrium_run() {
    let assets = [usdc(), eth(shallow())];
    let shocks = drop_in_round_one(8_500);
    let cfg = equilibrium(&assets, &shocks);
    let runs: Vec<_> = [&[u32::MAX][..], &[1], &[3, 17, 1]]
        .iter()
        .map(|budgets| step_by(&mut Run::new(longs(200, 9), 2).engine(&cfg), budgets))
        .collect();
    assert!(runs[0].1.iter().any(|e| matches!(e, Event::Cleared { .. })));
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}

#[test]
fn what_equilibrium_cannot_settle_is_refused() {
    let assets = [usdc(), eth(shallow())];
    let shocks = drop_in_round_one(9_000);
    let refused = |cfg: &EngineConfig<'_>, mut rows: Vec<Qty>| {
        let accounts = 2;
        let storage = Storage {
            balances: &mut rows,
            links: &mut std::vec![0; Storage::link_words(accounts)],
            queue: &mut std::vec![Candidate::default(); Storage::queue_slots(accounts)],
            snaps: &mut [],
            ranks: &mut [],
        };
        Engine::<4, 4>::new(cfg, storage).err()
    };
    let plain = equilibrium(&assets, &shocks);
    let rows = longs(2, 1);
    assert_eq!(refused(&plain, rows.clone()), None);
    // A short buys back: the map would not be monotone.
    let short = std::vec![Qty(4_000_000_000), Qty(-1_000_000_000), Qty(0), Qty(0)];
    let short = [&rows[..2], &short[..2]].concat();
    assert_eq!(refused(&plain, short), Some(ConfigError::Settlement));
    // Deposits in two assets (1,000 USDC and 1 ETH): as ETH falls, the
    // account would switch to selling its USDC first.
    let two = [&rows[..2], &[Qty(1_000_000_000), Qty(1_000_000_000)][..]].concat();
    assert_eq!(refused(&plain, two), Some(ConfigError::Settlement));
    let mut capped = plain;
    capped.max_accounts_per_round = 1;
    assert_eq!(
        refused(&capped, rows.clone()),
        Some(ConfigError::Settlement)
    );
    let mut lagged = plain;
    lagged.oracle_lag_rounds = 1;
    assert_eq!(
        refused(&lagged, rows.clone()),
        Some(ConfigError::Settlement)
    );
    let mut deleveraged = plain;
    deleveraged.deleveraging = Some(Deleveraging::ProRata);
    assert_eq!(
        refused(&deleveraged, rows.clone()),
        Some(ConfigError::Settlement)
    );
    let mut kept = plain;
    kept.containment.keepers = Some(KeeperCapital {
        initial: Value(1),
        replenish_per_round: Value(0),
        max: Value(1),
    });
    assert_eq!(refused(&kept, rows), Some(ConfigError::Settlement));
}

/// Two risky assets, each account holding one of them against USDC: the
/// map is monotone asset by asset, and each round clears both at prices
/// their own sales bring their venues to.
#[test]
fn two_assets_clear_each_at_its_own_fixed_point() {
    let btc = AssetConfig {
        price: Price::new(40_000_000_000_000, 12).unwrap(),
        ..eth(VenueConfig::Exponential {
            depth: Qty(300_000_000_000),
            resilience: Ratio::ZERO,
            floor: Price::new(1_000_000_000, 12).unwrap(),
        })
    };
    let assets = [usdc(), eth(shallow()), btc];
    let shocks = [
        Shock {
            round: 1,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_bps(8_800)),
        },
        Shock {
            round: 1,
            asset: 2,
            kind: ShockKind::MovePrice(Ratio::from_bps(9_000)),
        },
    ];
    // Half hold ETH, half BTC (worth 20 ETH), each owing 60-80% of it.
    let mut rows = Vec::new();
    for (k, pair) in longs(600, 11).chunks_exact(2).enumerate() {
        let (debt, held) = (pair[0], pair[1]);
        match k % 2 {
            0 => rows.extend([debt, held, Qty(0)]),
            _ => rows.extend([debt, Qty(0), Qty(held.0 / 20)]),
        }
    }
    let mut run = Run::new(rows, 3);
    let cfg = equilibrium(&assets, &shocks);
    let mut e = run.engine(&cfg);
    let mut log = Log::default();
    let mut cleared = [None::<Price>; 3];
    let mut checked = 0;
    loop {
        let before = log.0.len();
        let done = e.step(1, &mut log);
        for ev in &log.0[before..] {
            match *ev {
                Event::Cleared {
                    asset,
                    price,
                    converged,
                    ..
                } => {
                    assert!(converged);
                    cleared[usize::from(asset)] = Some(price);
                }
                Event::RoundEnded { liquidations, .. } if liquidations > 0 => {
                    for (a, p) in cleared.iter().enumerate().skip(1) {
                        let p = p.unwrap().mantissa();
                        let venue = e.markets()[a].state.venue.unwrap().price().unwrap();
                        assert!(p.abs_diff(venue.mantissa()) <= p >> 30, "asset {a}");
                    }
                    checked += 1;
                }
                _ => {}
            }
        }
        if let StepOutcome::Done(_) = done {
            break;
        }
    }
    e.audit().unwrap();
    let sold = |a: usize| {
        log.0
            .iter()
            .filter(|ev| matches!(ev, Event::Moved { moved, .. } if moved.asset == a))
            .count()
    };
    assert!(
        checked >= 1 && sold(1) > 20 && sold(2) > 20,
        "{checked}, {}, {}",
        sold(1),
        sold(2)
    );
}

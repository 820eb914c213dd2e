//! Containment: each mechanism changes the cascade in the direction it
//! exists for, its limit holds in every round (recomputed here from the
//! events), and the conservation audit holds after every step throughout.

use firesale_core::{
    AdlRanking, AssetLimits, AuctionCurve, AuctionRule, Backstop, Breaker, Event, KeeperCapital,
    OracleRule, RateLimit, Ratio, StepOutcome, Termination, Value,
};
use firesale_harness::scenario_file::parse;
use firesale_harness::Scenario;
use firesale_tests::{engine, run_checked, Buffers, Checked, Log};
use std::collections::{BTreeMap, BTreeSet};

/// The bundled default market (USDC lent, ETH collateral in a
/// constant-product pool, a 20% drop), with `accounts` accounts.
fn market(accounts: u32) -> Scenario {
    thin_market(accounts, 40_000)
}

/// [`market`] with a pool of `reserve` ETH a side.
fn thin_market(accounts: u32, reserve: u32) -> Scenario {
    let text = firesale_harness::bundled::find("default")
        .unwrap()
        .source
        .replace("count = 3000", &format!("count = {accounts}"))
        .replace("base_reserve = 40000", &format!("base_reserve = {reserve}"));
    parse(&text).unwrap()
}

fn run(s: &Scenario) -> Checked {
    run_checked(s, &[1, 97, 4096])
}

/// Per round: distinct accounts liquidated or written off, and the quote
/// repaid (the default market's debts are all in the quote).
fn per_round(events: &[Event]) -> BTreeMap<u32, (BTreeSet<u32>, f64)> {
    let mut rounds: BTreeMap<u32, (BTreeSet<u32>, f64)> = BTreeMap::new();
    for e in events {
        match *e {
            Event::Liquidation {
                round,
                account,
                liability,
                repaid,
                ..
            } => {
                assert_eq!(liability, 0, "the default market's debts are in the quote");
                let entry = rounds.entry(round).or_default();
                entry.0.insert(account);
                entry.1 += repaid.to_f64();
            }
            Event::Bankruptcy { round, account, .. } => {
                rounds.entry(round).or_default().0.insert(account);
            }
            _ => {}
        }
    }
    rounds
}

#[test]
fn an_account_rate_limit_spreads_liquidations_across_rounds() {
    let plain = run(&market(800));
    let mut capped = market(800);
    capped.limits.rate_limit = RateLimit {
        max_accounts_per_round: 25,
        max_notional_per_round: None,
    };
    let limited = run(&capped);
    let busiest_plain = per_round(&plain.events)
        .values()
        .map(|r| r.0.len())
        .max()
        .unwrap();
    let rounds = per_round(&limited.events);
    assert!(
        busiest_plain > 25,
        "the plain cascade is bursty: {busiest_plain}"
    );
    assert!(
        rounds.values().all(|r| r.0.len() <= 25),
        "the cap holds every round"
    );
    assert!(
        rounds.len() > 2 * per_round(&plain.events).len(),
        "liquidations spread over more rounds: {} vs {}",
        rounds.len(),
        per_round(&plain.events).len()
    );
    assert!(limited.report.deferred > 0);
    assert_eq!(limited.termination, Termination::FixedPoint);
    // Spread out, the sales meet a recovering pool: the price falls less.
    let min = |c: &Checked| c.report.per_asset[1].min_price;
    assert!(
        min(&limited) > min(&plain),
        "{:?} vs {:?}",
        min(&limited),
        min(&plain)
    );
}

/// The liquidation queue, modelled beside the engine one unit at a time: at
/// each round's start every liquidatable account not queued joins it keyed
/// by (round, health, id); each unit the engine is about to run must take
/// the model's first account; a round ends when the cap is spent, and the
/// accounts left keep their place ahead of those found later.
#[test]
fn a_rate_limit_leaves_the_accounts_it_defers_first_in_the_queue() {
    const CAP: usize = 25;
    let mut s = market(800);
    s.limits.rate_limit.max_accounts_per_round = CAP as u32;
    let mut buffers = Buffers::new(&s);
    let mut e = engine(&s, &mut buffers).unwrap();
    let health = |e: &firesale_core::Engine<'_>, id: usize| {
        e.health(id, firesale_core::HealthTier::Maint)
            .unwrap()
            .net()
            .unwrap()
    };
    let mut queue: BTreeSet<(u32, Value, u32)> = BTreeSet::new();
    let mut changed_this_round: BTreeSet<u32> = BTreeSet::new();
    let (mut carried_over, mut overtook) = (0usize, 0usize);
    loop {
        let round = e.round();
        let head = e.next_liquidation();
        if let Some(id) = head {
            let first = queue.first().copied();
            assert_eq!(
                first.map(|q| q.2),
                Some(id),
                "round {round}: the queue's head"
            );
        }
        let mut log = Log::default();
        let outcome = e.step(1, &mut log);
        if e.round() != round {
            // A round started: its prices are set and nothing has moved.
            changed_this_round.clear();
            carried_over += queue.len();
            let queued: BTreeSet<u32> = queue.iter().map(|q| q.2).collect();
            for id in 0..e.account_count() as u32 {
                let h = health(&e, id as usize);
                if h.is_negative() && !queued.contains(&id) {
                    // A newly found account less healthy than one still
                    // waiting: a pure health order would take it first.
                    if queue.iter().any(|q| q.1 > h) {
                        overtook += 1;
                    }
                    queue.insert((e.round(), h, id));
                }
            }
            continue;
        }
        let touched: Vec<u32> = log
            .0
            .iter()
            .filter_map(|ev| match *ev {
                Event::Liquidation { account, .. } | Event::Bankruptcy { account, .. } => {
                    Some(account)
                }
                _ => None,
            })
            .collect();
        if let Some(id) = head {
            if changed_this_round.len() < CAP {
                // Taken from the queue: liquidated, or left alone if healthy.
                let taken = queue.pop_first().unwrap();
                assert!(touched.iter().all(|&a| a == id));
                if touched.is_empty() {
                    assert!(!health(&e, id as usize).is_negative(), "{taken:?} skipped");
                }
            } else {
                assert!(touched.is_empty(), "the cap ends the round");
            }
        }
        changed_this_round.extend(touched);
        if let StepOutcome::Done(t) = outcome {
            assert_eq!(t, Termination::FixedPoint);
            break;
        }
    }
    assert!(queue.is_empty());
    assert!(carried_over > 500, "accounts waited: {carried_over}");
    assert!(overtook > 100, "waiting accounts went first: {overtook}");
}

#[test]
fn a_notional_rate_limit_caps_the_debt_repaid_per_round() {
    let mut s = market(600);
    let cap = 400_000.0;
    s.limits.rate_limit.max_notional_per_round = Some(Value::from_f64(cap));
    let checked = run(&s);
    let rounds = per_round(&checked.events);
    let busiest = rounds.values().map(|r| r.1).fold(0.0, f64::max);
    assert!(
        busiest <= cap * (1.0 + 1e-12),
        "{busiest} repaid in one round"
    );
    assert!(busiest > 0.9 * cap, "the cap binds: {busiest}");
    assert!(checked.report.deferred > 0);
}

#[test]
fn a_per_asset_cap_limits_what_is_seized_of_that_asset() {
    let mut s = market(600);
    let cap = 250_000.0;
    s.limits.per_asset = vec![
        AssetLimits::default(),
        AssetLimits {
            breaker: None,
            max_notional_per_round: Some(Value::from_f64(cap)),
            ..AssetLimits::default()
        },
    ];
    let checked = run(&s);
    let busiest = per_round(&checked.events)
        .values()
        .map(|r| r.1)
        .fold(0.0, f64::max);
    assert!(
        busiest <= cap * (1.0 + 1e-12) && busiest > 0.9 * cap,
        "{busiest}"
    );
}

#[test]
fn keepers_never_spend_more_than_they_hold_and_run_dry_without_replenishment() {
    let mut s = market(600);
    let keepers = KeeperCapital {
        initial: Value::from_int(300_000),
        replenish_per_round: Value::from_int(50_000),
        max: Value::from_int(600_000),
    };
    s.limits.keepers = Some(keepers);
    let checked = run(&s);
    // The keepers' capital, recomputed from the events: repaid debt goes
    // out, proceeds less fees come back a round later, plus replenishment.
    let mut capital = keepers.initial.to_f64();
    let mut returns = 0.0;
    let mut last_round = 1;
    let mut spent_this_round = 0.0;
    for e in &checked.events {
        match *e {
            Event::RoundStarted { round } if round > 1 => {
                capital = (capital - spent_this_round + returns + 50_000.0).min(600_000.0);
                capital = capital.max(0.0);
                returns = 0.0;
                spent_this_round = 0.0;
                last_round = round;
            }
            Event::Liquidation {
                repaid,
                proceeds,
                fee,
                round,
                ..
            } => {
                assert_eq!(round, last_round);
                spent_this_round += repaid.to_f64();
                returns += proceeds.to_f64() - fee.to_f64();
                assert!(
                    spent_this_round <= capital * (1.0 + 1e-9) + 1e-6,
                    "round {round}: spent {spent_this_round} of {capital}"
                );
            }
            _ => {}
        }
    }
    assert!(
        checked.report.deferred > 0,
        "capital bound the liquidations"
    );

    let mut dry = market(600);
    dry.limits.keepers = Some(KeeperCapital {
        initial: Value::from_int(100_000),
        replenish_per_round: Value::ZERO,
        max: Value::from_int(100_000),
    });
    dry.max_rounds = 60;
    let dry = run(&dry);
    let plain = run(&market(600));
    assert!(
        dry.report.liquidations < plain.report.liquidations,
        "without capital, liquidations stop: {} vs {}",
        dry.report.liquidations,
        plain.report.liquidations
    );
    assert_eq!(
        dry.termination,
        Termination::RoundCap,
        "liquidatable accounts wait for keepers who never come"
    );
}

#[test]
fn a_breaker_pauses_liquidations_while_the_pool_recovers() {
    // A pool thin enough that the cascade itself moves the price over 5%.
    let plain = run(&thin_market(800, 10_000));
    let mut s = thin_market(800, 10_000);
    let breaker = Breaker {
        max_move: Ratio::from_f64(0.05),
        window_rounds: 1,
        pause_rounds: 4,
    };
    s.limits.per_asset = vec![
        AssetLimits::default(),
        AssetLimits {
            breaker: Some(breaker),
            max_notional_per_round: None,
            ..AssetLimits::default()
        },
    ];
    let halted = run(&s);
    let trips: Vec<(u32, u32)> = halted
        .events
        .iter()
        .filter_map(|e| match *e {
            Event::BreakerTripped { round, resumes, .. } => Some((round, resumes)),
            _ => None,
        })
        .collect();
    assert!(
        trips.len() >= 2,
        "the shock and the cascade both trip it: {trips:?}"
    );
    for e in &halted.events {
        if let Event::Liquidation { round, .. } | Event::Bankruptcy { round, .. } = *e {
            assert!(
                trips.iter().all(|&(from, to)| round < from || round >= to),
                "a liquidation in halted round {round}"
            );
        }
    }
    let min = |c: &Checked| c.report.per_asset[1].min_price;
    assert!(
        min(&halted) > min(&plain),
        "the pool recovers between bursts: min {:?} vs {:?}",
        min(&halted),
        min(&plain)
    );
    assert_eq!(halted.termination, Termination::FixedPoint);
}

/// Runs unit by unit, recording each round's oracle and venue price at its
/// start.
fn prices_by_round(s: &Scenario) -> Vec<(f64, f64)> {
    let mut buffers = Buffers::new(s);
    let mut e = engine(s, &mut buffers).unwrap();
    let mut log = Log::default();
    let mut rows = Vec::new();
    loop {
        let seen = log.0.len();
        let outcome = e.step(1, &mut log);
        if log.0[seen..]
            .iter()
            .any(|ev| matches!(ev, Event::RoundStarted { .. }))
        {
            let venue = e.venue(1).unwrap().price().unwrap();
            rows.push((e.oracle_price(1).unwrap().to_f64(), venue.to_f64()));
        }
        if let StepOutcome::Done(_) = outcome {
            return rows;
        }
    }
}

#[test]
fn a_twap_oracle_is_the_mean_of_the_venue_prices_it_spans() {
    let mut s = market(400);
    s.limits.oracle = OracleRule {
        twap_rounds: 4,
        ..OracleRule::SPOT
    };
    let rows = prices_by_round(&s);
    let start = market(400).assets[1].price.to_f64();
    for (r, &(oracle, _)) in rows.iter().enumerate() {
        let window: Vec<f64> = (0..4)
            .map(|k| if r >= k { rows[r - k].1 } else { start })
            .collect();
        let mean = window.iter().sum::<f64>() / 4.0;
        assert!(
            (oracle - mean).abs() < 1e-9 * mean,
            "round {}: {oracle} vs {mean}",
            r + 1
        );
    }
    assert!(
        rows[0].0 > 1_890.0,
        "a 20% drop moves a 4-round TWAP by a quarter"
    );
    let plain = run(&market(400));
    let smoothed = run(&s);
    let first_round = |c: &Checked| per_round(&c.events).get(&1).map_or(0, |r| r.0.len());
    assert!(
        first_round(&smoothed) < first_round(&plain),
        "the TWAP lags the crash: fewer liquidations in round 1"
    );
}

#[test]
fn a_lazy_oracle_publishes_on_its_heartbeat_and_the_staleness_guard_holds() {
    let mut s = market(400);
    // A rate limit leaves liquidatable accounts for the stale rounds.
    s.limits.rate_limit.max_accounts_per_round = 10;
    s.limits.oracle = OracleRule {
        twap_rounds: 1,
        heartbeat_rounds: 5,
        deviation: Ratio::from_f64(0.5),
        max_age_rounds: 2,
    };
    let rows = prices_by_round(&s);
    for (r, pair) in rows.windows(2).enumerate() {
        let round = r as u32 + 2;
        if !round.is_multiple_of(5) {
            assert_eq!(
                pair[0].0, pair[1].0,
                "round {round}: no publication between heartbeats"
            );
        }
    }
    assert_eq!(
        rows[0].0, 2_000.0,
        "a 20% move is under the 50% deviation threshold"
    );
    let checked = run(&s);
    for e in &checked.events {
        if let Event::Liquidation { round, .. } = *e {
            assert!(
                round % 5 <= 2,
                "round {round}: the price is older than 2 rounds"
            );
        }
    }
    assert!(checked.report.liquidations > 0 && checked.report.deferred > 0);
}

#[test]
fn containment_settings_are_validated_with_named_errors() {
    use firesale_core::error::{AssetParam, ConfigError, EngineParam};
    use firesale_core::Error;
    let check = |edit: &dyn Fn(&mut Scenario)| {
        let mut s = market(10);
        edit(&mut s);
        let mut buffers = Buffers::new(&s);
        engine(&s, &mut buffers).err()
    };
    let engine_error = |p| Some(Error::Config(ConfigError::Engine(p)));
    assert_eq!(
        check(&|s| s.limits.oracle.twap_rounds = 0),
        engine_error(EngineParam::OracleTwap)
    );
    assert_eq!(
        check(&|s| s.limits.oracle.heartbeat_rounds = 0),
        engine_error(EngineParam::OracleHeartbeat)
    );
    assert_eq!(
        check(&|s| s.limits.rate_limit.max_notional_per_round = Some(Value::ZERO)),
        engine_error(EngineParam::RateLimit)
    );
    assert_eq!(
        check(&|s| {
            s.limits.keepers = Some(KeeperCapital {
                initial: Value::from_int(10),
                replenish_per_round: Value::ZERO,
                max: Value::from_int(5),
            })
        }),
        engine_error(EngineParam::KeeperCapital)
    );
    assert_eq!(
        check(&|s| {
            s.limits.per_asset = vec![
                AssetLimits::default(),
                AssetLimits {
                    breaker: Some(Breaker {
                        max_move: Ratio::from_f64(0.1),
                        window_rounds: 16,
                        pause_rounds: 1,
                    }),
                    ..AssetLimits::default()
                },
            ]
        }),
        Some(Error::Config(ConfigError::Asset {
            asset: 1,
            param: AssetParam::BreakerWindow
        }))
    );
    assert_eq!(check(&|_| {}), None);
}

mod generated {
    use super::*;
    use firesale_tests::strategies::scenario;
    use firesale_tests::try_run_checked;
    use proptest::prelude::*;

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(64)
    }

    fn value(low: f64, high: f64) -> impl Strategy<Value = Value> {
        (low..high).prop_map(Value::from_f64)
    }

    fn asset_limits() -> impl Strategy<Value = AssetLimits> {
        let breaker = (0.01f64..0.5, 1u8..6, 1u8..7).prop_map(|(m, window, pause)| Breaker {
            max_move: Ratio::from_f64(m),
            window_rounds: window,
            pause_rounds: pause,
        });
        let auction = (
            1.0f64..1.5,
            prop_oneof![
                (1u32..20).prop_map(|rounds| AuctionCurve::Linear { rounds }),
                (0.3f64..0.99, 1u32..4).prop_map(|(cut, step_rounds)| AuctionCurve::Stairstep {
                    cut: Ratio::from_f64(cut),
                    step_rounds,
                }),
            ],
            1u32..30,
            0.0f64..0.9,
            0.0f64..0.2,
        )
            .prop_map(|(buf, curve, tail, cusp, penalty)| AuctionRule {
                buf: Ratio::from_f64(buf),
                curve,
                tail_rounds: tail,
                cusp: Ratio::from_f64(cusp),
                penalty: Ratio::from_f64(penalty),
                tip: Value::from_int(10),
                chip: Ratio::from_f64(0.001),
            });
        (
            proptest::option::of(breaker),
            proptest::option::of(value(100.0, 1e6)),
            proptest::option::of(auction),
        )
            .prop_map(|(breaker, cap, auction)| AssetLimits {
                breaker,
                max_notional_per_round: cap,
                auction,
            })
    }

    fn limits() -> impl Strategy<Value = firesale_harness::scenario::Limits> {
        let keepers = (value(0.0, 1e6), value(0.0, 2e5), value(1.0, 1e6)).prop_map(
            |(initial, replenish, extra)| KeeperCapital {
                initial,
                replenish_per_round: replenish,
                max: initial.add(extra).unwrap(),
            },
        );
        let oracle = (1u8..5, 1u8..7, 0.0f64..0.3, 0u8..5).prop_map(
            |(twap, heartbeat, deviation, max_age)| OracleRule {
                twap_rounds: twap,
                heartbeat_rounds: heartbeat,
                deviation: Ratio::from_f64(deviation),
                max_age_rounds: max_age,
            },
        );
        (
            prop_oneof![Just(0u32), 1u32..20],
            proptest::option::of(value(100.0, 1e7)),
            proptest::option::of(keepers),
            oracle,
            proptest::collection::vec(asset_limits(), 0..9),
            proptest::option::of((0.05f64..1.0).prop_map(|b| Backstop {
                below: Ratio::from_f64(b),
            })),
            proptest::option::of(prop_oneof![
                Just(AdlRanking::Ranked),
                Just(AdlRanking::ProRata)
            ]),
        )
            .prop_map(
                |(accounts, notional, keepers, oracle, per_asset, backstop, deleveraging)| {
                    firesale_harness::scenario::Limits {
                        rate_limit: RateLimit {
                            max_accounts_per_round: accounts,
                            max_notional_per_round: notional,
                        },
                        keepers,
                        oracle,
                        per_asset,
                        backstop,
                        deleveraging,
                        settlement: Default::default(),
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

        /// Under any mix of containment, every step conserves (the audit),
        /// no liquidation lowers health, no fixed point leaves an account
        /// liquidatable, the run ends without a kernel error, and the global
        /// caps hold in every round.
        #[test]
        fn containment_keeps_every_invariant(((mut s, budgets), mut limits) in (scenario(), limits())) {
            limits.per_asset.truncate(s.assets.len());
            limits.per_asset.iter_mut().take(1).for_each(|a| {
                a.breaker = None;
                a.auction = None;
            });
            s.limits = limits.clone();
            let Ok(run) = try_run_checked(&s, &budgets) else {
                return Ok(());
            };
            prop_assert!(!matches!(run.termination, Termination::Failed(_)), "{:?}", run.termination);
            let cap = limits.rate_limit.max_accounts_per_round;
            let mut accounts: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
            for e in &run.events {
                if let Event::Liquidation { round, account, .. } | Event::Bankruptcy { round, account, .. } = *e {
                    accounts.entry(round).or_default().insert(account);
                }
            }
            if cap > 0 {
                prop_assert!(accounts.values().all(|a| a.len() <= cap as usize));
            }
        }
    }
}

//! The incremental scan (a watch list keyed by price drift, see
//! core/src/engine/scan.rs) against the reference scan of every account
//! every round, with its queue a heap, against the queue sorted as a batch:
//! the same digest, events, report and ending, on generated markets of
//! every kind (cross-margined, long and short, every venue and
//! policy, containment on), on the bundled replays, and under budgets;
//! and far fewer health evaluations on a large market.

use firesale_core::{Event, StepOutcome, Termination};
use firesale_harness::bundled;
use firesale_harness::population::Population;
use firesale_harness::rng::SplitMix64;
use firesale_harness::run::{engine, Buffers};
use firesale_tests::scans::{assert_same, run, Scan};
use firesale_tests::{bytes, strategies, Log};
use proptest::prelude::*;

proptest! {
    #[test]
    fn generated_markets_cascade_the_same_under_both_scans(
        (scenario, budgets) in strategies::scenario()
    ) {
        assert_same(&scenario, budgets[0]);
    }
}

/// The fuzzers' byte-string scenarios: containment (rate limits, halts,
/// auctions, the backstop, auto-deleveraging, equilibrium settlement) on.
#[test]
fn byte_string_markets_with_containment_cascade_the_same() {
    let mut rng = SplitMix64::new(4_242);
    let (mut valid, mut liquidations) = (0, 0);
    for _ in 0..300 {
        let data: Vec<u8> = (0..240).map(|_| rng.next_u64() as u8).collect();
        let (scenario, _) = bytes::scenario(&data);
        if let Some(report) = assert_same(&scenario, 1) {
            valid += 1;
            liquidations += report.liquidations;
        }
    }
    assert!(valid > 100, "only {valid} valid scenarios");
    assert!(liquidations > 100, "only {liquidations} liquidations");
}

/// A market the fuzzer found: a rising price grows one account's terms
/// until its health overflows in round 8. The full scan meets it and fails
/// the run; the watch list once left it unevaluated and reached a fixed
/// point. The scan now bounds every watched account's terms and scans in
/// full when they might overflow.
#[test]
fn an_account_whose_health_overflows_fails_both_scans_alike() {
    let data = include_bytes!("../../fuzz/corpus/cascade_audit/regression-overflow-unwatched");
    let (scenario, budgets) = bytes::scenario(data);
    for budget in budgets.into_iter().chain([1]) {
        assert_same(&scenario, budget.max(1));
    }
    let run = run(&scenario, Scan::WatchList, 1).unwrap();
    assert!(
        matches!(
            run.termination,
            Termination::Failed(firesale_core::Error::Arithmetic {
                account: Some(0),
                ..
            })
        ),
        "{:?}",
        run.termination
    );
}

#[test]
fn the_bundled_scenarios_cascade_the_same() {
    for name in [
        "default",
        "perp-squeeze",
        "cross-margin",
        "black-thursday-2020",
        "compound-dai-2020",
        "perp-crash-2025",
    ] {
        let scenario = bundled::find(name)
            .expect("bundled")
            .scenario()
            .expect("parses");
        assert_same(&scenario, 64).expect("valid");
    }
}

/// The point of the watch list: a market of 20,000 accounts whose price
/// falls for tens of rounds is evaluated far fewer times than rounds ×
/// accounts (units count evaluations, liquidations and round edges).
#[test]
fn a_long_decline_evaluates_a_fraction_of_the_accounts_per_round() {
    let mut s = bundled::find("default")
        .expect("bundled")
        .scenario()
        .expect("parses");
    s.balances = Population::lending(20_000, 7, 1)
        .generate(&s.assets)
        .unwrap();
    s.limits.rate_limit.max_accounts_per_round = 200;
    let full = run(&s, Scan::Full, 1).expect("valid");
    // Popped only: a sweep visits the whole list in cheap units, which
    // would not count evaluations.
    let incremental = run(&s, Scan::WatchList, 1).expect("valid");
    assert_eq!(incremental.digest, full.digest);
    // The cap leaves thousands of accounts waiting across rounds: they come
    // out in the reference's order.
    assert_eq!(incremental.events, full.events);
    assert!(
        full.report.deferred > 10_000,
        "{} deferrals",
        full.report.deferred
    );
    let rounds = u64::from(full.report.rounds);
    assert!(rounds >= 20, "a long cascade: {rounds} rounds");
    assert!(
        incremental.units * 5 < full.units,
        "incremental {} units, full {} units over {rounds} rounds",
        incremental.units,
        full.units
    );
}

/// A drop that reaches much of the watch list at once: the adaptive scan
/// sweeps the list there, with the same results. The two watch-list runs
/// differ only in that choice, so a different count of units shows the
/// sweep ran; and it took fewer units than the pops of the entries it
/// reached (a sweep unit visits up to 64 entries), and far fewer than the
/// reference over the whole run.
#[test]
fn a_drift_that_reaches_much_of_the_watch_list_sweeps_it() {
    let mut s = bundled::find("default")
        .expect("bundled")
        .scenario()
        .expect("parses");
    s.balances = Population::lending(20_000, 7, 1)
        .generate(&s.assets)
        .unwrap();
    let full = run(&s, Scan::Full, 1).expect("valid");
    let watch = run(&s, Scan::WatchList, 1).expect("valid");
    let adaptive = run(&s, Scan::Adaptive, 1).expect("valid");
    assert_eq!(adaptive.digest, full.digest);
    assert_eq!(watch.digest, full.digest);
    assert_eq!(adaptive.events, full.events);
    assert!(
        adaptive.units < watch.units && adaptive.units * 5 < full.units,
        "adaptive {} units, watch list {}, full {}",
        adaptive.units,
        watch.units,
        full.units
    );
}

/// A round whose drift has not grown since the last scan reaches nobody,
/// however many triggers sit just above that drift (every account a
/// liquidation leaves healthy is watched again from just above it). A
/// price falling 1.5% a round for 15 rounds, then recovering for a hundred:
/// the recovering rounds must not sweep the watch list. Each takes a few
/// units, where a sweep of 20,000 entries would take thousands.
#[test]
fn a_round_whose_drift_has_not_grown_does_not_sweep() {
    let mut s = bundled::find("default")
        .expect("bundled")
        .scenario()
        .expect("parses");
    // The default's depth per account, at 20,000 accounts.
    s.assets[1].venue = firesale_core::VenueConfig::ConstantProduct {
        base_reserve: firesale_core::Qty::from_f64(40_000.0 * 20.0 / 3.0),
        fee: firesale_core::Ratio::from_f64(0.003),
        resilience: firesale_core::Ratio::from_f64(0.2),
    };
    s.balances = Population::lending(20_000, 7, 1)
        .generate(&s.assets)
        .unwrap();
    let fall = s.shocks[0];
    s.shocks = (1..=15)
        .map(|round| firesale_core::Shock {
            round,
            kind: firesale_core::ShockKind::MovePrice(firesale_core::Ratio::from_f64(0.985)),
            ..fall
        })
        .collect();
    let mut buffers = Buffers::new(&s);
    let mut e = engine(&s, &mut buffers).expect("valid");
    let mut log = Log::default();
    // Units and liquidations per round, by the last `RoundStarted`.
    let mut rounds: Vec<(u64, u64)> = Vec::new();
    let termination = loop {
        let seen = log.0.len();
        let outcome = e.step(1, &mut log);
        for event in &log.0[seen..] {
            match event {
                Event::RoundStarted { .. } => rounds.push((0, 0)),
                Event::Liquidation { .. } => {
                    if let Some(r) = rounds.last_mut() {
                        r.1 += 1;
                    }
                }
                _ => {}
            }
        }
        if let Some(r) = rounds.last_mut() {
            r.0 += 1;
        }
        if let StepOutcome::Done(t) = outcome {
            break t;
        }
        assert!(rounds.len() < 1_000, "the run does not end");
    };
    assert_eq!(termination, Termination::FixedPoint);
    let liquidating = rounds.iter().filter(|r| r.1 > 0).count();
    assert!(liquidating >= 15, "{liquidating} rounds with liquidations");
    let quiet: Vec<u64> = rounds[20..].iter().map(|r| r.0).collect();
    assert!(quiet.len() >= 50, "{} quiet rounds", quiet.len());
    let most = quiet.iter().max().copied().unwrap_or(0);
    assert!(most <= 16, "a quiet round took {most} units: {quiet:?}");
    // The same run as the reference's, and as the watch list popped only.
    assert_same(&s, 64).expect("valid");
}

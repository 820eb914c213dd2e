//! Rounds in which nothing can move are skipped to the next shock
//! (docs/semantics.md, "Rounds"): on every venue kind and policy, with and
//! without the containment that allows it, the skipping run ends with the
//! same digest, report, balances and ending as the run of every round, and
//! any budget sequence gives the same run with the audit after every step.

use firesale_core::{AdlRanking, Backstop, Event, Ratio, StepOutcome};
use firesale_harness::Scenario;
use firesale_tests::{engine, mixed_market, policies, run_checked, venue_kinds, Buffers, Log};

struct Ran {
    digest: u64,
    report: firesale_core::Report,
    balances: Vec<firesale_core::Qty>,
    events: Vec<Event>,
    rounds_started: usize,
}

fn ran(s: &Scenario, skip: bool) -> Ran {
    let mut buffers = Buffers::new(s);
    let mut e = engine(s, &mut buffers).unwrap();
    e.skip_empty_rounds(skip);
    let mut log = Log::default();
    while let StepOutcome::Pending = e.step(97, &mut log) {}
    let (digest, report) = (e.digest(), *e.report());
    drop(e);
    let rounds_started = log
        .0
        .iter()
        .filter(|e| matches!(e, Event::RoundStarted { .. }))
        .count();
    Ran {
        digest,
        report,
        balances: buffers.balances,
        events: log.0,
        rounds_started,
    }
}

/// The mixed market with its shocks far apart: rounds 1, 150 and 420.
fn spread(mut s: Scenario) -> Scenario {
    let rounds = [1, 150, 420];
    for (shock, round) in s.shocks.iter_mut().zip(rounds) {
        shock.round = round;
    }
    s.max_rounds = 700;
    s
}

#[test]
fn skipping_empty_rounds_changes_no_result() {
    let mut skipped_some = 0;
    for (seed, (venue, config)) in venue_kinds().into_iter().enumerate() {
        for (policy, p) in policies() {
            let mut s = spread(mixed_market(seed as u64, 60, config, config, p));
            if seed % 2 == 1 {
                s.limits.backstop = Some(Backstop {
                    below: Ratio::from_f64(0.5),
                });
                s.limits.deleveraging = Some(AdlRanking::ProRata);
            }
            let (skip, every) = (ran(&s, true), ran(&s, false));
            let what = format!("{venue}, {policy}");
            assert_eq!(skip.digest, every.digest, "{what}");
            assert_eq!(skip.report, every.report, "{what}");
            assert_eq!(skip.balances, every.balances, "{what}");
            assert_eq!(
                skip.events.last(),
                every.events.last(),
                "{what}: the same ending"
            );
            // Every event but the skipped rounds' starts and ends.
            let busy = |e: &&Event| {
                !matches!(
                    e,
                    Event::RoundStarted { .. }
                        | Event::RoundEnded {
                            liquidations: 0,
                            ..
                        }
                )
            };
            assert!(
                skip.events
                    .iter()
                    .filter(busy)
                    .eq(every.events.iter().filter(busy)),
                "{what}"
            );
            if skip.rounds_started < every.rounds_started {
                skipped_some += 1;
            }
            // Any budgets, the audit after every step: the same run.
            let checked = run_checked(&s, &[1, 3, 1000, 7]);
            assert_eq!(checked.digest, skip.digest, "{what}");
        }
    }
    assert!(
        skipped_some > 10,
        "{skipped_some} of 15 runs skipped rounds"
    );
}

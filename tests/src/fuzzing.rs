//! The bodies of the fuzz targets, here so that the stable test suite can
//! replay every committed corpus through exactly the same checks.

use crate::{bytes, engine, try_run_checked, Buffers};
use firesale_core::{Error, StepOutcome};

/// Arbitrary markets, policies and shocks under random budgets, with the
/// audit, the health check and the fixed-point check after every step.
pub fn cascade_audit(data: &[u8]) {
    let (scenario, budgets) = bytes::scenario(data);
    // Invalid configurations are fine (a named error); broken invariants panic.
    let _ = try_run_checked(&scenario, &budgets);
}

/// Arbitrary configurations, every parameter any bit pattern: the engine or
/// a named configuration error, never a panic; a built engine runs (bounded)
/// with its books balanced.
pub fn config_validation(data: &[u8]) {
    let scenario = bytes::raw_scenario(data);
    let mut buffers = Buffers::new(&scenario);
    match engine(&scenario, &mut buffers) {
        Err(Error::Config(_)) => {}
        Err(other) => panic!("construction failed with a non-configuration error: {other:?}"),
        Ok(mut engine) => {
            for _ in 0..200 {
                let done = matches!(engine.step(7, &mut ()), StepOutcome::Done(_));
                if let Err(e) = engine.audit() {
                    panic!("audit failed: {e:?}");
                }
                if done {
                    break;
                }
            }
        }
    }
}

/// The incremental scan, adaptive and popped only, against the reference
/// scan of every account every round, at the input's first budget: the
/// same digest, events, report and ending. The watch list's triggers are
/// bounds; one too high would miss a liquidation, and this is where a
/// fuzzer looks for it.
pub fn scan_equivalence(data: &[u8]) {
    let (scenario, budgets) = bytes::scenario(data);
    let budget = budgets.first().copied().unwrap_or(1).max(1);
    let _ = crate::scans::assert_same(&scenario, budget);
}

/// One unbounded run against one under arbitrary budgets (from the input's
/// tail): the same digest, events, report and ending.
pub fn budget_equivalence(data: &[u8]) {
    let (scenario, _) = bytes::scenario(data);
    let budgets: Vec<u32> = data
        .iter()
        .rev()
        .take(16)
        .map(|b| u32::from(*b % 13))
        .collect();
    let budgets = if budgets.is_empty() { vec![1] } else { budgets };
    let Ok(whole) = try_run_checked(&scenario, &[u32::MAX]) else {
        return;
    };
    let stepped = try_run_checked(&scenario, &budgets).expect("valid once, valid twice");
    assert_eq!(whole.digest, stepped.digest, "budgets {budgets:?}");
    assert_eq!(whole.events, stepped.events);
    assert_eq!(whole.termination, stepped.termination);
    assert_eq!(whole.report, stepped.report);
}

/// Arbitrary bytes as a scenario file: a scenario or a located error, never
/// a panic; a scenario that parses must also build an engine (the parser
/// ran the kernel's validation) and run a few steps with balanced books.
pub fn scenario_parser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = firesale_harness::scenario_file::parse_with_limit(text, 1_000) else {
        return;
    };
    let mut buffers = Buffers::new(&scenario);
    let mut engine = engine(&scenario, &mut buffers).expect("a parsed scenario is valid");
    for _ in 0..50 {
        let done = matches!(engine.step(64, &mut ()), StepOutcome::Done(_));
        if let Err(e) = engine.audit() {
            panic!("audit failed: {e:?}");
        }
        if done {
            break;
        }
    }
}

/// The engine being rebuilt (`firesale-next`, issue 21) on arbitrary
/// markets (`next_bytes`): a configuration refused is fine (a named
/// error); a run is audited after every step, and at the end of every
/// round's scan its queue must hold exactly the accounts a full rescan
/// finds liquidatable; one unbounded run, one under the input's budgets and
/// one a unit at a time end alike (digest, events, ending).
pub fn next_cascade(data: &[u8]) {
    let market = crate::next_bytes::market(data);
    let Some(whole) = next_run(&market, &[u32::MAX]) else {
        return;
    };
    let stepped = next_run(&market, &market.budgets).expect("valid once, valid twice");
    let single = next_run(&market, &[1]).expect("valid once, valid thrice");
    assert_eq!(whole, stepped, "budgets {:?}", market.budgets);
    assert_eq!(whole, single, "a unit at a time");
}

/// Every event of a next run.
struct NextLog(Vec<firesale_next::engine::Event>);

impl firesale_next::engine::EventSink for NextLog {
    fn emit(&mut self, e: &firesale_next::engine::Event) {
        self.0.push(*e);
    }
}

type NextEnd = (
    u64,
    Vec<firesale_next::engine::Event>,
    firesale_next::engine::Termination,
);

/// Runs `m` stepping by `budgets` in turn; `None` for a configuration the
/// engine refuses. Audits after every step; stepping a unit at a time,
/// checks the queue at the end of each scan against a full rescan.
fn next_run(m: &crate::next_bytes::Market, budgets: &[u32]) -> Option<NextEnd> {
    m.with_engine(|e| next_steps(e, budgets)).flatten()
}

fn next_steps<const A: usize, const N: usize>(
    e: &mut firesale_next::engine::Engine<'_, A, N>,
    budgets: &[u32],
) -> Option<NextEnd> {
    use firesale_next::engine::StepOutcome;
    let mut log = NextLog(Vec::new());
    let mut was_liquidating = false;
    for budget in budgets.iter().cycle() {
        let outcome = e.step(*budget, &mut log);
        if let Err(err) = e.audit() {
            panic!("audit failed in round {}: {err:?}", e.round());
        }
        let liquidating = e.liquidating();
        if *budget == 1 && liquidating && !was_liquidating {
            // Every liquidatable account is queued; of the queued, those
            // this round found are liquidatable (those a cap left waiting
            // may have recovered: they are valued when taken).
            let queued: Vec<u32> = e.queued().map(|c| c.id).collect();
            let found: std::collections::BTreeSet<u32> =
                queued[e.carried_over()..].iter().copied().collect();
            let all: std::collections::BTreeSet<u32> = queued.iter().copied().collect();
            assert_eq!(all.len(), queued.len(), "an account queued twice");
            for id in 0..e.account_count() {
                let due = e.health(id).is_some_and(|h| h.is_liquidatable());
                let at = (e.round(), id);
                assert!(!due || all.contains(&(id as u32)), "{at:?}: missed");
                assert!(due || !found.contains(&(id as u32)), "{at:?}: not due");
            }
        }
        was_liquidating = liquidating;
        if let StepOutcome::Done(t) = outcome {
            return Some((e.digest(), log.0, t));
        }
    }
    None
}

//! One market run three ways: the reference scan of every account every
//! round (its queue a heap), the incremental scan that pops its watch list
//! or sweeps it when that is cheaper (the default), and the watch list
//! popped only. The incremental scans skip the accounts a trigger says the
//! price cannot have reached yet; a trigger that is too high would miss a
//! liquidation, so every run must be the reference's, bit for bit.

use crate::{engine, Buffers, Log};
use firesale_core::{Event, Report, StepOutcome, Termination};
use firesale_harness::Scenario;

/// What a run did, to compare.
#[derive(Debug, PartialEq)]
pub struct Run {
    pub digest: u64,
    pub events: Vec<Event>,
    pub report: Report,
    pub termination: Termination,
    /// Calls of `step`.
    pub units: u64,
}

/// How a run finds its candidates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scan {
    /// Every account every round: the reference.
    Full,
    /// The watch list, popped, or swept when the drift reaches so much of
    /// it that a sweep is cheaper (the default).
    Adaptive,
    /// The watch list, always popped.
    WatchList,
}

/// Runs `s` in steps of `budget` units and audits the books at the end;
/// `None` if the configuration is invalid.
pub fn run(s: &Scenario, scan: Scan, budget: u32) -> Option<Run> {
    let mut buffers = Buffers::new(s);
    let mut e = engine(s, &mut buffers).ok()?;
    e.scan_every_round(scan == Scan::Full);
    e.sweep_when_cheaper(scan == Scan::Adaptive);
    // The reference keeps its queue a heap; the others sort each round's
    // batch when no budget can leave an account waiting (see
    // core/src/engine/batch.rs): the same order, so the same run.
    e.sort_batches(scan != Scan::Full);
    let mut log = Log::default();
    let mut units = 0u64;
    loop {
        units += 1;
        if let StepOutcome::Done(termination) = e.step(budget, &mut log) {
            assert_eq!(e.audit(), Ok(()));
            return Some(Run {
                digest: e.digest(),
                events: log.0,
                report: *e.report(),
                termination,
                units,
            });
        }
        assert!(units < 50_000_000, "the run does not end");
    }
}

/// Runs `s` all three ways and panics unless the incremental runs are the
/// reference's: digest, events, report and ending. Returns the report, or
/// `None` if the configuration is invalid.
pub fn assert_same(s: &Scenario, budget: u32) -> Option<Report> {
    let full = run(s, Scan::Full, budget)?;
    for scan in [Scan::Adaptive, Scan::WatchList] {
        let incremental = run(s, scan, budget).expect("valid once, valid twice");
        assert_eq!(incremental.digest, full.digest, "{} ({scan:?})", s.name);
        assert_eq!(incremental.events, full.events, "{} ({scan:?})", s.name);
        assert_eq!(incremental.report, full.report, "{} ({scan:?})", s.name);
        assert_eq!(
            incremental.termination, full.termination,
            "{} ({scan:?})",
            s.name
        );
    }
    Some(full.report)
}

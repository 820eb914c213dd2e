//! Running a scenario on the host: storage in `Vec`s, the kernel does the rest.

use crate::scenario::Scenario;
use firesale_core::engine::{flag_words, Candidate, Checkpoint};
use firesale_core::ledger::MAX_ASSETS;
use firesale_core::report::AssetReport;
use firesale_core::{Engine, EngineConfig, Error, EventSink, Qty, Report, Storage, Termination};
use std::any::Any;

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The kernel's report.
    pub report: Report,
    /// Why it ended.
    pub termination: Termination,
    /// The final state digest.
    pub digest: u64,
}

/// The caller-side storage of one run, in `Vec`s.
pub struct Buffers {
    /// Balances, filled from the scenario.
    pub balances: Vec<Qty>,
    scratch: Vec<Candidate>,
    flags: Vec<u32>,
    /// The engine's checkpoint, of the capacity last asked for.
    checkpoint: Option<Box<dyn Any + Send>>,
}

impl Buffers {
    /// Fresh storage holding the scenario's starting balances.
    pub fn new(s: &Scenario) -> Self {
        let mut fresh = Self {
            balances: Vec::new(),
            scratch: Vec::new(),
            flags: Vec::new(),
            checkpoint: None,
        };
        fresh.refill(s);
        fresh
    }

    /// Storage over `balances` themselves (no copy), of accounts of
    /// `assets` assets: how the scenario file's validation builds an engine
    /// over a scenario's own balances, which construction only reads.
    pub fn over(balances: Vec<Qty>, assets: usize) -> Self {
        let n = balances.len().checked_div(assets).unwrap_or(0);
        Self {
            balances,
            scratch: vec![Candidate::default(); n],
            flags: vec![0; flag_words(n)],
            checkpoint: None,
        }
    }

    /// Refills the storage with `s`'s starting balances, keeping its
    /// allocations: repeated runs (a benchmark, a sweep) then write into
    /// memory they touched already instead of faulting in fresh pages, 56
    /// MB of them at 10^6 accounts. What the scratch holds from the last
    /// run does not matter: the engine writes every slot before it reads
    /// it, and clears the flags.
    pub fn refill(&mut self, s: &Scenario) {
        let n = s.accounts();
        self.balances.clear();
        self.balances.extend_from_slice(&s.balances);
        self.scratch.resize(n, Candidate::default());
        self.flags.resize(flag_words(n), 0);
    }

    /// The storage to hand to an engine of capacity `A`: the three slices
    /// and a checkpoint.
    #[allow(clippy::type_complexity)]
    pub fn parts<const A: usize>(
        &mut self,
    ) -> (&mut [Qty], &mut [Candidate], &mut [u32], &mut Checkpoint<A>) {
        let fits = self
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.is::<Checkpoint<A>>());
        if !fits {
            self.checkpoint = Some(Box::new(Checkpoint::<A>::new()));
        }
        let checkpoint = self
            .checkpoint
            .as_mut()
            .and_then(|c| c.downcast_mut::<Checkpoint<A>>())
            .expect("a checkpoint of capacity A was just stored");
        (
            &mut self.balances,
            &mut self.scratch,
            &mut self.flags,
            checkpoint,
        )
    }
}

/// The engine configuration of a scenario.
pub fn config(s: &Scenario) -> EngineConfig<'_> {
    EngineConfig {
        assets: &s.assets,
        policy: s.policy,
        max_rounds: s.max_rounds,
        oracle_lag_rounds: s.oracle_lag_rounds,
        insurance_fund: s.insurance_fund,
        shocks: &s.shocks,
        containment: s.limits.containment(),
    }
}

/// Validates `s` and builds an engine over `buffers`.
pub fn engine<'a>(s: &'a Scenario, buffers: &'a mut Buffers) -> Result<Engine<'a>, Error> {
    engine_sized(s, buffers)
}

/// [`engine`] at capacity `A`.
pub fn engine_sized<'a, const A: usize>(
    s: &'a Scenario,
    buffers: &'a mut Buffers,
) -> Result<Engine<'a, A>, Error> {
    let (balances, scratch, flags, checkpoint) = buffers.parts::<A>();
    Engine::new(
        &config(s),
        Storage {
            balances,
            scratch,
            flags,
            checkpoint,
        },
    )
}

/// Calls `$f::<A>($args)` with the smallest capacity `A` of 2, 4, 8 or 16
/// that holds `$assets` assets.
macro_rules! by_capacity {
    ($assets:expr, $f:ident($($arg:expr),*)) => {
        match $assets {
            0..=2 => $f::<2>($($arg),*),
            3..=4 => $f::<4>($($arg),*),
            5..=8 => $f::<8>($($arg),*),
            _ => $f::<{ firesale_core::ledger::MAX_ASSETS }>($($arg),*),
        }
    };
}

/// Runs a scenario to the end, in an engine sized to its assets: the
/// smallest capacity of 2, 4, 8 or 16 that holds them. The engine copies its
/// state once per liquidation as a checkpoint, so a 2-asset market run at
/// capacity 16 copies eight times what it needs. Results do not depend on
/// the capacity (`tests`: the same digest at every capacity).
pub fn run_scenario(scenario: &Scenario, sink: &mut dyn EventSink) -> Result<Outcome, Error> {
    by_capacity!(scenario.assets.len(), run_sized(scenario, sink))
}

/// [`run_scenario`] over storage the caller keeps from run to run, which
/// this refills (see [`Buffers::refill`]). The results are the same as a
/// run in fresh storage.
pub fn run_scenario_in(
    buffers: &mut Buffers,
    scenario: &Scenario,
    sink: &mut dyn EventSink,
) -> Result<Outcome, Error> {
    buffers.refill(scenario);
    by_capacity!(scenario.assets.len(), run_filled(buffers, scenario, sink))
}

/// [`run_scenario`] at capacity `A`.
pub fn run_sized<const A: usize>(
    scenario: &Scenario,
    sink: &mut dyn EventSink,
) -> Result<Outcome, Error> {
    run_filled::<A>(&mut Buffers::new(scenario), scenario, sink)
}

/// Runs `scenario` at capacity `A` over `buffers`, which hold its starting
/// balances.
fn run_filled<const A: usize>(
    buffers: &mut Buffers,
    scenario: &Scenario,
    sink: &mut dyn EventSink,
) -> Result<Outcome, Error> {
    let mut engine = engine_sized::<A>(scenario, buffers)?;
    let termination = engine.run(sink);
    Ok(Outcome {
        report: widen(engine.report()),
        termination,
        digest: engine.digest(),
    })
}

/// A report of capacity `A` as one of the default capacity.
pub fn widen<const A: usize>(r: &Report<A>) -> Report {
    let mut per_asset = [AssetReport::default(); MAX_ASSETS];
    per_asset
        .iter_mut()
        .zip(r.per_asset.iter())
        .for_each(|(wide, narrow)| *wide = *narrow);
    Report {
        rounds: r.rounds,
        liquidations: r.liquidations,
        accounts_liquidated: r.accounts_liquidated,
        bankruptcies: r.bankruptcies,
        deferred: r.deferred,
        backstopped: r.backstopped,
        backstop_assets: r.backstop_assets,
        backstop_liabilities: r.backstop_liabilities,
        backstop_equity: r.backstop_equity,
        backstop_negative_equity: r.backstop_negative_equity,
        backstop_pnl: r.backstop_pnl,
        auctions: r.auctions,
        zero_bid_takes: r.zero_bid_takes,
        deleveraged: r.deleveraged,
        bad_debt: r.bad_debt,
        insurance_used: r.insurance_used,
        socialized: r.socialized,
        unrecovered: r.unrecovered,
        fees: r.fees,
        keeper_pnl: r.keeper_pnl,
        insurance_fund: r.insurance_fund,
        per_asset,
        assets: r.assets,
        termination: r.termination,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Storage kept between runs of other sizes and capacities, dirty from
    /// the last, gives each run exactly what fresh storage gives it.
    #[test]
    fn storage_kept_between_runs_gives_the_same_runs() {
        let mut buffers = Buffers::new(&crate::markets::default_lending());
        for name in ["default", "cross-margin", "perp-squeeze", "default"] {
            let s = crate::bundled::find(name).unwrap().scenario().unwrap();
            let fresh = run_scenario(&s, &mut ()).unwrap();
            let kept = run_scenario_in(&mut buffers, &s, &mut ()).unwrap();
            assert_eq!(kept.digest, fresh.digest, "{name}");
            assert_eq!(kept.report, fresh.report, "{name}");
            assert_eq!(kept.termination, fresh.termination, "{name}");
            assert_eq!(buffers.balances.len(), s.balances.len(), "{name}");
        }
    }

    #[test]
    fn every_capacity_gives_the_same_run() {
        for name in ["default", "cross-margin", "perp-squeeze"] {
            let s = crate::bundled::find(name).unwrap().scenario().unwrap();
            let sized = run_scenario(&s, &mut ()).unwrap();
            let wide = run_sized::<MAX_ASSETS>(&s, &mut ()).unwrap();
            let eight = run_sized::<8>(&s, &mut ()).unwrap();
            assert_eq!(sized.digest, wide.digest, "{name}");
            assert_eq!(eight.digest, wide.digest, "{name}");
            assert_eq!(sized.report, wide.report, "{name}");
        }
    }
}

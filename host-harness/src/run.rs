//! Running a scenario on the host: storage in `Vec`s, the kernel does the rest.

use crate::scenario::Scenario;
use firesale_core::engine::{flag_words, Candidate};
use firesale_core::{Engine, EngineConfig, Error, EventSink, Qty, Report, Storage, Termination};

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
}

impl Buffers {
    /// Fresh storage holding the scenario's starting balances.
    pub fn new(s: &Scenario) -> Self {
        let n = s.accounts();
        Self {
            balances: s.balances.clone(),
            scratch: vec![Candidate::default(); n],
            flags: vec![0; flag_words(n)],
        }
    }

    /// The three storage slices, to hand to an engine.
    pub fn parts(&mut self) -> (&mut [Qty], &mut [Candidate], &mut [u32]) {
        (&mut self.balances, &mut self.scratch, &mut self.flags)
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
    let (balances, scratch, flags) = buffers.parts();
    Engine::new(
        &config(s),
        Storage {
            balances,
            scratch,
            flags,
        },
    )
}

/// Runs a scenario to the end.
pub fn run_scenario(scenario: &Scenario, sink: &mut dyn EventSink) -> Result<Outcome, Error> {
    let mut buffers = Buffers::new(scenario);
    let mut engine = engine(scenario, &mut buffers)?;
    let termination = engine.run(sink);
    Ok(Outcome {
        report: *engine.report(),
        termination,
        digest: engine.digest(),
    })
}

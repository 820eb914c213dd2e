//! Running a scenario on the host: storage in `Vec`s, the kernel does the rest.

use crate::scenario::Scenario;
use firesale_core::engine::{flag_words, Candidate};
use firesale_core::{Engine, EngineConfig, Error, EventSink, Report, Storage, Termination};

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

/// Runs a scenario to the end.
pub fn run_scenario(scenario: &Scenario, sink: &mut dyn EventSink) -> Result<Outcome, Error> {
    let mut balances = scenario.balances.clone();
    let accounts = scenario.accounts();
    let mut scratch = vec![Candidate::default(); accounts];
    let mut flags = vec![0u32; flag_words(accounts)];
    let config = EngineConfig {
        assets: &scenario.assets,
        policy: scenario.policy,
        max_rounds: scenario.max_rounds,
        oracle_lag_rounds: scenario.oracle_lag_rounds,
        insurance_fund: scenario.insurance_fund,
        shocks: &scenario.shocks,
    };
    let storage = Storage {
        balances: &mut balances,
        scratch: &mut scratch,
        flags: &mut flags,
    };
    let mut engine = Engine::new(&config, storage)?;
    let termination = engine.run(sink);
    Ok(Outcome {
        report: *engine.report(),
        termination,
        digest: engine.digest(),
    })
}

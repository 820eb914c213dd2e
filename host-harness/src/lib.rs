//! firesale-harness: scenarios, runs, reports, sweeps, Monte Carlo and
//! plots on a host, over the `no_std` kernel.

pub mod artefacts;
pub mod audit;
pub mod bounds;
pub mod bundled;
pub mod compare;
pub mod critical;
pub mod event_json;
pub mod input;
pub mod json;
pub mod markets;
pub mod montecarlo;
pub mod next_bridge;
pub mod next_observe;
pub mod observe;
pub mod plot;
pub mod population;
pub mod positions;
pub mod preflight;
pub mod presets;
pub mod progress;
pub mod rng;
pub mod run;
pub mod run_report;
pub mod scenario;
pub mod scenario_file;
pub mod source;
pub mod summary;
pub mod sweep;

pub use run::{run_scenario, Outcome};
pub use scenario::Scenario;

//! firesale-harness: scenarios, runs and reports on a host, over the
//! `no_std` kernel.

pub mod rng;
pub mod run;
pub mod scenario;
pub mod scenario_file;
pub mod summary;

pub use run::{run_scenario, Outcome};
pub use scenario::Scenario;

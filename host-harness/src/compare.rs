//! One scenario under several protocols' presets, side by side (`firesale
//! compare`, and `firesale.compare` in Python).

use crate::observe::{observe_with, Observed, RunError};
use crate::presets::Preset;
use crate::scenario::Scenario;
use indicatif::ProgressBar;
use rayon::prelude::*;

/// One preset's run: the preset, the scenario under it, the watched run.
pub type Compared = (Preset, Scenario, Observed);

/// Runs `base` under each of `chosen`, in parallel on the current rayon
/// pool, in `chosen`'s order; the first failure with the preset and the
/// scenario it happened under.
pub fn run(
    base: &Scenario,
    chosen: &[Preset],
    progress: &ProgressBar,
    audit: bool,
) -> Result<Vec<Compared>, Box<(Preset, Scenario, RunError)>> {
    let runs = chosen
        .par_iter()
        .map(|p| {
            let s = p.apply(base);
            let observed = observe_with(&s, None, audit);
            progress.inc(1);
            match observed {
                Ok(o) => Ok((*p, s, o)),
                Err(e) => Err(Box::new((*p, s, e))),
            }
        })
        .collect();
    progress.finish_and_clear();
    runs
}

/// The comparison as `firesale compare --json` writes it: per preset, its
/// name and the report of its run (docs/report.md).
pub fn document(label: &str, runs: &[Compared]) -> serde_json::Value {
    let reports: Vec<serde_json::Value> = runs
        .iter()
        .map(|(p, s, o)| serde_json::json!({ "preset": p.name, "report": crate::json::report(s, o) }))
        .collect();
    serde_json::json!({ "scenario": label, "runs": reports })
}

//! Monte Carlo: random shock paths from a seeded generator, each run as its
//! own scenario, in parallel. Path `i` draws from a generator seeded by
//! `(seed, i)` alone, so the results are identical whatever the thread
//! count and order of execution.

use crate::audit::Stopped;
use crate::observe::{self, Figures, RunError};
use crate::rng::SplitMix64;
use crate::scenario::Scenario;
use firesale_core::{Ratio, Shock, ShockKind};
use indicatif::ProgressBar;
use rayon::prelude::*;

/// How shock paths are drawn: per round and risky asset a log-normal move
/// with a common factor, plus rare crash jumps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathModel {
    /// Paths to draw.
    pub paths: u32,
    /// Seed of the whole experiment.
    pub seed: u64,
    /// Rounds that receive a shock (1 to `rounds`).
    pub rounds: u32,
    /// Mean log return per round.
    pub drift: f64,
    /// Standard deviation of the log return per round.
    pub volatility: f64,
    /// Correlation of the assets' moves, through one common factor.
    pub correlation: f64,
    /// Chance per round of a crash jump, common to all risky assets.
    pub jump_probability: f64,
    /// Size of a crash jump: the price is multiplied by `1 − jump_size`.
    pub jump_size: f64,
}

impl PathModel {
    /// Checks the parameters; the error names the flag.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                self.paths >= 1 && self.paths <= 10_000_000,
                "--paths must be 1 to 10,000,000",
            ),
            (
                self.rounds >= 1 && self.rounds <= 10_000,
                "--rounds must be 1 to 10,000",
            ),
            (
                self.drift.is_finite() && self.drift.abs() <= 1.0,
                "--drift must be in [-1, 1]",
            ),
            (
                (0.0..=1.0).contains(&self.volatility),
                "--volatility must be in [0, 1]",
            ),
            (
                (0.0..=1.0).contains(&self.correlation),
                "--correlation must be in [0, 1]",
            ),
            (
                (0.0..=1.0).contains(&self.jump_probability),
                "--jump-probability must be in [0, 1]",
            ),
            (
                (0.0..0.99).contains(&self.jump_size),
                "--jump-size must be in [0, 0.99)",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err((*message).to_string()),
            None => Ok(()),
        }
    }

    /// Refuses a model whose shocks run past `scenario`'s round cap: they
    /// would never be applied. The error starts with the rounds.
    pub fn fits(&self, scenario: &Scenario) -> Result<(), String> {
        if self.rounds > scenario.max_rounds {
            return Err(format!(
                "{}: shocks after the scenario's round cap (max_rounds = {}) would never be applied",
                self.rounds, scenario.max_rounds
            ));
        }
        Ok(())
    }

    /// The generator of path `index`.
    fn rng(&self, index: u32) -> SplitMix64 {
        let mut mix =
            SplitMix64::new(self.seed ^ u64::from(index).wrapping_mul(0xd1b5_4a32_d192_ed03));
        SplitMix64::new(mix.next_u64())
    }

    /// The shocks of path `index` over the risky assets `1..assets`.
    pub fn shocks(&self, index: u32, assets: usize) -> Vec<Shock> {
        let mut rng = self.rng(index);
        let mut shocks = Vec::new();
        let common_weight = libm::sqrt(self.correlation);
        let own_weight = libm::sqrt(1.0 - self.correlation);
        for round in 1..=self.rounds {
            let common = normal(&mut rng);
            let jump = rng.unit() < self.jump_probability;
            for asset in 1..assets {
                let z = common_weight * common + own_weight * normal(&mut rng);
                let mut ratio = libm::exp(self.drift + self.volatility * z);
                if jump {
                    ratio *= 1.0 - self.jump_size;
                }
                shocks.push(Shock {
                    round,
                    asset: u8::try_from(asset).unwrap_or(u8::MAX),
                    kind: ShockKind::MovePrice(Ratio::from_f64(ratio.clamp(0.01, 100.0))),
                });
            }
        }
        shocks
    }
}

/// A standard normal draw (Box–Muller, one of the pair).
fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(core::f64::consts::TAU * u2)
}

/// One path's outcome.
pub type PathOutcome = Figures;

/// Tail statistics of bad debt over the paths.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tail {
    /// Mean bad debt.
    pub mean: f64,
    /// Share of paths with any bad debt.
    pub probability_of_loss: f64,
    /// Value at risk at 95% and 99%: the quantile of bad debt.
    pub var: [f64; 2],
    /// Expected shortfall at 95% and 99%: the mean of the worst 5% and 1%.
    pub expected_shortfall: [f64; 2],
    /// The worst path.
    pub max: f64,
}

/// The confidence levels of [`Tail`].
pub const LEVELS: [f64; 2] = [0.95, 0.99];

impl Tail {
    /// The statistics of `losses`.
    pub fn of(losses: &[f64]) -> Tail {
        let mut sorted = losses.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len().max(1);
        let worst = |share: f64| -> &[f64] {
            // `1 − 0.95` is a hair above 0.05 in binary: round it away.
            let k = ((n as f64 * share - 1e-9).ceil() as usize).clamp(1, n);
            sorted.get(sorted.len().saturating_sub(k)..).unwrap_or(&[])
        };
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        let var = LEVELS.map(|level| {
            let rank = ((n as f64 * level - 1e-9).ceil() as usize).clamp(1, n);
            sorted.get(rank - 1).copied().unwrap_or(0.0)
        });
        Tail {
            mean: mean(&sorted),
            probability_of_loss: sorted.iter().filter(|&&x| x > 0.0).count() as f64 / n as f64,
            var,
            expected_shortfall: LEVELS.map(|level| mean(worst(1.0 - level))),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// The study as `firesale montecarlo --json` writes it (docs/report.md):
/// the model, the bad debt's tail over the paths, and every path's figures.
/// Over a shard of the paths ([`run_range`]), the same for those paths.
pub fn document(label: &str, model: &PathModel, paths: &[PathOutcome]) -> serde_json::Value {
    let losses: Vec<f64> = paths.iter().map(|p| p.bad_debt).collect();
    serde_json::json!({
        "scenario": label,
        "model": {
            "paths": model.paths, "seed": model.seed, "rounds": model.rounds,
            "drift": model.drift, "volatility": model.volatility,
            "correlation": model.correlation, "jump_probability": model.jump_probability,
            "jump_size": model.jump_size,
        },
        "bad_debt": tail_document(&losses),
        "paths": paths.iter().map(crate::json::figures).collect::<Vec<_>>(),
    })
}

/// The `bad_debt` object of [`document`]: the tail of `losses`, one per
/// path in path order. A study run in shards is merged by this over every
/// shard's losses, in path order: the same numbers as one run.
pub fn tail_document(losses: &[f64]) -> serde_json::Value {
    let tail = Tail::of(losses);
    serde_json::json!({
        "mean": tail.mean, "probability_of_loss": tail.probability_of_loss,
        "var_95": tail.var[0], "var_99": tail.var[1],
        "expected_shortfall_95": tail.expected_shortfall[0],
        "expected_shortfall_99": tail.expected_shortfall[1],
        "max": tail.max,
    })
}

/// Runs every path of `model` over `scenario` (its own shocks replaced),
/// in parallel on the current rayon pool.
pub fn run(
    scenario: &Scenario,
    model: &PathModel,
    progress: &ProgressBar,
    audit: bool,
) -> Result<Vec<PathOutcome>, Stopped> {
    run_range(scenario, model, 0..model.paths, progress, audit)
}

/// Runs the paths `range` of `model`, a shard of the study: path `i` is
/// the same wherever it runs ([`PathModel::shocks`]), so shards run apart
/// (on a cluster's workers) and concatenated in path order give what one
/// run gives. A range past `model.paths` is an error.
pub fn run_range(
    scenario: &Scenario,
    model: &PathModel,
    range: core::ops::Range<u32>,
    progress: &ProgressBar,
    audit: bool,
) -> Result<Vec<PathOutcome>, Stopped> {
    model.validate()?;
    if range.start > range.end || range.end > model.paths {
        return Err(Stopped::Input(format!(
            "paths {}..{} are not within the study's {} paths",
            range.start, range.end, model.paths
        )));
    }
    let outcomes: Result<Vec<PathOutcome>, Stopped> = range
        .into_par_iter()
        .map(|index| {
            let outcome = run_path(scenario, model, index, audit);
            progress.inc(1);
            outcome
        })
        .collect();
    progress.finish_and_clear();
    outcomes
}

fn run_path(
    scenario: &Scenario,
    model: &PathModel,
    index: u32,
    audit: bool,
) -> Result<PathOutcome, Stopped> {
    let path = Scenario {
        shocks: model.shocks(index, scenario.assets.len()),
        ..scenario.clone()
    };
    observe::figures(&path, audit).map_err(|e| match e {
        RunError::Audit(m) => Stopped::Audit(format!("path {index}: {m}")),
        RunError::Invalid(m) => Stopped::Input(format!("path {index}: {m}")),
        RunError::Io(e) => Stopped::Input(format!("path {index}: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> PathModel {
        PathModel {
            paths: 10,
            seed: 5,
            rounds: 4,
            drift: -0.02,
            volatility: 0.05,
            correlation: 0.5,
            jump_probability: 0.1,
            jump_size: 0.2,
        }
    }

    #[test]
    fn a_path_depends_on_its_seed_and_index_only() {
        let m = model();
        assert_eq!(m.shocks(3, 3), m.shocks(3, 3));
        assert_ne!(m.shocks(3, 3), m.shocks(4, 3));
        assert_eq!(m.shocks(3, 3).len(), 4 * 2);
        let other = PathModel { seed: 6, ..m };
        assert_ne!(m.shocks(3, 3), other.shocks(3, 3));
    }

    #[test]
    fn draws_have_the_model_moments() {
        let m = PathModel {
            rounds: 20_000,
            jump_probability: 0.0,
            ..model()
        };
        let logs: Vec<f64> = m
            .shocks(0, 2)
            .iter()
            .map(|s| match s.kind {
                ShockKind::MovePrice(r) => r.to_f64().ln(),
                _ => f64::NAN,
            })
            .collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let sd = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
        assert!((mean + 0.02).abs() < 0.002, "mean {mean}");
        assert!((sd - 0.05).abs() < 0.002, "sd {sd}");
    }

    #[test]
    fn tail_statistics_by_hand() {
        let losses: Vec<f64> = (1..=100).map(f64::from).collect();
        let t = Tail::of(&losses);
        assert_eq!(t.var, [95.0, 99.0]);
        assert_eq!(t.expected_shortfall, [98.0, 100.0]);
        assert_eq!(t.mean, 50.5);
        assert_eq!(t.max, 100.0);
        assert_eq!(Tail::of(&[0.0, 0.0, 3.0, 0.0]).probability_of_loss, 0.25);
    }

    #[test]
    fn a_study_in_shards_is_the_study_in_one_run() {
        let mut s = crate::markets::default_lending();
        s.insurance_fund = firesale_core::Value::ZERO;
        let m = PathModel {
            paths: 7,
            jump_probability: 0.3,
            jump_size: 0.3,
            ..model()
        };
        let bar = ProgressBar::hidden();
        let whole = run(&s, &m, &bar, false).unwrap();
        let mut shards = run_range(&s, &m, 0..3, &bar, false).unwrap();
        shards.extend(run_range(&s, &m, 3..7, &bar, false).unwrap());
        let doc = |paths: &[PathOutcome]| document("x", &m, paths);
        assert_eq!(doc(&whole), doc(&shards));
        let losses: Vec<f64> = shards.iter().map(|p| p.bad_debt).collect();
        assert_eq!(doc(&whole)["bad_debt"], tail_document(&losses));
        assert!(
            whole.iter().any(|p| p.bad_debt > 0.0),
            "no path lost anything"
        );
        assert!(run_range(&s, &m, 5..8, &bar, false).is_err());
    }

    #[test]
    fn bad_parameters_name_their_flag() {
        let bad = PathModel {
            volatility: 2.0,
            ..model()
        };
        assert!(bad.validate().unwrap_err().contains("--volatility"));
    }
}

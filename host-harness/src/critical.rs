//! `firesale critical`: the value of one scenario key at which an outcome
//! first appears (bad debt, insurance exhausted, a broken market), found by
//! bisection to a tolerance.
//!
//! The kernel's outcome is not monotone in every key (a deeper pool can
//! move when liquidations happen; an integer count changes the generated
//! book), so a grid of values is run first, in parallel: if the outcome
//! changes more than once along it, the search says so and bisects the
//! first change met walking from the end without the outcome.

use crate::audit::Stopped;
use crate::bounds::Bounds;
use crate::run_report::{Ended, RunReport};
use crate::source::Source;
use crate::sweep::{self, Axis};
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::path::Path;
use std::str::FromStr;

/// Values run between the two ends before bisecting.
pub const INTERIOR: usize = 9;
/// Most bisection steps, whatever the tolerance.
pub const MAX_ITERATIONS: u32 = 64;

/// What is watched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Bad debt above the threshold (quote).
    BadDebt,
    /// Bad debt the insurance fund did not cover above the threshold.
    InsuranceExhausted,
    /// The run ended with a broken market.
    MarketBroken,
}

impl Metric {
    /// The names the command line takes.
    pub const NAMES: [&'static str; 3] = ["bad-debt", "insurance-exhausted", "market-broken"];

    /// The command line's name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::BadDebt => Self::NAMES[0],
            Metric::InsuranceExhausted => Self::NAMES[1],
            Metric::MarketBroken => Self::NAMES[2],
        }
    }

    /// What the measured number is, for a reader.
    pub fn measure_name(self) -> &'static str {
        match self {
            Metric::BadDebt => sweep::BAD_DEBT,
            Metric::InsuranceExhausted => "bad debt the insurance fund did not cover (quote)",
            Metric::MarketBroken => "market broken (1 yes, 0 no)",
        }
    }

    /// A sample's measure in a few words.
    fn show(self, measure: f64) -> String {
        match self {
            Metric::BadDebt => format!("bad debt {measure:.2}"),
            Metric::InsuranceExhausted => format!("uncovered bad debt {measure:.2}"),
            Metric::MarketBroken if measure > 0.0 => String::from("market broken"),
            Metric::MarketBroken => String::from("no market broken"),
        }
    }

    /// The number this metric reads from a run's report.
    pub fn measure(self, report: &RunReport) -> f64 {
        match self {
            Metric::BadDebt => report.bad_debt,
            // Written off less covered, per asset in its units, valued at
            // the final venue price.
            Metric::InsuranceExhausted => report
                .assets
                .iter()
                .map(|a| (a.written_off - a.covered) * a.final_price)
                .sum(),
            Metric::MarketBroken => match report.ended {
                Some(Ended::MarketBroken { .. }) => 1.0,
                _ => 0.0,
            },
        }
    }
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "bad-debt" => Ok(Metric::BadDebt),
            "insurance-exhausted" => Ok(Metric::InsuranceExhausted),
            "market-broken" => Ok(Metric::MarketBroken),
            other => Err(format!(
                "--metric {other}: no such metric ({})",
                Metric::NAMES.join(", ")
            )),
        }
    }
}

/// One search: a key between two values, the metric and its threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The key path, as `firesale sweep --vary` names it.
    pub key: String,
    /// The lower end.
    pub lo: f64,
    /// The upper end.
    pub hi: f64,
    /// The bracket's widest width at the end.
    pub tolerance: f64,
    /// What is watched for.
    pub metric: Metric,
    /// The metric has crossed when its measure is above this.
    pub threshold: f64,
}

impl Request {
    /// From the command line's `KEY=LO:HI`, `--tolerance`, `--metric` and
    /// `--threshold`; each bad value is named.
    pub fn new(
        range: &str,
        tolerance: f64,
        metric: &str,
        threshold: Option<f64>,
    ) -> Result<Request, String> {
        let usage = || {
            format!("--vary `{range}`: expected KEY=LO:HI, such as shocks[0].move_price=0.6:0.98")
        };
        let (key, ends) = range.split_once('=').ok_or_else(usage)?;
        let (lo, hi) = ends.split_once(':').ok_or_else(usage)?;
        let number = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("--vary `{range}`: `{s}` is not a finite number"))
        };
        let (key, lo, hi) = (key.trim(), number(lo)?, number(hi)?);
        if key.is_empty() {
            return Err(usage());
        }
        if lo >= hi {
            return Err(format!(
                "--vary `{range}`: LO must be below HI (give the range as LO:HI, e.g. 0.6:0.98)"
            ));
        }
        if !(hi - lo).is_finite() {
            return Err(format!(
                "--vary `{range}`: the range is wider than a float holds"
            ));
        }
        if sweep::is_integer(key) && lo.round() == hi.round() {
            return Err(format!(
                "--vary `{range}`: `{key}` is an integer and both ends round to {}",
                lo.round()
            ));
        }
        if !(tolerance.is_finite() && tolerance > 0.0) {
            return Err(format!(
                "--tolerance must be a positive number, not {tolerance}"
            ));
        }
        let metric: Metric = metric.parse()?;
        let threshold = match (metric, threshold) {
            (Metric::MarketBroken, Some(_)) => {
                return Err("--threshold does not apply to --metric market-broken".into())
            }
            (_, Some(t)) if !(t.is_finite() && t >= 0.0) => {
                return Err(format!(
                    "--threshold must be a number of at least 0, not {t}"
                ))
            }
            (_, t) => t.unwrap_or(0.0),
        };
        Ok(Request {
            key: key.to_string(),
            lo,
            hi,
            tolerance,
            metric,
            threshold,
        })
    }

    /// The values run first: both ends and [`INTERIOR`] evenly between,
    /// rounded and without repeats for an integer key.
    pub fn grid(&self) -> Vec<f64> {
        let steps = INTERIOR + 1;
        let mut values: Vec<f64> = (0..=steps)
            .map(|i| self.lo + (self.hi - self.lo) * (i as f64 / steps as f64))
            .map(|v| self.effective(v))
            .collect();
        values.dedup();
        values
    }

    /// The value the scenario gets when `value` is asked for.
    fn effective(&self, value: f64) -> f64 {
        match sweep::is_integer(&self.key) {
            true => value.round(),
            false => value,
        }
    }

    /// A value strictly between `a` and `b`, if one is left to try.
    fn between(&self, a: f64, b: f64) -> Option<f64> {
        let mid = self.effective(a + (b - a) / 2.0);
        let (low, high) = (a.min(b), a.max(b));
        (mid > low && mid < high).then_some(mid)
    }
}

/// One value's run.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The value the key was set to.
    pub value: f64,
    /// The metric's measure there.
    pub measure: f64,
    /// Whether the measure is above the threshold.
    pub crossed: bool,
    /// How the run ended.
    pub termination: &'static str,
}

/// A finished search.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// What was asked.
    pub request: Request,
    /// The grid's runs, in order of value.
    pub grid: Vec<Sample>,
    /// Times the metric changes side between neighbours on the grid.
    pub crossings: usize,
    /// The bracket's end where the metric has not crossed.
    pub clear: Sample,
    /// The bracket's end where it has.
    pub crossed: Sample,
    /// Bisection steps run.
    pub iterations: u32,
}

impl Search {
    /// Runs made in all.
    pub fn runs(&self) -> usize {
        self.grid.len() + self.iterations as usize
    }

    /// The bracket's width.
    pub fn width(&self) -> f64 {
        (self.crossed.value - self.clear.value).abs()
    }

    /// Whether the bracket is within the tolerance (an integer key, or a
    /// float with no value left between the ends, can stop short of it).
    pub fn resolved(&self) -> bool {
        self.width() <= self.request.tolerance
    }

    /// The bracket's lower and upper ends.
    pub fn bracket(&self) -> [&Sample; 2] {
        match self.clear.value < self.crossed.value {
            true => [&self.clear, &self.crossed],
            false => [&self.crossed, &self.clear],
        }
    }

    /// Whether the grid crossed once: what monotonicity would give (it
    /// does not prove it between grid values).
    pub fn monotone_on_grid(&self) -> bool {
        self.crossings == 1
    }

    /// The warning to print when monotonicity does not hold.
    pub fn warning(&self) -> Option<String> {
        (!self.monotone_on_grid()).then(|| {
            format!(
                "{} crosses {} times over {} values of {}: monotonicity does not hold here; the first crossing from the {} end was bisected",
                self.request.metric.name(),
                self.crossings,
                self.grid.len(),
                self.request.key,
                match self.clear.value < self.crossed.value {
                    true => "lower",
                    false => "upper",
                }
            )
        })
    }
}

/// Bisects `request`, running a value through `evaluate`: the grid first,
/// in parallel on the current rayon pool, then one value a step. Ends on
/// the same side of the threshold stop it with a message saying so.
pub fn search(
    request: &Request,
    evaluate: impl Fn(f64) -> Result<Sample, Stopped> + Sync,
    progress: &ProgressBar,
) -> Result<Search, Stopped> {
    let values = request.grid();
    progress.set_length(values.len() as u64);
    let grid: Vec<Sample> = values
        .par_iter()
        .map(|&v| {
            let sample = evaluate(v);
            progress.inc(1);
            sample
        })
        .collect::<Result<_, _>>()?;
    let changes: Vec<usize> = (1..grid.len())
        .filter(|&i| grid[i - 1].crossed != grid[i].crossed)
        .collect();
    let (Some(first), Some(last)) = (grid.first(), grid.last()) else {
        return Err(Stopped::Input("no values to search".into()));
    };
    if first.crossed == last.crossed {
        return Err(Stopped::Input(not_straddled(
            request,
            first,
            last,
            changes.len(),
        )));
    }
    // Walk from the end without the outcome to the first change.
    let at = match first.crossed {
        false => changes.first(),
        true => changes.last(),
    };
    let (mut clear, mut crossed) = match at {
        Some(&i) if !grid[i - 1].crossed => (grid[i - 1].clone(), grid[i].clone()),
        Some(&i) => (grid[i].clone(), grid[i - 1].clone()),
        None => return Err(Stopped::Input("no change of side on the grid".into())),
    };
    let planned = planned_steps((crossed.value - clear.value).abs(), request.tolerance);
    progress.set_length((grid.len() as u64).saturating_add(u64::from(planned)));
    let mut iterations = 0;
    while iterations < planned && (crossed.value - clear.value).abs() > request.tolerance {
        let Some(mid) = request.between(clear.value, crossed.value) else {
            break;
        };
        let sample = evaluate(mid)?;
        iterations += 1;
        progress.inc(1);
        match sample.crossed {
            true => crossed = sample,
            false => clear = sample,
        }
    }
    progress.finish_and_clear();
    Ok(Search {
        request: request.clone(),
        crossings: changes.len(),
        grid,
        clear,
        crossed,
        iterations,
    })
}

/// Halvings that take `width` to `tolerance`, at most [`MAX_ITERATIONS`].
fn planned_steps(width: f64, tolerance: f64) -> u32 {
    let steps = (width / tolerance).log2().ceil();
    match steps.is_finite() && steps > 0.0 {
        true => (steps as u32).min(MAX_ITERATIONS),
        false => 0,
    }
}

fn not_straddled(request: &Request, lo: &Sample, hi: &Sample, changes: usize) -> String {
    let (measure, threshold) = (request.metric.measure_name(), request.threshold);
    let side = match (request.metric, lo.crossed) {
        (Metric::MarketBroken, true) => String::from("a market breaks at both ends"),
        (Metric::MarketBroken, false) => String::from("no market breaks at either end"),
        (_, true) => format!("{measure} is above {threshold} at both ends"),
        (_, false) => format!("{measure} is not above {threshold} at either end"),
    };
    let inside = match changes {
        0 => String::from("; widen the range"),
        n => format!(
            "; it changes side {n} times between them (not monotone here): narrow the range to one crossing"
        ),
    };
    format!(
        "--vary {}={}:{} does not straddle a crossing: {side} ({} at {}, {} at {}){inside}",
        request.key, lo.value, hi.value, lo.measure, lo.value, hi.measure, hi.value
    )
}

/// Runs `request` over the scenario `source` (validated by the caller
/// within `bounds`): each value is the file with the key set, as a sweep
/// point is ([`sweep::scenario_at`]). An unknown or non-numeric key is
/// refused before anything runs.
pub fn run_source(
    source: &Source,
    request: &Request,
    bounds: &Bounds,
    progress: &ProgressBar,
) -> Result<Search, Stopped> {
    let base: toml::Table = toml::from_str(&source.text)
        .map_err(|e| Stopped::Input(format!("{}: {}", source.label, e.message())))?;
    let axis = Axis {
        key: request.key.clone(),
        values: vec![request.lo],
    };
    sweep::check_axes(&base, &[axis]).map_err(|e| Stopped::Input(format!("--vary {e}")))?;
    let dir = source.dir.as_deref();
    search(
        request,
        |value| evaluate(&base, dir, request, value, bounds, source.text.len()),
        progress,
    )
}

fn evaluate(
    base: &toml::Table,
    dir: Option<&Path>,
    request: &Request,
    value: f64,
    bounds: &Bounds,
    source_bytes: usize,
) -> Result<Sample, Stopped> {
    let key = request.key.as_str();
    let scenario = sweep::scenario_at(base, (dir, None), &[key], &[value], bounds, source_bytes)?;
    let report = crate::observe::report_only(&scenario, false).map_err(|e| {
        Stopped::Input(format!(
            "at {}: {}",
            sweep::point_name(&[key], &[value]),
            e.describe()
        ))
    })?;
    let measure = request.metric.measure(&report);
    Ok(Sample {
        value,
        measure,
        crossed: measure > request.threshold,
        termination: crate::event_json::termination_name(report.ended.as_ref()),
    })
}

fn sample_document(s: &Sample) -> serde_json::Value {
    serde_json::json!({
        "value": s.value, "metric": s.measure, "crossed": s.crossed,
        "termination": s.termination,
    })
}

/// The search as `firesale critical --json` writes it (docs/report.md).
pub fn document(label: &str, s: &Search) -> serde_json::Value {
    let r = &s.request;
    let [lo, hi] = s.bracket();
    serde_json::json!({
        "scenario": label,
        "key": r.key,
        "from": r.lo,
        "to": r.hi,
        "tolerance": r.tolerance,
        "metric": r.metric.name(),
        "measure": r.metric.measure_name(),
        "threshold": r.threshold,
        "integer": sweep::is_integer(&r.key),
        "grid": s.grid.iter().map(sample_document).collect::<Vec<_>>(),
        "crossings": s.crossings,
        "monotone_on_grid": s.monotone_on_grid(),
        "bracket": {
            "lo": sample_document(lo),
            "hi": sample_document(hi),
            "width": s.width(),
            "within_tolerance": s.resolved(),
        },
        "iterations": s.iterations,
        "runs": s.runs(),
    })
}

/// The search for a reader: the bracket, the metric on both sides, whether
/// the grid crossed once, and the runs made.
pub fn summary(label: &str, s: &Search) -> String {
    let r = &s.request;
    // Enough digits to tell the bracket's ends apart at the tolerance.
    let digits = match sweep::is_integer(&r.key) {
        true => 0,
        false => (-r.tolerance.log10()).ceil().clamp(0.0, 15.0) as usize + 1,
    };
    let show = |v: f64| format!("{v:.digits$}");
    let [lo, hi] = s.bracket();
    let side = |x: &Sample| match x.crossed {
        true => "crossed",
        false => "not crossed",
    };
    let grid = match s.crossings {
        1 => format!(
            "{} values: crosses once (as a monotone outcome would; not proven between values)",
            s.grid.len()
        ),
        n => format!(
            "{} values: crosses {n} times: monotonicity does not hold here; the first crossing from the end without it was bisected",
            s.grid.len()
        ),
    };
    let mut lines = vec![
        format!("{:<20}{label}", "scenario"),
        format!(
            "{:<20}{} from {} to {}, tolerance {}",
            "searched", r.key, r.lo, r.hi, r.tolerance
        ),
        format!(
            "{:<20}{}",
            "metric",
            match r.metric {
                Metric::MarketBroken => String::from("a market breaks"),
                m => format!("{} above {}", m.measure_name(), r.threshold),
            }
        ),
        format!("{:<20}{grid}", "grid"),
        format!(
            "{:<20}{} in [{}, {}] (width {})",
            "critical",
            r.key,
            show(lo.value),
            show(hi.value),
            show(s.width())
        ),
    ];
    for x in [lo, hi] {
        lines.push(format!(
            "  {:<18}{}: {} ({})",
            format!("at {}", show(x.value)),
            r.metric.show(x.measure),
            side(x),
            x.termination
        ));
    }
    if !s.resolved() {
        lines.push(format!(
            "{:<20}the tolerance {} was not reached: no value is left between the ends{}",
            "note",
            r.tolerance,
            match sweep::is_integer(&r.key) {
                true => " (the key is an integer)",
                false => "",
            }
        ));
    }
    lines.push(format!(
        "{:<20}{} ({} on the grid, {} bisecting)",
        "runs",
        s.runs(),
        s.grid.len(),
        s.iterations
    ));
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(range: &str, tolerance: f64) -> Request {
        Request::new(range, tolerance, "bad-debt", None).unwrap()
    }

    /// A synthetic outcome: crossed where `crossed(x)`.
    fn sample(x: f64, crossed: bool) -> Result<Sample, Stopped> {
        Ok(Sample {
            value: x,
            measure: if crossed { 1.0 } else { 0.0 },
            crossed,
            termination: "fixed-point",
        })
    }

    fn hidden() -> ProgressBar {
        ProgressBar::hidden()
    }

    #[test]
    fn a_monotone_outcome_is_bracketed_within_the_tolerance() {
        let r = request("x=0:10", 1e-3);
        let s = search(&r, |x| sample(x, x > 3.7), &hidden()).unwrap();
        let [lo, hi] = s.bracket();
        assert!(lo.value <= 3.7 && hi.value > 3.7, "{lo:?} {hi:?}");
        assert!(s.width() <= 1e-3 && s.resolved());
        assert!(s.monotone_on_grid() && s.warning().is_none());
        assert_eq!(s.grid.len(), 11);
        assert_eq!(s.runs(), 11 + s.iterations as usize);
        // A falling outcome (crossed at the lower end) is bracketed too.
        let s = search(&r, |x| sample(x, x < 6.25), &hidden()).unwrap();
        assert!(s.crossed.value < 6.25 && s.clear.value >= 6.25);
        assert!(s.width() <= 1e-3);
    }

    #[test]
    fn the_first_crossing_from_the_clear_end_is_bisected_with_a_warning() {
        let r = request("x=0:10", 1e-2);
        // Crossed on (2.5, 4.5) and from 7.5: three changes on the grid.
        let s = search(
            &r,
            |x| sample(x, (x > 2.5 && x < 4.5) || x > 7.5),
            &hidden(),
        )
        .unwrap();
        assert_eq!(s.crossings, 3);
        assert!(!s.monotone_on_grid());
        assert!((s.crossed.value - 2.5).abs() <= 1e-2, "{s:?}");
        assert!(s.warning().unwrap().contains("monotonicity does not hold"));
    }

    #[test]
    fn ends_on_one_side_are_refused_with_both_measures() {
        let r = request("x=0:10", 1e-2);
        let e = search(&r, |x| sample(x, false), &hidden()).unwrap_err();
        let Stopped::Input(m) = e else {
            panic!("{e:?}")
        };
        assert!(
            m.contains("does not straddle") && m.contains("widen"),
            "{m}"
        );
        let e = search(&r, |x| sample(x, x > 3.0 && x < 6.0), &hidden()).unwrap_err();
        assert!(format!("{e:?}").contains("changes side 2 times"), "{e:?}");
    }

    #[test]
    fn iterations_are_bounded_and_integers_stop_at_neighbours() {
        assert_eq!(planned_steps(1.0, 1e-300), MAX_ITERATIONS);
        assert_eq!(planned_steps(1.0, 0.25), 2);
        assert_eq!(planned_steps(0.1, 1.0), 0);
        let r = request("accounts.population.count=10:1000", 1e-6);
        let s = search(&r, |x| sample(x, x >= 437.0), &hidden()).unwrap();
        assert_eq!((s.clear.value, s.crossed.value), (436.0, 437.0));
        assert!(!s.resolved());
        assert!(summary("t", &s).contains("the key is an integer"));
    }

    #[test]
    fn bad_requests_name_the_problem() {
        let bad = |range: &str, tolerance: f64, metric: &str, threshold: Option<f64>| {
            Request::new(range, tolerance, metric, threshold).unwrap_err()
        };
        assert!(bad("x=1:0.5", 1e-3, "bad-debt", None).contains("LO must be below HI"));
        assert!(bad("x=1:1", 1e-3, "bad-debt", None).contains("LO must be below HI"));
        assert!(bad("x=a:2", 1e-3, "bad-debt", None).contains("`a` is not a finite number"));
        assert!(bad("x=1", 1e-3, "bad-debt", None).contains("KEY=LO:HI"));
        assert!(bad("x=0:1", 0.0, "bad-debt", None).contains("--tolerance"));
        assert!(bad("x=0:1", f64::NAN, "bad-debt", None).contains("--tolerance"));
        assert!(bad("x=0:1", 0.1, "ruin", None).contains("no such metric"));
        assert!(bad("x=0:1", 0.1, "market-broken", Some(1.0)).contains("does not apply"));
        assert!(bad("x=0:1", 0.1, "bad-debt", Some(-1.0)).contains("--threshold"));
        assert!(bad("count=1.1:1.2", 0.1, "bad-debt", None).contains("integer"));
        assert!(bad("x=-1e308:1e308", 0.1, "bad-debt", None).contains("wider"));
    }
}

//! A run watched round by round, on the engine of issue 21 (`next/`,
//! through [`crate::next_bridge`]): the report, the per-round timeline,
//! the event log as JSON lines, and the shock-only baseline that
//! amplification divides by.

use crate::next_bridge::NextRun;
use crate::next_observe::{observe_next, NextObserved};
use crate::run_report::{Ended, RunReport};
use crate::scenario::Scenario;
use firesale_next::engine::Event;
use std::io::Write;

/// One asset in one round.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AssetRound {
    /// Venue price once the round's shocks were applied.
    pub open: f64,
    /// Venue price at the round's end.
    pub close: f64,
    /// Oracle price the round's health checks used.
    pub oracle: f64,
    /// Collateral of this asset seized and sold, in its units.
    pub sold: f64,
    /// Liability of this asset bought back, in its units.
    pub bought: f64,
    /// Quote received for what was sold plus paid for what was bought back.
    pub volume_quote: f64,
}

/// One round of the timeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundRow {
    /// The round (from 1).
    pub round: u32,
    /// Per asset, the quote included (its prices are 1).
    pub assets: Vec<AssetRound>,
    /// Pair steps in the round.
    pub liquidations: u32,
    /// Bankruptcies in the round.
    pub bankruptcies: u32,
    /// Bad debt so far, in quote.
    pub bad_debt: f64,
    /// The insurance fund at the round's end.
    pub insurance_fund: f64,
    /// Loss socialized so far, in quote.
    pub socialized: f64,
    /// Accounts the backstop vault took over in the round.
    pub backstopped: u32,
    /// Equity the backstop vault has absorbed so far, in quote.
    pub backstop_equity: f64,
}

/// A watched run.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The run's report.
    pub report: RunReport,
    /// The final state digest.
    pub digest: u64,
    /// One row per round.
    pub timeline: Vec<RoundRow>,
    /// The report of the same shocks on the same market with no accounts.
    pub shock_only: RunReport,
}

/// Why a watched run could not be made.
#[derive(Debug)]
pub enum RunError {
    /// The engine refused the scenario: why, in words.
    Invalid(String),
    /// The event log could not be written.
    Io(std::io::Error),
    /// `--audit` found a book that does not balance: where, in words.
    Audit(String),
}

impl RunError {
    /// The error in words.
    pub fn describe(&self) -> String {
        match self {
            RunError::Invalid(m) | RunError::Audit(m) => m.clone(),
            RunError::Io(e) => e.to_string(),
        }
    }
}

/// Runs `scenario` one unit at a time, building the timeline, and writes
/// the events to `log` if one is given.
pub fn observe(scenario: &Scenario, log: Option<&mut dyn Write>) -> Result<Observed, RunError> {
    observe_with(scenario, log, false)
}

/// [`observe`], with the conservation audit after every unit that moved
/// anything when `audit` is set (`--audit`, see [`crate::audit`]); the
/// shock-only baseline is audited too.
pub fn observe_with(
    scenario: &Scenario,
    log: Option<&mut dyn Write>,
    audit: bool,
) -> Result<Observed, RunError> {
    watch(scenario, log, audit, None)
}

/// [`observe_with`], showing on `progress` the rounds done (its position)
/// and the liquidations so far (its message) as the run goes.
pub fn observe_shown(
    scenario: &Scenario,
    log: Option<&mut dyn Write>,
    audit: bool,
    progress: &indicatif::ProgressBar,
) -> Result<Observed, RunError> {
    watch(scenario, log, audit, Some(progress))
}

fn watch(
    scenario: &Scenario,
    mut log: Option<&mut dyn Write>,
    audit: bool,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Observed, RunError> {
    let shock_only = report_only(&scenario.without_accounts(), audit)?;
    let mut run = bridged(scenario)?;
    let mut log_error = None;
    let mut liquidations = 0u64;
    let mut sink = |event: &Event| {
        if let (Some(log), None) = (log.as_mut(), &log_error) {
            let line = crate::event_json::event(event);
            if let Err(e) = writeln!(log, "{line}") {
                log_error = Some(e);
            }
        }
        match *event {
            Event::Liquidated { steps, .. } => liquidations += u64::from(steps),
            Event::RoundEnded { round, .. } => {
                if let Some(bar) = progress {
                    bar.set_position(u64::from(round));
                    bar.set_message(format!("run: {liquidations} liquidations"));
                }
            }
            _ => {}
        }
    };
    let watched = watched(scenario, &mut run, (audit, true), &mut sink)?;
    if let Some(e) = log_error {
        return Err(RunError::Io(e));
    }
    Ok(Observed {
        report: watched.report,
        digest: watched.digest,
        timeline: watched.timeline,
        shock_only,
    })
}

/// `scenario` as the engine runs it.
fn bridged(scenario: &Scenario) -> Result<NextRun, RunError> {
    NextRun::from_scenario(scenario).map_err(|e| RunError::Invalid(e.to_string()))
}

/// Runs `run` to its end (audited, with a timeline, as `flags` say),
/// handing each event to `sink`.
fn watched(
    scenario: &Scenario,
    run: &mut NextRun,
    flags: (bool, bool),
    sink: &mut dyn FnMut(&Event),
) -> Result<NextObserved, RunError> {
    observe_next(run, flags, sink)
        .map_err(|e| RunError::Invalid(e.to_string()))?
        .map_err(|f| RunError::Audit(f.report(&scenario.asset_names)))
}

/// Runs `scenario` to its end (audited after every unit that moved
/// anything when `audit` is set) and reports it, without a baseline.
pub fn report_only(scenario: &Scenario, audit: bool) -> Result<RunReport, RunError> {
    let mut run = bridged(scenario)?;
    Ok(watched(scenario, &mut run, (audit, false), &mut |_| {})?.report)
}

/// The largest relative price move of each asset in a report: the fall to
/// the minimum or the rise to the maximum, whichever is larger.
pub fn largest_moves(report: &RunReport) -> Vec<f64> {
    report
        .assets
        .iter()
        .map(|a| {
            let initial = a.initial_price;
            let fall = initial - a.min_price;
            let rise = a.max_price - initial;
            fall.max(rise) / initial
        })
        .collect()
}

/// Amplification per asset: the run's largest move divided by the move the
/// shocks alone caused; `None` where the shocks alone moved nothing.
pub fn amplification(observed: &Observed) -> Vec<Option<f64>> {
    let run = largest_moves(&observed.report);
    let alone = largest_moves(&observed.shock_only);
    run.iter()
        .zip(alone)
        .map(|(&moved, baseline)| (baseline > 1e-12).then(|| moved / baseline))
        .collect()
}

/// The headline amplification: that of the asset the shocks moved most.
pub fn headline_amplification(observed: &Observed) -> Option<f64> {
    let alone = largest_moves(&observed.shock_only);
    let shocked = alone
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)?;
    amplification(observed).get(shocked).copied().flatten()
}

/// The headline figures of a run, without its timeline: what a sweep keeps
/// per grid point and Monte Carlo per path.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Bad debt, in quote.
    pub bad_debt: f64,
    /// Headline amplification, if the shocks alone moved a price.
    pub amplification: Option<f64>,
    /// Liquidation pair steps.
    pub liquidations: u64,
    /// Rounds run.
    pub rounds: u32,
    /// Why the run ended.
    pub termination: &'static str,
    /// The state digest.
    pub digest: u64,
}

/// Runs `scenario` and its shock-only baseline and keeps the figures;
/// `audit`: with the conservation audit (`--audit`).
pub fn figures(scenario: &Scenario, audit: bool) -> Result<Figures, RunError> {
    let mut run = bridged(scenario)?;
    let watched = watched(scenario, &mut run, (audit, false), &mut |_| {})?;
    let observed = Observed {
        report: watched.report,
        digest: watched.digest,
        timeline: Vec::new(),
        shock_only: report_only(&scenario.without_accounts(), audit)?,
    };
    let r = &observed.report;
    Ok(Figures {
        bad_debt: r.bad_debt,
        amplification: headline_amplification(&observed),
        liquidations: r.liquidations,
        rounds: r.rounds,
        termination: r.ended.as_ref().map_or("running", Ended::name),
        digest: observed.digest,
    })
}

//! A run watched round by round: the per-round timeline, the event log as
//! JSON lines, and the shock-only baseline that amplification divides by.

use crate::audit::{step_audited, AuditFailure};
use crate::run::{by_capacity, engine_sized, run_scenario, widen, Buffers, Outcome};
use crate::run_report::{from_kernel, Ended, RunReport};
use crate::scenario::Scenario;
use firesale_core::{Engine, Error, Event, EventSink, StepOutcome};
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

/// Buffers one step's events and writes each as a JSON line.
struct Recorder<'w> {
    pending: Vec<Event>,
    log: Option<&'w mut dyn Write>,
    log_error: Option<std::io::Error>,
}

impl EventSink for Recorder<'_> {
    fn emit(&mut self, event: &Event) {
        self.pending.push(*event);
        if let (Some(log), None) = (self.log.as_mut(), &self.log_error) {
            let line = crate::event_json::event(event).to_string();
            if let Err(e) = writeln!(log, "{line}") {
                self.log_error = Some(e);
            }
        }
    }
}

/// Runs `scenario` one unit at a time, building the timeline, and writes
/// the events to `log` if one is given. The engine is sized to the
/// scenario's assets, as in [`run_scenario`].
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
    by_capacity!(
        scenario.assets.len(),
        observe_sized(scenario, log, audit, None)
    )
}

/// [`observe_with`], showing on `progress` the rounds done (its position)
/// and the liquidations so far (its message) as the run goes.
pub fn observe_shown(
    scenario: &Scenario,
    log: Option<&mut dyn Write>,
    audit: bool,
    progress: &indicatif::ProgressBar,
) -> Result<Observed, RunError> {
    by_capacity!(
        scenario.assets.len(),
        observe_sized(scenario, log, audit, Some(progress))
    )
}

fn observe_sized<const A: usize>(
    scenario: &Scenario,
    log: Option<&mut dyn Write>,
    audit: bool,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Observed, RunError> {
    let shock_only = reported(scenario, &run_with(&scenario.without_accounts(), audit)?);
    let mut buffers = Buffers::new(scenario);
    let mut engine = engine_sized::<A>(scenario, &mut buffers).map_err(RunError::Invalid)?;
    let mut recorder = Recorder {
        pending: Vec::new(),
        log,
        log_error: None,
    };
    let mut timeline: Vec<RoundRow> = Vec::new();
    let check = |e: &Engine<'_, A>| match audit {
        true => e.audit().map_err(|error| {
            RunError::Audit(AuditFailure {
                round: e.round(),
                error,
            })
        }),
        false => Ok(()),
    };
    check(&engine)?;
    let termination = loop {
        let outcome = engine.step(1, &mut recorder);
        // Every unit that can move a book emits an event.
        if !recorder.pending.is_empty() || matches!(outcome, StepOutcome::Done(_)) {
            check(&engine)?;
        }
        for event in recorder.pending.drain(..) {
            record(&engine, &event, &mut timeline);
            if let (Some(bar), Event::RoundEnded { round, .. }) = (progress, &event) {
                bar.set_position(u64::from(*round));
                bar.set_message(format!(
                    "run: {} liquidations",
                    engine.report().liquidations
                ));
            }
        }
        if let Some(e) = recorder.log_error.take() {
            return Err(RunError::Io(e));
        }
        if let StepOutcome::Done(t) = outcome {
            break t;
        }
    };
    let mut report = widen(engine.report());
    report.termination = Some(termination);
    Ok(Observed {
        report: from_kernel(&report, &scenario.asset_names),
        digest: engine.digest(),
        timeline,
        shock_only,
    })
}

/// Why a watched run could not be made.
#[derive(Debug)]
pub enum RunError {
    /// The kernel refused the scenario.
    Invalid(Error),
    /// The event log could not be written.
    Io(std::io::Error),
    /// `--audit` found a book that does not balance.
    Audit(AuditFailure),
}

impl RunError {
    /// The error in words, naming `scenario`'s assets.
    pub fn describe(&self, scenario: &Scenario) -> String {
        match self {
            RunError::Invalid(e) => crate::preflight::describe_named(e, &scenario.asset_names),
            RunError::Io(e) => e.to_string(),
            RunError::Audit(f) => f.message(|a| scenario.asset_name(a).to_string()),
        }
    }
}

/// Runs `scenario` to the end, audited after every unit that moved
/// anything when `audit` is set.
fn run_with(scenario: &Scenario, audit: bool) -> Result<Outcome, RunError> {
    match audit {
        false => run_scenario(scenario, &mut ()).map_err(RunError::Invalid),
        true => by_capacity!(scenario.assets.len(), run_audited(scenario)),
    }
}

fn run_audited<const A: usize>(scenario: &Scenario) -> Result<Outcome, RunError> {
    let mut buffers = Buffers::new(scenario);
    let mut engine = engine_sized::<A>(scenario, &mut buffers).map_err(RunError::Invalid)?;
    let termination = step_audited(&mut engine, &mut ()).map_err(RunError::Audit)?;
    Ok(Outcome {
        report: widen(engine.report()),
        termination,
        digest: engine.digest(),
    })
}

fn venue_price<const A: usize>(engine: &Engine<'_, A>, asset: usize) -> f64 {
    engine
        .venue(asset)
        .and_then(|v| v.price().ok())
        .map_or(f64::NAN, |p| p.to_f64())
}

fn record<const A: usize>(engine: &Engine<'_, A>, event: &Event, timeline: &mut Vec<RoundRow>) {
    match *event {
        Event::RoundStarted { round } => {
            let assets = (0..engine.asset_count())
                .map(|a| AssetRound {
                    open: venue_price(engine, a),
                    oracle: engine.oracle_price(a).map_or(f64::NAN, |p| p.to_f64()),
                    ..AssetRound::default()
                })
                .collect();
            timeline.push(RoundRow {
                round,
                assets,
                ..RoundRow::default()
            });
        }
        Event::Liquidation {
            liability,
            collateral,
            repaid,
            seized,
            proceeds,
            cost,
            ..
        } => {
            if let Some(row) = timeline.last_mut() {
                row.liquidations += 1;
                // The quote is not traded: repaying it is a transfer.
                if let Some(a) = row
                    .assets
                    .get_mut(usize::from(collateral))
                    .filter(|_| collateral != 0)
                {
                    a.sold += seized.to_f64();
                    a.volume_quote += proceeds.to_f64();
                }
                if let Some(a) = row
                    .assets
                    .get_mut(usize::from(liability))
                    .filter(|_| liability != 0)
                {
                    a.bought += repaid.to_f64();
                    a.volume_quote += cost.to_f64();
                }
            }
        }
        Event::AuctionStarted { .. } => {
            if let Some(row) = timeline.last_mut() {
                row.liquidations += 1;
            }
        }
        Event::AuctionTaken {
            asset, qty, paid, ..
        } => {
            if let Some(a) = timeline
                .last_mut()
                .and_then(|row| row.assets.get_mut(usize::from(asset)))
            {
                a.sold += qty.to_f64();
                a.volume_quote += paid.to_f64();
            }
        }
        Event::Bankruptcy { .. } => {
            if let Some(row) = timeline.last_mut() {
                row.bankruptcies += 1;
            }
        }
        Event::BackstopTakeover { .. } => {
            if let Some(row) = timeline.last_mut() {
                row.backstopped += 1;
            }
        }
        Event::RoundEnded { .. } | Event::Finished { .. } => {
            if let Some(row) = timeline.last_mut() {
                for (a, cell) in row.assets.iter_mut().enumerate() {
                    cell.close = venue_price(engine, a);
                }
                let report = engine.report();
                row.bad_debt = report.bad_debt.to_f64();
                row.socialized = report.socialized.to_f64();
                row.backstop_equity = report.backstop_equity.to_f64();
                row.insurance_fund = engine.insurance_fund().to_f64();
            }
        }
        Event::ShockApplied { .. }
        | Event::RolledBack { .. }
        | Event::BreakerTripped { .. }
        | Event::Deleveraged { .. }
        | Event::AuctionReset { .. }
        | Event::Cleared { .. }
        | Event::AuctionEnded { .. } => {}
    }
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

/// A kernel run's outcome in the harness's units.
fn reported(scenario: &Scenario, outcome: &Outcome) -> RunReport {
    let mut report = outcome.report;
    report.termination = Some(outcome.termination);
    from_kernel(&report, &scenario.asset_names)
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

/// Runs `scenario` to its end (audited after every unit that moved
/// anything when `audit` is set) and reports it, without a timeline or a
/// baseline.
pub fn report_only(scenario: &Scenario, audit: bool) -> Result<RunReport, RunError> {
    Ok(reported(scenario, &run_with(scenario, audit)?))
}

/// Runs `scenario` and its shock-only baseline and keeps the figures;
/// `audit`: with the conservation audit (`--audit`).
pub fn figures(scenario: &Scenario, audit: bool) -> Result<Figures, RunError> {
    let outcome = run_with(scenario, audit)?;
    let shock_only = reported(scenario, &run_with(&scenario.without_accounts(), audit)?);
    let observed = Observed {
        report: reported(scenario, &outcome),
        digest: outcome.digest,
        timeline: Vec::new(),
        shock_only,
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

//! The subcommands' bodies: resolve the scenario, run, print, write.

use clap::ValueEnum;
use firesale_harness::artefacts::{self, create_dir};
use firesale_harness::audit::Stopped;
use firesale_harness::bounds::{Bounds, MAX_THREADS, RESULT_BYTES};
use firesale_harness::compare::Compared;
use firesale_harness::critical;
use firesale_harness::montecarlo::{self, PathModel, Tail, LEVELS};
use firesale_harness::observe::{observe_shown, RunError};
use firesale_harness::plot::{self, Grid, Marker};
use firesale_harness::source::Source;
use firesale_harness::sweep::{self, Axis, Sweep};
use firesale_harness::{bundled, json, presets, progress, summary::summary, Scenario};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// Why a command failed, and so its exit code.
pub enum Failure {
    /// Bad input: a scenario, a flag, a value (exit code 2).
    Input(String),
    /// An output could not be written (exit code 1).
    Output(String),
    /// `--audit` found a book that does not balance (exit code 3).
    Audit(String),
}

impl From<Stopped> for Failure {
    fn from(stopped: Stopped) -> Self {
        match stopped {
            Stopped::Input(m) => Failure::Input(m),
            Stopped::Audit(m) => Failure::Audit(m),
        }
    }
}

impl Failure {
    /// Prints the message and gives the exit code.
    pub fn report(self) -> ExitCode {
        let (message, code) = match self {
            Failure::Input(m) => (m, 2),
            Failure::Output(m) => (m, 1),
            Failure::Audit(m) => (m, 3),
        };
        eprintln!("error: {message}");
        ExitCode::from(code)
    }
}

type Outcome = Result<(), Failure>;

/// Writes to standard output. A reader that went away (`firesale run |
/// head`) ends the program quietly instead of a panic.
fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// `println!` through [`emit`].
macro_rules! say {
    ($($arg:tt)*) => {
        emit(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// A file if one is there, else a bundled scenario of that name (the
/// default without an argument).
fn source(arg: Option<&str>) -> Result<Source, Failure> {
    Source::file_or_bundled(arg.unwrap_or(bundled::DEFAULT)).map_err(Failure::Input)
}

/// Parses and validates `source` within `bounds`, the error naming it.
fn scenario_of(source: &Source, bounds: &Bounds) -> Result<Scenario, Failure> {
    source
        .scenario(bounds)
        .map_err(|e| Failure::Input(format!("{}: {e}", source.label)))
}

use firesale_harness::bounds::at_once;
pub use firesale_harness::bounds::Budget;

/// Refuses results that alone would take more than half the budget: `what`
/// names the flag that asks for them.
fn reserve(what: &str, bytes: u64, budget: &Budget) -> Result<(), Failure> {
    budget
        .reserve(what, bytes)
        .map_err(|e| Failure::Input(format!("{e} (--max-memory raises it)")))
}

fn print_json(value: &serde_json::Value) {
    say!("{value:#}");
}

fn preset(name: &str) -> Result<presets::Preset, Failure> {
    presets::find(name).ok_or_else(|| {
        Failure::Input(format!(
            "--preset {name}: no such preset ({})",
            presets::names()
        ))
    })
}

/// `firesale run`.
pub fn run(
    arg: Option<&str>,
    preset_name: Option<&str>,
    as_json: bool,
    out: Option<&Path>,
    audit: bool,
    budget: &Budget,
) -> Outcome {
    let chosen = preset_name.map(preset).transpose()?;
    let mut scenario = scenario_of(&source(arg)?, &budget.bounds(true, 0, 1))?;
    if let Some(p) = chosen {
        scenario = p.apply(&scenario);
    }
    let invalid = |e: &str| {
        let under = preset_name.map_or(String::new(), |p| format!(" under --preset {p}"));
        Failure::Input(format!("the scenario is invalid{under}: {e}"))
    };
    // Rounds and liquidations as the run goes, on a terminal only.
    let bar = progress::bar(u64::from(scenario.max_rounds), "run");
    let observed = match out {
        Some(dir) => artefacts::run_into(&scenario, dir, audit, &bar).map_err(|e| match e {
            artefacts::RunIntoError::Invalid(e) => invalid(&e),
            artefacts::RunIntoError::Output(m) => Failure::Output(m),
            artefacts::RunIntoError::Audit(m) => Failure::Audit(m),
        })?,
        None => observe_shown(&scenario, None, audit, &bar).map_err(|e| match e {
            RunError::Invalid(e) => invalid(&e),
            RunError::Io(e) => Failure::Output(e.to_string()),
            RunError::Audit(m) => Failure::Audit(m),
        })?,
    };
    bar.finish_and_clear();
    if as_json {
        print_json(&json::report(&scenario, &observed));
    } else {
        emit(&summary(&scenario, &observed));
        if let Some(dir) = out {
            say!(
                "{:<20}report.json, timeline.csv, events.jsonl, price.png, price.svg in {}",
                "written",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Says where the artefacts went, unless standard output is JSON.
fn written(as_json: bool, files: &str, dir: &Path) {
    if !as_json {
        say!("written: {files} in {}", dir.display());
    }
}

/// `firesale check`.
pub fn check(arg: &str, budget: &Budget) -> Outcome {
    let source = source(Some(arg))?;
    let s = scenario_of(&source, &budget.bounds(true, 0, 1))?;
    say!(
        "{}: valid: {} assets, {} accounts, {} shocks",
        source.label,
        s.assets.len(),
        s.accounts(),
        s.shocks.len()
    );
    Ok(())
}

/// `firesale scenarios`.
pub fn scenarios() {
    let width = bundled::ALL.iter().map(|b| b.name.len()).max().unwrap_or(0) + 2;
    for b in bundled::ALL {
        say!("{:<width$}{}", b.name, b.summary);
    }
    say!("\nRun one with `firesale run NAME`; its source is scenarios/NAME.toml (replays: scenarios/replays/).");
}

/// Runs `work` on a rayon pool of `threads` workers (default: one per
/// core).
pub fn in_pool(threads: Option<usize>, work: impl FnOnce() -> Outcome + Send) -> Outcome {
    if threads.is_some_and(|t| !(1..=MAX_THREADS).contains(&t)) {
        return Err(Failure::Input(format!(
            "--threads must be 1 to {MAX_THREADS}"
        )));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| Failure::Output(format!("cannot start worker threads: {e}")))?
        .install(work)
}

/// What a sweep's heat map shows.
#[derive(Clone, Copy, ValueEnum)]
pub enum Metric {
    /// Bad debt, in quote.
    BadDebt,
    /// Price move over the move the shocks alone caused.
    Amplification,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::BadDebt => sweep::BAD_DEBT,
            Metric::Amplification => "amplification",
        }
    }

    fn of(self, p: &sweep::Point) -> f64 {
        match self {
            Metric::BadDebt => p.figures.bad_debt,
            Metric::Amplification => p.figures.amplification.unwrap_or(f64::NAN),
        }
    }
}

/// `firesale sweep`.
pub fn sweep(
    arg: Option<&str>,
    vary: &[String],
    metric: Metric,
    as_json: bool,
    out: Option<&Path>,
    audit: bool,
    budget: &Budget,
) -> Outcome {
    let axes = vary
        .iter()
        .map(|v| v.parse::<Axis>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::Input(format!("--vary {e}")))?;
    if axes.len() > 2 {
        return Err(Failure::Input("--vary: at most two axes".into()));
    }
    let source = source(arg)?;
    let points: u64 = axes.iter().map(|a| a.values.len() as u64).product();
    let reserved = sweep::reserved(points, source.text.len());
    reserve(&format!("a sweep of {points} points"), reserved, budget)?;
    let bounds = budget.bounds(false, reserved, at_once(points));
    scenario_of(&source, &bounds)?;
    let bar = progress::bar(points, "sweep");
    let result = sweep::run_source((&source, None), axes, None, &bounds, &bar, audit)?;
    let document = sweep::document(&source.label, &result, metric.name());
    if as_json {
        print_json(&document);
    } else {
        emit(&sweep_table(&result, metric));
    }
    if let Some(dir) = out {
        write_sweep(dir, &result, metric, &document).map_err(Failure::Output)?;
        written(
            as_json,
            "sweep.json, sweep.csv, heatmap.png, heatmap.svg",
            dir,
        );
    }
    Ok(())
}

fn sweep_table(s: &Sweep, metric: Metric) -> String {
    let mut t = String::new();
    let xs = &s.axes[0];
    let _ = writeln!(t, "{} by {}", metric.name(), axis_names(s));
    let _ = write!(t, "{:>14}", "");
    for x in &xs.values {
        let _ = write!(t, "{:>10}", plot::short(*x));
    }
    t.push('\n');
    let ys: Vec<f64> = s.axes.get(1).map_or(vec![f64::NAN], |a| a.values.clone());
    for (row, y) in s.rows(|p| metric.of(p)).iter().zip(&ys) {
        let label = if y.is_nan() {
            String::new()
        } else {
            plot::short(*y)
        };
        let _ = write!(t, "{label:>14}");
        for v in row {
            let _ = write!(t, "{:>10}", plot::short(*v));
        }
        t.push('\n');
    }
    for (critical, y) in s.critical().iter().zip(&ys) {
        let at = match s.axes.get(1) {
            Some(a) => format!(" at {} = {}", a.key, plot::short(*y)),
            None => String::new(),
        };
        let _ = match critical.and_then(|x| xs.values.get(x)) {
            Some(v) => writeln!(t, "critical {} (first with bad debt){at}: {v}", xs.key),
            None => writeln!(t, "critical {}{at}: none in the grid", xs.key),
        };
    }
    t
}

fn axis_names(s: &Sweep) -> String {
    s.axes
        .iter()
        .map(|a| a.key.as_str())
        .collect::<Vec<_>>()
        .join(" (x) and ")
}

fn write_sweep(
    dir: &Path,
    s: &Sweep,
    metric: Metric,
    document: &serde_json::Value,
) -> Result<(), String> {
    create_dir(dir)?;
    artefacts::write(dir, "sweep.json", &format!("{document:#}\n"))?;
    let mut csv = String::new();
    for a in &s.axes {
        let _ = write!(csv, "{},", a.key);
    }
    csv.push_str("bad_debt,amplification,liquidations,rounds,termination,digest\n");
    for p in &s.points {
        for v in &p.at {
            let _ = write!(csv, "{v},");
        }
        let f = &p.figures;
        let amp = f.amplification.map_or(String::new(), |a| a.to_string());
        let _ = writeln!(
            csv,
            "{},{amp},{},{},{},{:016x}",
            f.bad_debt, f.liquidations, f.rounds, f.termination, f.digest
        );
    }
    artefacts::write(dir, "sweep.csv", &csv)?;
    let ys = s.axes.get(1).map_or(&[0.0][..], |a| &a.values);
    let rows = s.rows(|p| metric.of(p));
    let critical = s.critical();
    plot::heat_map(
        &dir.join("heatmap"),
        &Grid {
            axes: [&s.axes[0].key, s.axes.get(1).map_or("", |a| a.key.as_str())],
            values: [&s.axes[0].values, ys],
            cells: &rows,
            metric: metric.name(),
            critical: &critical,
        },
    )
}

/// `firesale critical`: bisects `request` over the scenario; ends that do
/// not straddle the crossing are bad input (exit code 2).
pub fn critical(
    arg: Option<&str>,
    request: &critical::Request,
    as_json: bool,
    out: Option<&Path>,
    budget: &Budget,
) -> Outcome {
    let source = source(arg)?;
    let grid = request.grid().len() as u64;
    let most = grid + u64::from(critical::MAX_ITERATIONS);
    let reserved = sweep::reserved(most, source.text.len());
    reserve(&format!("a search of up to {most} runs"), reserved, budget)?;
    let bounds = budget.bounds(false, reserved, at_once(grid));
    scenario_of(&source, &bounds)?;
    let bar = progress::bar(grid, "critical");
    let search = critical::run_source(&source, request, &bounds, &bar);
    // Cleared before any message, on success or not.
    bar.finish_and_clear();
    let search = search?;
    if let Some(warning) = search.warning() {
        eprintln!("warning: {warning}");
    }
    let document = critical::document(&source.label, &search);
    if as_json {
        print_json(&document);
    } else {
        emit(&critical::summary(&source.label, &search));
    }
    if let Some(dir) = out {
        create_dir(dir).map_err(Failure::Output)?;
        artefacts::write(dir, "critical.json", &format!("{document:#}\n"))
            .map_err(Failure::Output)?;
        written(as_json, "critical.json", dir);
    }
    Ok(())
}

/// The shock-path model's flags.
#[derive(clap::Args)]
pub struct ModelArgs {
    /// Paths to draw (1 to 10,000,000).
    #[arg(long, default_value_t = 1_000, allow_negative_numbers = true)]
    paths: u32,
    /// Seed of the experiment: the same seed gives the same paths.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    seed: u64,
    /// Rounds that receive a shock (1 to 10,000, and at most the
    /// scenario's max_rounds).
    #[arg(long, default_value_t = 5, allow_negative_numbers = true)]
    rounds: u32,
    /// Mean log return per round.
    #[arg(long, default_value_t = -0.01, allow_negative_numbers = true)]
    drift: f64,
    /// Standard deviation of the log return per round.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    volatility: f64,
    /// Correlation between the risky assets' moves.
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    correlation: f64,
    /// Chance per round of a crash jump on every risky asset.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    jump_probability: f64,
    /// A crash jump multiplies prices by 1 − this.
    #[arg(long, default_value_t = 0.25, allow_negative_numbers = true)]
    jump_size: f64,
}

impl ModelArgs {
    fn model(&self) -> PathModel {
        PathModel {
            paths: self.paths,
            seed: self.seed,
            rounds: self.rounds,
            drift: self.drift,
            volatility: self.volatility,
            correlation: self.correlation,
            jump_probability: self.jump_probability,
            jump_size: self.jump_size,
        }
    }
}

/// `firesale montecarlo`.
pub fn montecarlo(
    arg: Option<&str>,
    args: &ModelArgs,
    as_json: bool,
    out: Option<&Path>,
    audit: bool,
    budget: &Budget,
) -> Outcome {
    let model = args.model();
    model.validate().map_err(Failure::Input)?;
    let source = source(arg)?;
    let paths = u64::from(model.paths);
    let reserved = paths.saturating_mul(RESULT_BYTES);
    reserve(&format!("--paths {paths}"), reserved, budget)?;
    let bounds = budget.bounds(false, reserved, at_once(paths));
    let scenario = scenario_of(&source, &bounds)?;
    model
        .fits(&scenario)
        .map_err(|e| Failure::Input(format!("--rounds {e}")))?;
    let bar = progress::bar(u64::from(model.paths), "montecarlo");
    let paths = montecarlo::run(&scenario, &model, &bar, audit)?;
    let losses: Vec<f64> = paths.iter().map(|p| p.bad_debt).collect();
    let tail = Tail::of(&losses);
    let document = montecarlo::document(&source.label, &model, &paths);
    if as_json {
        print_json(&document);
    } else {
        say!("scenario            {}", source.label);
        say!(
            "paths               {} (seed {}, {} shocked rounds)",
            model.paths,
            model.seed,
            model.rounds
        );
        say!("mean bad debt       {:.2}", tail.mean);
        say!("P(bad debt > 0)     {:.4}", tail.probability_of_loss);
        for (i, level) in LEVELS.iter().enumerate() {
            say!(
                "{:<20}VaR {:.2}, expected shortfall {:.2}",
                format!("at {:.0}%", level * 100.0),
                tail.var[i],
                tail.expected_shortfall[i]
            );
        }
        say!("worst path          {:.2}", tail.max);
    }
    if let Some(dir) = out {
        write_montecarlo(dir, &losses, &tail, &document).map_err(Failure::Output)?;
        written(
            as_json,
            "montecarlo.json, paths.csv, histogram.png, histogram.svg, exceedance.png, exceedance.svg",
            dir,
        );
    }
    Ok(())
}

fn write_montecarlo(
    dir: &Path,
    losses: &[f64],
    tail: &Tail,
    document: &serde_json::Value,
) -> Result<(), String> {
    create_dir(dir)?;
    artefacts::write(dir, "montecarlo.json", &format!("{document:#}\n"))?;
    let mut csv = String::from("path,bad_debt\n");
    for (i, loss) in losses.iter().enumerate() {
        let _ = writeln!(csv, "{i},{loss}");
    }
    artefacts::write(dir, "paths.csv", &csv)?;
    let markers = [
        ("VaR 95%", tail.var[0], false),
        ("VaR 99%", tail.var[1], false),
        ("ES 95%", tail.expected_shortfall[0], true),
        ("ES 99%", tail.expected_shortfall[1], true),
    ]
    .map(|(name, at, dashed)| Marker { name, at, dashed });
    plot::histogram(
        &dir.join("histogram"),
        &format!("bad debt over {} Monte Carlo shock paths", losses.len()),
        sweep::BAD_DEBT,
        losses,
        &markers,
    )?;
    plot::exceedance(
        &dir.join("exceedance"),
        &format!(
            "exceedance: share of {} paths whose bad debt is above x",
            losses.len()
        ),
        sweep::BAD_DEBT,
        losses,
        &markers,
    )
}

/// `firesale compare`: the same scenario under each preset, in parallel.
pub fn compare(
    arg: Option<&str>,
    names: &[String],
    as_json: bool,
    out: Option<&Path>,
    audit: bool,
    budget: &Budget,
) -> Outcome {
    let chosen = presets::choose(names, "--presets").map_err(Failure::Input)?;
    let source = source(arg)?;
    let base = scenario_of(
        &source,
        &budget.bounds(true, 0, at_once(chosen.len() as u64)),
    )?;
    let bar = progress::bar(chosen.len() as u64, "compare");
    let runs = firesale_harness::compare::run(&base, &chosen, &bar, audit).map_err(|failed| {
        let (p, _, e) = *failed;
        match e {
            RunError::Invalid(m) => {
                Failure::Input(format!("{} under {}: {m}", source.label, p.name))
            }
            RunError::Io(e) => Failure::Input(e.to_string()),
            RunError::Audit(m) => Failure::Audit(format!("{} under {}: {m}", source.label, p.name)),
        }
    })?;
    let document = firesale_harness::compare::document(&source.label, &runs);
    if as_json {
        print_json(&document);
    } else {
        emit(&compare_table(&base, &runs));
    }
    if let Some(dir) = out {
        write_compare(dir, &base, &runs, &document).map_err(Failure::Output)?;
        written(
            as_json,
            "compare.json, compare.csv, compare.png, compare.svg",
            dir,
        );
    }
    Ok(())
}

fn compare_table(base: &Scenario, runs: &[Compared]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "scenario: {}", base.name);
    let _ = write!(
        t,
        "{:<13}{:>14}{:>7}{:>8}{:>9}{:>13}{:>13}{:>13}{:>13}{:>13}{:>7}{:>7}{:>6}{:>9}",
        "preset",
        "ended",
        "rounds",
        "liq.",
        "accounts",
        "bad debt",
        "insurance",
        "socialized",
        "deleveraged",
        "unrecovered",
        "vault",
        "auct.",
        "zero",
        "deferred"
    );
    for a in 1..base.assets.len() {
        let _ = write!(
            t,
            "{:>12}{:>7}",
            format!("{} min", base.asset_name(a)),
            "ampl."
        );
    }
    t.push('\n');
    for (p, _, o) in runs {
        let r = &o.report;
        let _ = write!(
            t,
            "{:<13}{:>14}{:>7}{:>8}{:>9}{:>13.0}{:>13.0}{:>13.0}{:>13.0}{:>13.0}{:>7}{:>7}{:>6}{:>9}",
            p.name,
            json::termination_name(r.ended.as_ref()),
            r.rounds,
            r.liquidations,
            r.accounts_liquidated,
            r.bad_debt,
            r.insurance_used,
            r.socialized,
            r.deleveraged,
            r.unrecovered,
            r.backstopped,
            r.auctions,
            r.zero_bid_takes,
            r.deferred,
        );
        let amplification = firesale_harness::observe::amplification(o);
        for (a, asset) in r.assets.iter().enumerate().skip(1) {
            let amp = amplification
                .get(a)
                .copied()
                .flatten()
                .map_or("-".to_string(), |x| format!("{x:.2}"));
            let _ = write!(t, "{:>12.2}{amp:>7}", asset.min_price);
        }
        t.push('\n');
    }
    t
}

fn write_compare(
    dir: &Path,
    base: &Scenario,
    runs: &[Compared],
    document: &serde_json::Value,
) -> Result<(), String> {
    create_dir(dir)?;
    artefacts::write(dir, "compare.json", &format!("{document:#}\n"))?;
    let mut csv = String::from(
        "preset,termination,rounds,liquidations,accounts_liquidated,bad_debt,insurance_used,socialized,deleveraged,unrecovered,backstopped,backstop_equity,backstop_negative_equity,backstop_pnl,auctions,zero_bid_takes,deferred",
    );
    for a in 1..base.assets.len() {
        let _ = write!(csv, ",{}_min_price", base.asset_name(a));
    }
    csv.push('\n');
    for (p, _, o) in runs {
        let r = &o.report;
        let _ = write!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            p.name,
            json::termination_name(r.ended.as_ref()),
            r.rounds,
            r.liquidations,
            r.accounts_liquidated,
            r.bad_debt,
            r.insurance_used,
            r.socialized,
            r.deleveraged,
            r.unrecovered,
            r.backstopped,
            r.backstop_equity,
            r.backstop_negative_equity,
            r.backstop_pnl,
            r.auctions,
            r.zero_bid_takes,
            r.deferred
        );
        for asset in r.assets.iter().skip(1) {
            let _ = write!(csv, ",{}", asset.min_price);
        }
        csv.push('\n');
    }
    artefacts::write(dir, "compare.csv", &csv)?;
    let series: Vec<plot::Series<'_>> = runs
        .iter()
        .map(|(p, _, o)| {
            let initial = o.report.assets.get(1).map_or(0.0, |a| a.initial_price);
            let mut points = vec![(0.0, initial)];
            points.extend(
                o.timeline
                    .iter()
                    .filter_map(|row| Some((f64::from(row.round), row.assets.get(1)?.close))),
            );
            plot::Series {
                name: p.name,
                points,
            }
        })
        .collect();
    plot::paths(
        &dir.join("compare"),
        &format!("{}: {} under each preset", base.name, base.asset_name(1)),
        &series,
    )
}

//! The `firesale._firesale` extension module: the harness library's load,
//! run and report, called from Python (the package in `python/firesale/`
//! wraps it). The command line and this module load and run a scenario
//! through the same functions of `firesale-harness`, so a run here gives
//! the CLI's digest.

use firesale_harness::audit::Stopped;
use firesale_harness::bounds::{self, Bounds, Budget, RESULT_BYTES};
use firesale_harness::input::FileError;
use firesale_harness::montecarlo::{self as paths_study, PathModel};
use firesale_harness::observe::{observe_with, Observed, RunError};
use firesale_harness::presets as preset_table;
use firesale_harness::source::Source;
use firesale_harness::sweep::{self as grid, Axis};
use firesale_harness::{bundled, json, progress, summary, Scenario};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use std::path::PathBuf;

create_exception!(
    _firesale,
    ScenarioError,
    PyValueError,
    "A scenario that cannot be used: `key`, `line` and `column` say where (each may be None)."
);
create_exception!(
    _firesale,
    RunFailed,
    PyRuntimeError,
    "A run the engine refused or stopped: the scenario is invalid at run time, or the audit found a book that does not balance."
);

/// The raised form of a scenario file's error, with where it is.
fn scenario_error(py: Python<'_>, label: &str, e: &FileError) -> PyErr {
    let err = ScenarioError::new_err(format!("{label}: {e}"));
    let value = err.value(py);
    let (line, column) = e.at.map_or((None, None), |(l, c)| (Some(l), Some(c)));
    // Setting attributes on a fresh exception object cannot fail in practice;
    // if it did, the message still says where.
    let _ = value.setattr("key", e.key.clone());
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    err
}

/// A scenario argument as the harness's [`Source`]: a dict through JSON to
/// TOML (the error's key names the entry; its line and column, the TOML);
/// a string with a line break or an `=` as TOML text; else a path or a
/// bundled name, as on the command line.
fn source_of(scenario: &Bound<'_, PyAny>) -> PyResult<Source> {
    if let Ok(dict) = scenario.cast::<PyDict>() {
        let dumped: String = dict
            .py()
            .import("json")?
            .call_method1("dumps", (dict,))?
            .extract()?;
        let value: serde_json::Value = serde_json::from_str(&dumped)
            .map_err(|e| ScenarioError::new_err(format!("the scenario dict: {e}")))?;
        let text = toml::to_string(&value).map_err(|e| {
            ScenarioError::new_err(format!(
                "the scenario dict cannot be a scenario file (no None values, and keys are strings): {e}"
            ))
        })?;
        return Ok(Source::text("the scenario dict", text));
    }
    if let Ok(s) = scenario.cast::<PyString>() {
        let s = s.to_cow()?;
        if s.contains('\n') || s.contains('=') {
            return Ok(Source::text("the scenario text", s.into_owned()));
        }
        return Source::file_or_bundled(&s).map_err(ScenarioError::new_err);
    }
    if scenario.hasattr("__fspath__")? {
        let path: PathBuf = scenario.extract()?;
        return Source::file(&path).map_err(ScenarioError::new_err);
    }
    Err(PyTypeError::new_err(
        "a scenario is a bundled name, a path, TOML text or a dict",
    ))
}

/// Reads and validates `source` within `bounds`, with the accounts'
/// positions as CSV text in place of the file `accounts.positions` would
/// name.
fn load(
    py: Python<'_>,
    source: &Source,
    bounds: &Bounds,
    positions: Option<&str>,
) -> PyResult<Scenario> {
    source
        .scenario_with(bounds, positions)
        .map_err(|e| scenario_error(py, &source.label, &e))
}

/// The bounds of one run that keeps its timeline (`firesale run`'s).
fn one_run() -> Bounds {
    Bounds {
        timeline: true,
        ..Bounds::default()
    }
}

/// A run's failure, raised.
fn run_failed(e: RunError) -> PyErr {
    match e {
        RunError::Invalid(m) => RunFailed::new_err(format!("the scenario is invalid: {m}")),
        RunError::Io(e) => RunFailed::new_err(e.to_string()),
        RunError::Audit(m) => RunFailed::new_err(m),
    }
}

/// The timeline's columns in `timeline.csv`'s order and names: one row per
/// round, each risky asset's prices and trades under its name.
fn timeline<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    observed: &Observed,
) -> PyResult<Bound<'py, PyDict>> {
    let rows = &observed.timeline;
    let columns = PyDict::new(py);
    let column = |f: &dyn Fn(&firesale_harness::observe::RoundRow) -> f64| -> Vec<f64> {
        rows.iter().map(f).collect()
    };
    columns.set_item("round", rows.iter().map(|r| r.round).collect::<Vec<u32>>())?;
    columns.set_item(
        "liquidations",
        rows.iter().map(|r| r.liquidations).collect::<Vec<u32>>(),
    )?;
    columns.set_item(
        "bankruptcies",
        rows.iter().map(|r| r.bankruptcies).collect::<Vec<u32>>(),
    )?;
    columns.set_item("bad_debt", column(&|r| r.bad_debt))?;
    columns.set_item("socialized", column(&|r| r.socialized))?;
    columns.set_item("insurance_fund", column(&|r| r.insurance_fund))?;
    columns.set_item(
        "backstopped",
        rows.iter().map(|r| r.backstopped).collect::<Vec<u32>>(),
    )?;
    columns.set_item("backstop_equity", column(&|r| r.backstop_equity))?;
    for a in 1..scenario.assets.len() {
        let name = scenario.asset_name(a);
        let asset = |f: &dyn Fn(&firesale_harness::observe::AssetRound) -> f64| -> Vec<f64> {
            rows.iter()
                .map(|r| r.assets.get(a).map_or(f64::NAN, f))
                .collect()
        };
        columns.set_item(format!("{name}_open"), asset(&|x| x.open))?;
        columns.set_item(format!("{name}_close"), asset(&|x| x.close))?;
        columns.set_item(format!("{name}_oracle"), asset(&|x| x.oracle))?;
        columns.set_item(format!("{name}_sold"), asset(&|x| x.sold))?;
        columns.set_item(format!("{name}_bought"), asset(&|x| x.bought))?;
        columns.set_item(format!("{name}_volume_quote"), asset(&|x| x.volume_quote))?;
    }
    Ok(columns)
}

/// Runs a scenario to its end, watched round by round, with the engine's
/// conservation audit after every unit that moved anything if `audit`.
/// Returns a dict: `report` (the JSON text of `firesale run --json`),
/// `summary` (the text `firesale run` prints), `timeline` (column name to
/// values), `digest`, and with `events` the event log as `events.jsonl`
/// holds it (one JSON object a line). The GIL is released while the engine
/// runs.
#[pyfunction]
#[pyo3(signature = (scenario, *, positions = None, audit = false, events = false))]
fn run<'py>(
    py: Python<'py>,
    scenario: &Bound<'py, PyAny>,
    positions: Option<&str>,
    audit: bool,
    events: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let s = load(py, &source_of(scenario)?, &one_run(), positions)?;
    let mut log: Vec<u8> = Vec::new();
    let observed = py
        .detach(|| {
            let sink: Option<&mut dyn std::io::Write> = match events {
                true => Some(&mut log),
                false => None,
            };
            observe_with(&s, sink, audit)
        })
        .map_err(run_failed)?;
    let out = PyDict::new(py);
    if events {
        let text = String::from_utf8(log)
            .map_err(|e| RunFailed::new_err(format!("the event log is not text: {e}")))?;
        out.set_item("events", text)?;
    }
    out.set_item("report", json::report(&s, &observed).to_string())?;
    out.set_item("summary", summary::summary(&s, &observed))?;
    out.set_item("timeline", timeline(py, &s, &observed)?)?;
    out.set_item("digest", format!("{:016x}", observed.digest))?;
    Ok(out)
}

/// A sweep or a Monte Carlo study's failure, raised: bad input as a
/// `ScenarioError`, an audit failure as `RunFailed`.
fn stopped(e: Stopped) -> PyErr {
    match e {
        Stopped::Input(m) => ScenarioError::new_err(m),
        Stopped::Audit(m) => RunFailed::new_err(m),
    }
}

/// The bounds of `runs` results kept to the end, `reserved` bytes of them,
/// shared by the rayon pool's workers (`firesale sweep` and `montecarlo`
/// with the default `--max-memory`).
fn shared_bounds(runs: u64, reserved: u64) -> PyResult<Bounds> {
    let budget = Budget::default();
    budget
        .reserve(&format!("{runs} runs"), reserved)
        .map_err(ScenarioError::new_err)?;
    Ok(budget.bounds(false, reserved, bounds::at_once(runs)))
}

/// Runs a scenario at every point of a grid of one or two `vary` axes,
/// each `"key=from:to:count"` as `firesale sweep --vary` takes them.
/// Returns the JSON text of `firesale sweep --json`; with `shard = (first,
/// count)`, the same document over those points (in grid order) only.
#[pyfunction]
#[pyo3(signature = (scenario, vary, *, positions = None, audit = false, shard = None))]
fn sweep<'py>(
    py: Python<'py>,
    scenario: &Bound<'py, PyAny>,
    vary: Vec<String>,
    positions: Option<&str>,
    audit: bool,
    shard: Option<(usize, usize)>,
) -> PyResult<String> {
    let axes = vary
        .iter()
        .map(|v| v.parse::<Axis>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ScenarioError::new_err(format!("vary {e}")))?;
    let source = source_of(scenario)?;
    let all: u64 = axes.iter().map(|a| a.values.len() as u64).product();
    let points = shard.map_or(all, |(_, count)| count as u64);
    let range = shard.map(|(first, count)| first..first.saturating_add(count));
    let reserved = grid::reserved(points, source.text.len());
    let bounds = shared_bounds(points, reserved)?;
    load(py, &source, &bounds, positions)?;
    let result = py
        .detach(|| {
            let bar = progress::bar(points, "sweep");
            grid::run_source((&source, positions), axes, range, &bounds, &bar, audit)
        })
        .map_err(stopped)?;
    Ok(grid::document(&source.label, &result, grid::BAD_DEBT).to_string())
}

/// Runs a scenario over random shock paths (`firesale montecarlo`: its
/// shocks replaced by `rounds` rounds of correlated log-normal moves with
/// crash jumps). Returns the JSON text of `firesale montecarlo --json`;
/// with `shard = (first, count)`, the same document over those paths of
/// the study only (a shard run on a cluster's worker).
#[pyfunction]
#[pyo3(signature = (scenario, *, positions = None, paths = 1000, seed = 1, rounds = 5, drift = -0.01, volatility = 0.05, correlation = 0.8, jump_probability = 0.05, jump_size = 0.25, audit = false, shard = None))]
#[allow(clippy::too_many_arguments)]
fn montecarlo<'py>(
    py: Python<'py>,
    scenario: &Bound<'py, PyAny>,
    positions: Option<&str>,
    paths: u32,
    seed: u64,
    rounds: u32,
    drift: f64,
    volatility: f64,
    correlation: f64,
    jump_probability: f64,
    jump_size: f64,
    audit: bool,
    shard: Option<(u32, u32)>,
) -> PyResult<String> {
    let model = PathModel {
        paths,
        seed,
        rounds,
        drift,
        volatility,
        correlation,
        jump_probability,
        jump_size,
    };
    model.validate().map_err(ScenarioError::new_err)?;
    let source = source_of(scenario)?;
    let (first, count) = shard.unwrap_or((0, paths));
    let range = first..first.saturating_add(count);
    let runs = u64::from(count);
    let bounds = shared_bounds(runs, runs.saturating_mul(RESULT_BYTES))?;
    let s = load(py, &source, &bounds, positions)?;
    model
        .fits(&s)
        .map_err(|e| ScenarioError::new_err(format!("rounds = {e}")))?;
    let outcomes = py
        .detach(|| {
            let bar = progress::bar(runs, "montecarlo");
            paths_study::run_range(&s, &model, range, &bar, audit)
        })
        .map_err(stopped)?;
    Ok(paths_study::document(&source.label, &model, &outcomes).to_string())
}

/// The points of the grid `vary` spans (as [`sweep`] reads it).
#[pyfunction]
fn sweep_points(vary: Vec<String>) -> PyResult<usize> {
    let axes = vary
        .iter()
        .map(|v| v.parse::<Axis>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ScenarioError::new_err(format!("vary {e}")))?;
    Ok(axes.iter().map(|a| a.values.len()).product())
}

/// A sweep's `critical` (per row of the second axis, the first value of
/// `xs`, the first axis, with bad debt) from every point's bad debt in
/// grid order: how shards are merged.
#[pyfunction]
fn sweep_critical(xs: Vec<f64>, bad_debt: Vec<f64>) -> Vec<Option<f64>> {
    grid::critical_values(&xs, &bad_debt)
}

/// The `bad_debt` object of a Monte Carlo document over `losses`, one per
/// path in path order: how shards are merged. Returns its JSON text.
#[pyfunction]
fn montecarlo_tail(losses: Vec<f64>) -> String {
    paths_study::tail_document(&losses).to_string()
}

/// Runs a scenario under each of `presets` (all seven when `None`), as
/// `firesale compare`. Returns the JSON text of `firesale compare --json`.
#[pyfunction]
#[pyo3(signature = (scenario, presets = None, *, positions = None, audit = false))]
fn compare<'py>(
    py: Python<'py>,
    scenario: &Bound<'py, PyAny>,
    presets: Option<Vec<String>>,
    positions: Option<&str>,
    audit: bool,
) -> PyResult<String> {
    let chosen = preset_table::choose(&presets.unwrap_or_default(), "presets")
        .map_err(ScenarioError::new_err)?;
    let source = source_of(scenario)?;
    let base = load(py, &source, &one_run(), positions)?;
    let runs = py
        .detach(|| {
            let bar = progress::bar(chosen.len() as u64, "compare");
            firesale_harness::compare::run(&base, &chosen, &bar, audit)
        })
        .map_err(|failed| {
            let (p, _, e) = *failed;
            let raised = run_failed(e);
            let message = format!("under {}: {}", p.name, raised.value(py));
            match raised.is_instance_of::<RunFailed>(py) {
                true => RunFailed::new_err(message),
                false => ScenarioError::new_err(message),
            }
        })?;
    Ok(firesale_harness::compare::document(&source.label, &runs).to_string())
}

/// Checks a scenario as `firesale check` does, without running it: its
/// name, assets, accounts and shocks, or a `ScenarioError` saying where.
#[pyfunction]
#[pyo3(signature = (scenario, *, positions = None))]
fn check<'py>(
    py: Python<'py>,
    scenario: &Bound<'py, PyAny>,
    positions: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let s = load(py, &source_of(scenario)?, &one_run(), positions)?;
    let out = PyDict::new(py);
    out.set_item("name", &s.name)?;
    out.set_item("assets", s.assets.len())?;
    out.set_item("accounts", s.accounts())?;
    out.set_item("shocks", s.shocks.len())?;
    Ok(out)
}

/// The bundled scenarios' names, in `firesale scenarios`' order.
#[pyfunction]
fn scenarios(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    PyList::new(py, bundled::ALL.iter().map(|b| b.name))
}

#[pymodule]
fn _firesale(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(montecarlo, m)?)?;
    m.add_function(wrap_pyfunction!(montecarlo_tail, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_critical, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_points, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(scenarios, m)?)?;
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add("RunFailed", m.py().get_type::<RunFailed>())?;
    Ok(())
}

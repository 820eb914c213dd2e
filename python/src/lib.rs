//! The `firesale._firesale` extension module: the harness library's load,
//! run and report, called from Python (the package in `python/firesale/`
//! wraps it). The command line and this module load and run a scenario
//! through the same functions of `firesale-harness`, so a run here gives
//! the CLI's digest.

use firesale_harness::bounds::Bounds;
use firesale_harness::observe::{observe_with, Observed, RunError};
use firesale_harness::preflight::describe_named;
use firesale_harness::scenario_file::{parse_with, read_text, FileError};
use firesale_harness::{bundled, json, summary, Scenario};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use std::path::{Path, PathBuf};

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

/// A scenario's text, where it came from, and the folder its relative
/// paths (a positions file) are read from.
struct Source {
    label: String,
    text: String,
    dir: Option<PathBuf>,
}

impl Source {
    fn from_path(path: &Path) -> PyResult<Self> {
        Ok(Source {
            label: path.display().to_string(),
            text: read_text(path).map_err(ScenarioError::new_err)?,
            dir: path.parent().map(Path::to_path_buf),
        })
    }

    /// A string: TOML text if it has a line break or an `=`, else a file
    /// if one is there, else a bundled scenario of that name.
    fn from_str(text: &str) -> PyResult<Self> {
        if text.contains('\n') || text.contains('=') {
            return Ok(Source {
                label: "the scenario text".into(),
                text: text.to_string(),
                dir: None,
            });
        }
        let path = Path::new(text);
        if path.exists() {
            return Self::from_path(path);
        }
        match bundled::find(text) {
            Some(b) => Ok(Source {
                label: format!("bundled scenario `{}`", b.name),
                text: b.source.to_string(),
                dir: None,
            }),
            None => Err(ScenarioError::new_err(format!(
                "{text}: no such file, and no bundled scenario of that name (firesale.scenarios() lists them)"
            ))),
        }
    }

    /// A dict of the scenario file's schema, through JSON to TOML: the
    /// error's key names the entry, its line and column the generated TOML.
    fn from_dict(dict: &Bound<'_, PyDict>) -> PyResult<Self> {
        let py = dict.py();
        let dumped: String = py
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
        Ok(Source {
            label: "the scenario dict".into(),
            text,
            dir: None,
        })
    }

    fn from_any(scenario: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(dict) = scenario.cast::<PyDict>() {
            return Self::from_dict(dict);
        }
        if let Ok(s) = scenario.cast::<PyString>() {
            return Self::from_str(&s.to_cow()?);
        }
        if scenario.hasattr("__fspath__")? {
            let path: PathBuf = scenario.extract()?;
            return Self::from_path(&path);
        }
        Err(PyTypeError::new_err(
            "a scenario is a bundled name, a path, TOML text or a dict",
        ))
    }

    fn scenario(&self, py: Python<'_>) -> PyResult<Scenario> {
        let bounds = Bounds {
            timeline: true,
            ..Bounds::default()
        };
        parse_with(&self.text, self.dir.as_deref(), &bounds)
            .map_err(|e| scenario_error(py, &self.label, &e))
    }
}

/// A run's failure, raised.
fn run_failed(scenario: &Scenario, e: RunError) -> PyErr {
    match e {
        RunError::Invalid(e) => RunFailed::new_err(format!(
            "the scenario is invalid: {}",
            describe_named(&e, &scenario.asset_names)
        )),
        RunError::Io(e) => RunFailed::new_err(e.to_string()),
        RunError::Audit(f) => RunFailed::new_err(format!(
            "{} (a kernel bug: please report it with the scenario)",
            f.message(|a| scenario.asset_name(a).to_string())
        )),
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
/// values) and `digest`. The GIL is released while the engine runs.
#[pyfunction]
#[pyo3(signature = (scenario, *, audit = false))]
fn run<'py>(
    py: Python<'py>,
    scenario: &Bound<'py, PyAny>,
    audit: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let s = Source::from_any(scenario)?.scenario(py)?;
    let observed = py
        .detach(|| observe_with(&s, None, audit))
        .map_err(|e| run_failed(&s, e))?;
    let out = PyDict::new(py);
    out.set_item("report", json::report(&s, &observed).to_string())?;
    out.set_item("summary", summary::summary(&s, &observed))?;
    out.set_item("timeline", timeline(py, &s, &observed)?)?;
    out.set_item("digest", format!("{:016x}", observed.outcome.digest))?;
    Ok(out)
}

/// Checks a scenario as `firesale check` does, without running it: its
/// name, assets, accounts and shocks, or a `ScenarioError` saying where.
#[pyfunction]
fn check<'py>(py: Python<'py>, scenario: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let s = Source::from_any(scenario)?.scenario(py)?;
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
    m.add_function(wrap_pyfunction!(scenarios, m)?)?;
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add("RunFailed", m.py().get_type::<RunFailed>())?;
    Ok(())
}

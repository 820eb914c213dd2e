//! Parameter sweeps: one or two scenario values varied over a grid, every
//! grid point run in parallel. Results come back in grid order whatever
//! the thread count: each point is its own deterministic run.

use crate::audit::Stopped;
use crate::bounds::Bounds;
use crate::observe::{self, Figures, RunError};
use crate::scenario_file::parse_table;
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::path::Path;
use std::str::FromStr;

/// Most grid points along one axis.
pub const MAX_STEPS: usize = 1_000;

/// One varied value: a key path into the scenario file and its grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Key path, such as `shocks[0].move_price` or
    /// `assets[1].venue.base_reserve`.
    pub key: String,
    /// The grid, in order.
    pub values: Vec<f64>,
}

impl FromStr for Axis {
    type Err = String;

    /// `KEY=FROM:TO:STEPS`: `STEPS` evenly spaced values from `FROM` to
    /// `TO`, both included.
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "`{text}`: expected KEY=FROM:TO:STEPS, such as shocks[0].move_price=0.95:0.5:10"
            )
        };
        let (key, range) = text.split_once('=').ok_or_else(usage)?;
        let parts: Vec<&str> = range.split(':').collect();
        let [from, to, steps] = parts[..] else {
            return Err(usage());
        };
        let number = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{s}` in `{text}` is not a finite number"))
        };
        let (from, to) = (number(from)?, number(to)?);
        let steps: usize = steps
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=MAX_STEPS).contains(n))
            .ok_or_else(|| format!("`{text}`: STEPS must be 1 to {MAX_STEPS}"))?;
        let values: Vec<f64> = (0..steps)
            .map(|i| match steps {
                1 => from,
                _ => from + (to - from) * (i as f64 / (steps - 1) as f64),
            })
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(format!("`{text}`: the grid's values overflow a float"));
        }
        if key.trim().is_empty() {
            return Err(usage());
        }
        Ok(Axis {
            key: key.trim().to_string(),
            values,
        })
    }
}

/// The heat map's usual metric, as the documents and charts name it.
pub const BAD_DEBT: &str = "bad debt (quote)";

/// One grid point's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The values of the axes here.
    pub at: Vec<f64>,
    /// The run's figures.
    pub figures: Figures,
}

/// A whole sweep: points with the first axis varying fastest.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// The axes (one or two).
    pub axes: Vec<Axis>,
    /// `points[y * xs + x]`.
    pub points: Vec<Point>,
}

impl Sweep {
    /// The grid as rows (one per value of the second axis) of `metric`.
    pub fn rows(&self, metric: impl Fn(&Point) -> f64) -> Vec<Vec<f64>> {
        let width = self.axes.first().map_or(1, |a| a.values.len()).max(1);
        self.points
            .chunks(width)
            .map(|row| row.iter().map(&metric).collect())
            .collect()
    }

    /// Per row, the first point along the first axis with bad debt: the
    /// critical shock when the first axis is the shock's size.
    pub fn critical(&self) -> Vec<Option<usize>> {
        self.rows(|p| p.figures.bad_debt)
            .iter()
            .map(|row| row.iter().position(|&d| d > 0.0))
            .collect()
    }
}

/// [`Sweep::critical`] as values of the first axis (`xs`), from every
/// point's bad debt in grid order: the document's `critical`, and how a
/// sweep run in shards is merged.
pub fn critical_values(xs: &[f64], bad_debt: &[f64]) -> Vec<Option<f64>> {
    bad_debt
        .chunks(xs.len().max(1))
        .map(|row| {
            let x = row.iter().position(|&d| d > 0.0);
            x.and_then(|x| xs.get(x).copied())
        })
        .collect()
}

/// The scenario file's integer fields (counts, rounds, seeds, levels): a
/// value swept over one of them is rounded to an integer. Any other number
/// is written as a float, even where the file wrote an integer (`price =
/// 2000`), so that a sweep of it is not rounded.
const INTEGER_FIELDS: [&str; 15] = [
    "max_rounds",
    "oracle_lag_rounds",
    "round",
    "count",
    "seed",
    "levels",
    "max_accounts_per_round",
    "twap_rounds",
    "heartbeat_rounds",
    "max_age_rounds",
    "window_rounds",
    "pause_rounds",
    "rounds",
    "step_rounds",
    "tail_rounds",
];

/// Sets `key` (dotted, with `[i]` indices) in `table` to `value`. The key
/// must be in the file and hold a number (or a decimal string): a sweep of
/// a value the file does not set, or of text, is refused rather than
/// quietly added.
pub fn set(table: &mut toml::Table, key: &str, value: f64) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts
        .split_last()
        .ok_or_else(|| format!("{key}: empty key"))?;
    let mut here = table;
    for part in parents {
        here = match step(here, part, key)? {
            toml::Value::Table(t) => t,
            _ => return Err(format!("{key}: `{part}` is not a table")),
        };
    }
    let slot = step(here, last, key)?;
    let (name, _) = split_index(last, key)?;
    let integer = INTEGER_FIELDS.contains(&name);
    *slot = match slot {
        toml::Value::Integer(_) | toml::Value::Float(_) if integer => {
            toml::Value::Integer(value.round() as i64)
        }
        toml::Value::Integer(_) | toml::Value::Float(_) => toml::Value::Float(value),
        toml::Value::String(text) if firesale_core::num::parse_decimal(text.trim()).is_some() => {
            toml::Value::Float(value)
        }
        other => {
            return Err(format!(
                "{key}: holds {}, not a number",
                match other {
                    toml::Value::String(t) => format!("the text `{t}`"),
                    other => format!("a {}", other.type_str()),
                }
            ))
        }
    };
    Ok(())
}

fn split_index<'k>(part: &'k str, key: &str) -> Result<(&'k str, Option<usize>), String> {
    match part.split_once('[') {
        None => Ok((part, None)),
        Some((name, rest)) => rest
            .strip_suffix(']')
            .and_then(|i| i.parse().ok())
            .map(|i| (name, Some(i)))
            .ok_or_else(|| format!("{key}: bad index in `{part}`")),
    }
}

fn step<'t>(
    table: &'t mut toml::Table,
    part: &str,
    key: &str,
) -> Result<&'t mut toml::Value, String> {
    let (name, index) = split_index(part, key)?;
    let value = table.get_mut(name).ok_or_else(|| {
        format!("{key}: the scenario has no `{name}` (a sweep varies a value the file sets)")
    })?;
    match index {
        None => Ok(value),
        Some(i) => match value {
            toml::Value::Array(items) => {
                let len = items.len();
                items
                    .get_mut(i)
                    .ok_or_else(|| format!("{key}: `{name}` has {len} elements, not {}", i + 1))
            }
            _ => Err(format!("{key}: `{name}` is not an array")),
        },
    }
}

/// Runs every grid point of `axes` over the scenario `base` (its file's
/// folder is `dir`; `positions`, CSV text, stand for the file
/// `accounts.positions` names, read again at each point), or with `shard`
/// those of its points in grid order (a shard run on a cluster's worker:
/// [`Sweep::points`] are then those), in parallel on the current rayon
/// pool.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    base: &toml::Table,
    (dir, positions): (Option<&Path>, Option<&str>),
    axes: Vec<Axis>,
    shard: Option<core::ops::Range<usize>>,
    bounds: &Bounds,
    source_bytes: usize,
    progress: &ProgressBar,
    audit: bool,
) -> Result<Sweep, Stopped> {
    check_axes(base, &axes)?;
    let xs = axes[0].values.clone();
    let ys = axes.get(1).map_or(vec![f64::NAN], |a| a.values.clone());
    let grid: Vec<Vec<f64>> = ys
        .iter()
        .flat_map(|&y| {
            xs.iter()
                .map(move |&x| if y.is_nan() { vec![x] } else { vec![x, y] })
        })
        .collect();
    let range = shard.unwrap_or(0..grid.len());
    let grid = grid.get(range.clone()).ok_or_else(|| {
        Stopped::Input(format!(
            "points {}..{} are not within the sweep's {} points",
            range.start,
            range.end,
            grid.len()
        ))
    })?;
    let points: Result<Vec<Point>, Stopped> = grid
        .to_vec()
        .into_par_iter()
        .map(|at| {
            let point = run_point(
                base,
                (dir, positions),
                &axes,
                at,
                bounds,
                source_bytes,
                audit,
            );
            progress.inc(1);
            point
        })
        .collect();
    progress.finish_and_clear();
    Ok(Sweep {
        axes,
        points: points?,
    })
}

/// The sweep as `firesale sweep --json` writes it (docs/report.md): the
/// axes, every point's figures at its coordinates, the heat map's
/// `metric`, and per row of the second axis the first value of the first
/// with bad debt.
pub fn document(label: &str, s: &Sweep, metric: &str) -> serde_json::Value {
    let points: Vec<_> = s
        .points
        .iter()
        .map(|p| {
            let mut point = crate::json::figures(&p.figures);
            point["at"] = serde_json::json!(p.at);
            point
        })
        .collect();
    let losses: Vec<f64> = s.points.iter().map(|p| p.figures.bad_debt).collect();
    let xs = s.axes.first().map_or(&[][..], |a| &a.values[..]);
    let critical = critical_values(xs, &losses);
    serde_json::json!({
        "scenario": label,
        "axes": s.axes.iter().map(|a| serde_json::json!({"key": a.key, "values": a.values})).collect::<Vec<_>>(),
        "metric": metric,
        "points": points,
        "critical": critical,
    })
}

/// Bytes a sweep of `points` points over a file of `source_bytes` keeps to
/// its end: each point's figures, and the file's table.
pub fn reserved(points: u64, source_bytes: usize) -> u64 {
    points
        .saturating_mul(crate::bounds::RESULT_BYTES)
        .saturating_add(crate::bounds::toml_bytes(source_bytes))
}

/// Runs the sweep of `axes` over `source` (with `positions`, as
/// [`sweep`] takes them), whose scenario the caller has validated within
/// `bounds`: the file's table is parsed once, the axes checked against
/// it, then every point run, or those of `shard` ([`sweep`]). The command
/// line and the Python module sweep through here.
pub fn run_source(
    (source, positions): (&crate::source::Source, Option<&str>),
    axes: Vec<Axis>,
    shard: Option<core::ops::Range<usize>>,
    bounds: &Bounds,
    progress: &ProgressBar,
    audit: bool,
) -> Result<Sweep, Stopped> {
    let base: toml::Table = toml::from_str(&source.text)
        .map_err(|e| Stopped::Input(format!("{}: {}", source.label, e.message())))?;
    check_axes(&base, &axes).map_err(|e| Stopped::Input(format!("--vary {e}")))?;
    sweep(
        &base,
        (source.dir.as_deref(), positions),
        axes,
        shard,
        bounds,
        source.text.len(),
        progress,
        audit,
    )
}

/// One or two axes, each a different key the scenario sets to a number.
pub fn check_axes(base: &toml::Table, axes: &[Axis]) -> Result<(), String> {
    if axes.is_empty() || axes.len() > 2 {
        return Err("give one or two --vary axes".into());
    }
    if let [a, b] = axes {
        if a.key == b.key {
            return Err(format!("{}: varied twice; give each key once", a.key));
        }
    }
    for axis in axes {
        let first = axis.values.first().copied().unwrap_or(0.0);
        set(&mut base.clone(), &axis.key, first)?;
    }
    Ok(())
}

/// Whether a value [`set`] at `key` is rounded to an integer (a count, a
/// round, a seed, `levels`).
pub fn is_integer(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let name = last.split('[').next().unwrap_or(last);
    INTEGER_FIELDS.contains(&name)
}

/// `key = value` for each of `keys` and its value in `at`, as messages
/// name a point.
pub fn point_name(keys: &[&str], at: &[f64]) -> String {
    keys.iter()
        .zip(at)
        .map(|(key, v)| format!("{key} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The scenario `base` with each of `keys` set to its value in `at`,
/// validated within `bounds` (`dir`, `positions` and `source_bytes` as
/// [`sweep`] takes them): a grid point's scenario, and a value a critical
/// search tries ([`crate::critical`]). A failure names the point.
pub fn scenario_at(
    base: &toml::Table,
    (dir, positions): (Option<&Path>, Option<&str>),
    keys: &[&str],
    at: &[f64],
    bounds: &Bounds,
    source_bytes: usize,
) -> Result<crate::Scenario, Stopped> {
    let mut table = base.clone();
    for (key, &value) in keys.iter().zip(at) {
        set(&mut table, key, value)?;
    }
    parse_table(table, dir, bounds, source_bytes, positions)
        .map_err(|e| Stopped::Input(format!("at {}: {e}", point_name(keys, at))))
}

fn run_point(
    base: &toml::Table,
    (dir, positions): (Option<&Path>, Option<&str>),
    axes: &[Axis],
    at: Vec<f64>,
    bounds: &Bounds,
    source_bytes: usize,
    audit: bool,
) -> Result<Point, Stopped> {
    let keys: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
    let describe = || point_name(&keys, &at);
    let scenario = scenario_at(base, (dir, positions), &keys, &at, bounds, source_bytes)?;
    let figures = observe::figures(&scenario, audit).map_err(|e| match e {
        RunError::Audit(m) => Stopped::Audit(format!("at {}: {m}", describe())),
        RunError::Invalid(m) => Stopped::Input(format!("at {}: {m}", describe())),
        RunError::Io(e) => Stopped::Input(format!("at {}: {e}", describe())),
    })?;
    Ok(Point { at, figures })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_into_even_grids_and_bad_ones_say_why() {
        let a: Axis = "shocks[0].move_price=0.9:0.5:5".parse().unwrap();
        assert_eq!(a.key, "shocks[0].move_price");
        assert_eq!(a.values.len(), 5);
        assert!((a.values[2] - 0.7).abs() < 1e-12 && a.values[4] == 0.5);
        assert!("x=1:2"
            .parse::<Axis>()
            .unwrap_err()
            .contains("KEY=FROM:TO:STEPS"));
        assert!("x=1:2:0".parse::<Axis>().unwrap_err().contains("STEPS"));
        assert!("x=1:nan:3".parse::<Axis>().unwrap_err().contains("finite"));
    }

    #[test]
    fn set_keeps_integers_integers_and_names_a_missing_key() {
        let mut t: toml::Table =
            toml::from_str("max_rounds = 5\n[[shocks]]\nmove_price = 0.8\n").unwrap();
        set(&mut t, "max_rounds", 7.4).unwrap();
        set(&mut t, "shocks[0].move_price", 0.6).unwrap();
        assert_eq!(t["max_rounds"].as_integer(), Some(7));
        assert_eq!(t["shocks"][0]["move_price"].as_float(), Some(0.6));
        assert!(set(&mut t, "shocks[3].move_price", 0.6)
            .unwrap_err()
            .contains("1 elements"));
        assert!(set(&mut t, "assets[0].price", 1.0)
            .unwrap_err()
            .contains("no `assets`"));
        assert!(set(&mut t, "insurance_fund", 1.0)
            .unwrap_err()
            .contains("no `insurance_fund`"));
        let mut u: toml::Table =
            toml::from_str("name = \"x\"\nprice = 2000\ndust = \"0.001\"\n").unwrap();
        set(&mut u, "price", 1999.5).unwrap();
        assert_eq!(
            u["price"].as_float(),
            Some(1999.5),
            "a price is not rounded"
        );
        set(&mut u, "dust", 0.002).unwrap();
        assert_eq!(u["dust"].as_float(), Some(0.002));
        assert!(set(&mut u, "name", 1.0)
            .unwrap_err()
            .contains("the text `x`"));
        let axis = |key: &str| Axis {
            key: key.into(),
            values: vec![1.0],
        };
        assert!(check_axes(&u, &[axis("price"), axis("price")])
            .unwrap_err()
            .contains("varied twice"));
        assert!(check_axes(&u, &[axis("fee")])
            .unwrap_err()
            .contains("no `fee`"));
    }
}

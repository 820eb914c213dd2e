//! Everything a run leaves in `--out DIR`: `report.json`, `timeline.csv`,
//! `events.jsonl` and the price chart `price.png` / `price.svg`.

use crate::observe::{observe_shown, Observed, RoundRow, RunError};
use crate::scenario::Scenario;
use crate::{json, plot};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Creates `dir` (and its parents) if needed.
pub fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))
}

/// Opens `dir/name` for writing. Something already there that is not a
/// regular file (a FIFO, which would block, or a device) is refused.
pub fn create(dir: &Path, name: &str) -> Result<BufWriter<File>, String> {
    let path = dir.join(name);
    if let Ok(meta) = std::fs::metadata(&path) {
        if !meta.is_file() {
            return Err(format!(
                "{}: cannot write: not a regular file (a folder, a FIFO or a device)",
                path.display()
            ));
        }
    }
    File::create(&path)
        .map(BufWriter::new)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let mut file = create(dir, name)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| format!("{}: cannot write: {e}", dir.join(name).display()))
}

/// Why [`run_into`] failed.
#[derive(Debug)]
pub enum RunIntoError {
    /// The engine refused the scenario: why, in words.
    Invalid(String),
    /// An artefact could not be written.
    Output(String),
    /// `--audit` found a book that does not balance: where, in words.
    Audit(String),
}

/// Runs `scenario` and writes every artefact into `dir`; `audit`: with the
/// conservation audit (`--audit`).
pub fn run_into(
    scenario: &Scenario,
    dir: &Path,
    audit: bool,
    progress: &indicatif::ProgressBar,
) -> Result<Observed, RunIntoError> {
    let out = RunIntoError::Output;
    create_dir(dir).map_err(out)?;
    let mut events = create(dir, "events.jsonl").map_err(out)?;
    let observed =
        observe_shown(scenario, Some(&mut events), audit, progress).map_err(|e| match e {
            RunError::Invalid(e) => RunIntoError::Invalid(e),
            RunError::Audit(f) => RunIntoError::Audit(f),
            RunError::Io(e) => out(format!(
                "{}: cannot write: {e}",
                dir.join("events.jsonl").display()
            )),
        })?;
    events.flush().map_err(|e| {
        out(format!(
            "{}: cannot write: {e}",
            dir.join("events.jsonl").display()
        ))
    })?;
    let report = json::report(scenario, &observed);
    write(dir, "report.json", &format!("{report:#}\n")).map_err(out)?;
    write(
        dir,
        "timeline.csv",
        &timeline_csv(scenario, &observed.timeline),
    )
    .map_err(out)?;
    plot::price_path(&dir.join("price"), scenario, &observed).map_err(out)?;
    Ok(observed)
}

/// The per-round timeline as CSV: one row per round, per-asset columns
/// named after the assets (the quote's are left out: its price is 1).
pub fn timeline_csv(scenario: &Scenario, timeline: &[RoundRow]) -> String {
    let mut csv =
        String::from("round,liquidations,bankruptcies,bad_debt,socialized,insurance_fund,backstopped,backstop_equity");
    for a in 1..scenario.assets.len() {
        let name = scenario.asset_name(a);
        for column in ["open", "close", "oracle", "sold", "bought", "volume_quote"] {
            csv.push_str(&format!(",{name}_{column}"));
        }
    }
    csv.push('\n');
    for row in timeline {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}",
            row.round,
            row.liquidations,
            row.bankruptcies,
            row.bad_debt,
            row.socialized,
            row.insurance_fund,
            row.backstopped,
            row.backstop_equity
        ));
        for a in row.assets.iter().skip(1) {
            csv.push_str(&format!(
                ",{},{},{},{},{},{}",
                a.open, a.close, a.oracle, a.sold, a.bought, a.volume_quote
            ));
        }
        csv.push('\n');
    }
    csv
}

//! `firesale`: run a liquidation cascade and print its report.

use firesale_harness::scenario_file::{self, MAX_FILE_BYTES};
use firesale_harness::{run_scenario, summary::summary, Scenario};
use std::process::ExitCode;

const USAGE: &str =
    "usage: firesale run [SCENARIO.toml]   run a scenario (no file: the bundled default)
       firesale check SCENARIO.toml   validate a scenario file only

Exit codes: 0 success, 2 invalid input (the message names the key and the line).";

/// Reads and parses a scenario file; the error is ready to print.
fn load(path: &str) -> Result<Scenario, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(format!(
            "{path}: the file is larger than {MAX_FILE_BYTES} bytes"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: cannot read: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{path}: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    scenario_file::parse(&text).map_err(|e| format!("{path}: {e}"))
}

fn run(scenario: &Scenario) -> ExitCode {
    match run_scenario(scenario, &mut ()) {
        Ok(outcome) => {
            print!(
                "{}",
                summary(&scenario.name, &outcome.report, outcome.digest)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: the scenario is invalid: {e:?}");
            ExitCode::from(2)
        }
    }
}

fn invalid(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["run"] => run(&Scenario::default_lending()),
        ["run", path] => match load(path) {
            Ok(s) => run(&s),
            Err(e) => invalid(&e),
        },
        ["check", path] => match load(path) {
            Ok(s) => {
                println!(
                    "{path}: valid: {} assets, {} accounts, {} shocks",
                    s.assets.len(),
                    s.accounts(),
                    s.shocks.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => invalid(&e),
        },
        ["-h"] | ["--help"] | ["help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

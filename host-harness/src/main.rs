//! `firesale`: run a liquidation cascade and print its report.

use firesale_harness::{run_scenario, summary::summary, Scenario};
use std::process::ExitCode;

const USAGE: &str =
    "usage: firesale run\n\nRuns the bundled default scenario and prints its report.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["run"] => {
            let scenario = Scenario::default_lending();
            match run_scenario(&scenario, &mut ()) {
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

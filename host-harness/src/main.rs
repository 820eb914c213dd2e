//! `firesale`: run liquidation cascades, sweep their parameters, draw
//! Monte Carlo shock paths, and write reports and plots.

mod commands;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A liquidation-cascade engine: exact fixed point, deterministic, the
/// same cascade on every target.
#[derive(Parser)]
#[command(name = "firesale", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str =
    "Exit codes: 0 success; 1 an output could not be written; 2 invalid input (the message names the key and the line).";

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print its report.
    Run {
        /// A scenario file, or the name of a bundled scenario (default: `default`).
        scenario: Option<String>,
        /// Run under a protocol's rules (`firesale compare --help` lists them).
        #[arg(long)]
        preset: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Run one scenario under several protocols' rules, side by side.
    Compare {
        /// A scenario file, or the name of a bundled scenario (default: `default`).
        scenario: Option<String>,
        /// Comma-separated presets: aave-v3, compound-v3, maker-liq2, dydx-v4,
        /// mango-v4, drift-v2, hyperliquid (default: all).
        #[arg(long, value_delimiter = ',')]
        presets: Vec<String>,
        #[command(flatten)]
        parallel: Parallel,
        #[command(flatten)]
        output: Output,
    },
    /// Validate a scenario file without running it.
    Check {
        /// A scenario file, or the name of a bundled scenario.
        scenario: String,
    },
    /// Vary one or two scenario values over a grid and run every point.
    Sweep {
        /// A scenario file, or the name of a bundled scenario (default: `default`).
        scenario: Option<String>,
        /// KEY=FROM:TO:STEPS, such as `shocks[0].move_price=0.95:0.5:10`.
        /// The first axis is the shock (x, where the critical point is
        /// sought); a second is usually liquidity (y).
        #[arg(long, required = true, num_args = 1)]
        vary: Vec<String>,
        /// The heat map's colour.
        #[arg(long, value_enum, default_value = "bad-debt")]
        metric: commands::Metric,
        #[command(flatten)]
        parallel: Parallel,
        #[command(flatten)]
        output: Output,
    },
    /// Draw random shock paths and report the distribution of bad debt.
    Montecarlo {
        /// A scenario file, or the name of a bundled scenario (default:
        /// `default`); its own shocks are replaced by the drawn paths.
        scenario: Option<String>,
        #[command(flatten)]
        model: commands::ModelArgs,
        #[command(flatten)]
        parallel: Parallel,
        #[command(flatten)]
        output: Output,
    },
    /// List the bundled scenarios.
    Scenarios,
}

/// Where results go.
#[derive(Args)]
struct Output {
    /// Print the result as JSON on standard output instead of the summary.
    #[arg(long)]
    json: bool,
    /// Write every artefact (JSON, CSV, plots) into this folder.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// How much parallelism.
#[derive(Args)]
struct Parallel {
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            preset,
            output,
        } => commands::run(
            scenario.as_deref(),
            preset.as_deref(),
            output.json,
            output.out.as_deref(),
        ),
        Command::Compare {
            scenario,
            presets,
            parallel,
            output,
        } => commands::in_pool(parallel.threads, || {
            commands::compare(
                scenario.as_deref(),
                &presets,
                output.json,
                output.out.as_deref(),
            )
        }),
        Command::Check { scenario } => commands::check(&scenario),
        Command::Sweep {
            scenario,
            vary,
            metric,
            parallel,
            output,
        } => commands::in_pool(parallel.threads, || {
            commands::sweep(
                scenario.as_deref(),
                &vary,
                metric,
                output.json,
                output.out.as_deref(),
            )
        }),
        Command::Montecarlo {
            scenario,
            model,
            parallel,
            output,
        } => commands::in_pool(parallel.threads, || {
            commands::montecarlo(
                scenario.as_deref(),
                &model,
                output.json,
                output.out.as_deref(),
            )
        }),
        Command::Scenarios => {
            commands::scenarios();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

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
    /// Memory the command may use, such as 4G or 512M (powers of 1024;
    /// default 2G). A scenario estimated to need more is refused before
    /// anything is allocated; parallel runs share it.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    /// The largest max_rounds a scenario may set, and so the latest round
    /// a shock may be scheduled in (default 100,000). The engine skips the
    /// quiet rounds before a shock, except under containment whose state
    /// moves with the rounds (a gate, an oracle rule, equilibrium
    /// settlement), where it runs every one.
    #[arg(
        long,
        global = true,
        value_name = "ROUNDS",
        allow_negative_numbers = true
    )]
    round_limit: Option<u32>,
}

const EXIT_CODES: &str =
    "Exit codes: 0 success; 1 an output could not be written; 2 invalid input (the message names the key and the line); 3 --audit found a book that does not balance.";

fn parse_size(text: &str) -> Result<u64, String> {
    firesale_harness::bounds::parse_size(text)
}

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
        /// Run the kernel's conservation audit after every unit of work that
        /// moved anything; a book that does not balance stops the command
        /// with exit code 3, naming the round, the asset, the book and by how
        /// much.
        #[arg(long)]
        audit: bool,
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
        /// Run the kernel's conservation audit after every unit of work that
        /// moved anything; a book that does not balance stops the command
        /// with exit code 3, naming the round, the asset, the book and by how
        /// much.
        #[arg(long)]
        audit: bool,
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
        /// Run the kernel's conservation audit after every unit of work that
        /// moved anything; a book that does not balance stops the command
        /// with exit code 3, naming the round, the asset, the book and by how
        /// much.
        #[arg(long)]
        audit: bool,
    },
    /// Bisect one scenario value for the point where an outcome appears:
    /// bad debt, insurance exhausted, or a broken market.
    Critical {
        /// A scenario file, or the name of a bundled scenario (default: `default`).
        scenario: Option<String>,
        /// KEY=LO:HI, such as `shocks[0].move_price=0.6:0.98`: the key (as
        /// `sweep --vary` names it) and the range searched, LO below HI.
        #[arg(long)]
        vary: String,
        /// The bracket's largest width at the end (in the key's units).
        #[arg(long, allow_negative_numbers = true)]
        tolerance: f64,
        /// What is watched for: bad debt above the threshold, bad debt the
        /// insurance fund did not cover above it, or a broken market.
        #[arg(long, default_value = "bad-debt",
              value_parser = clap::builder::PossibleValuesParser::new(firesale_harness::critical::Metric::NAMES))]
        metric: String,
        /// The measure crosses when above this (quote; default 0).
        #[arg(long, allow_negative_numbers = true)]
        threshold: Option<f64>,
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
        /// Run the kernel's conservation audit after every unit of work that
        /// moved anything; a book that does not balance stops the command
        /// with exit code 3, naming the round, the asset, the book and by how
        /// much.
        #[arg(long)]
        audit: bool,
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
    /// Worker threads, 1 to 256 (default: one per core). Results do not
    /// depend on it.
    #[arg(long, allow_negative_numbers = true)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let budget = commands::Budget {
        memory: cli
            .max_memory
            .unwrap_or(firesale_harness::bounds::DEFAULT_MEMORY),
        round_limit: cli
            .round_limit
            .unwrap_or(firesale_harness::bounds::DEFAULT_ROUND_LIMIT),
    };
    let budget = &budget;
    let result = match cli.command {
        Command::Run {
            scenario,
            preset,
            output,
            audit,
        } => commands::run(
            scenario.as_deref(),
            preset.as_deref(),
            output.json,
            output.out.as_deref(),
            audit,
            budget,
        ),
        Command::Compare {
            scenario,
            presets,
            parallel,
            output,
            audit,
        } => commands::in_pool(parallel.threads, || {
            commands::compare(
                scenario.as_deref(),
                &presets,
                output.json,
                output.out.as_deref(),
                audit,
                budget,
            )
        }),
        Command::Check { scenario } => commands::check(&scenario, budget),
        Command::Sweep {
            scenario,
            vary,
            metric,
            parallel,
            output,
            audit,
        } => commands::in_pool(parallel.threads, || {
            commands::sweep(
                scenario.as_deref(),
                &vary,
                metric,
                output.json,
                output.out.as_deref(),
                audit,
                budget,
            )
        }),
        Command::Critical {
            scenario,
            vary,
            tolerance,
            metric,
            threshold,
            parallel,
            output,
        } => commands::in_pool(parallel.threads, || {
            firesale_harness::critical::Request::new(&vary, tolerance, &metric, threshold)
                .map_err(commands::Failure::Input)
                .and_then(|request| {
                    commands::critical(
                        scenario.as_deref(),
                        &request,
                        output.json,
                        output.out.as_deref(),
                        budget,
                    )
                })
        }),
        Command::Montecarlo {
            scenario,
            model,
            parallel,
            output,
            audit,
        } => commands::in_pool(parallel.threads, || {
            commands::montecarlo(
                scenario.as_deref(),
                &model,
                output.json,
                output.out.as_deref(),
                audit,
                budget,
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

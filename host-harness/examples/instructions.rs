//! The workloads whose instructions `tests/instructions.sh` counts under
//! callgrind: each runs inside one `#[inline(never)]` function named
//! `measured_*`, and callgrind collects only inside it (`--toggle-collect`),
//! so the setup does not count. Counts do not move with machine noise.
//!
//! `cargo run --release -p firesale-harness --example instructions -- WORKLOAD`
//! with WORKLOAD one of `health2`, `health8`, `liquidation`, `cascade`.

use firesale_core::account::{health, WeightedPrice};
use firesale_core::num::Fx;
use firesale_core::{Qty, Ratio, StepOutcome};
use firesale_harness::population::health_sample;
use firesale_harness::run::{engine_sized, Buffers};
use firesale_harness::Scenario;
use std::hint::black_box;
use std::process::ExitCode;

/// Health evaluations per measured call: the script divides by it.
const EVALUATIONS: usize = 1_000;

/// `EVALUATIONS` health evaluations of one row of `assets` balances.
#[inline(never)]
fn measured_health(row: &[Qty], index: &[Ratio], weighted: &[WeightedPrice]) -> Fx {
    let mut total = Fx::ZERO;
    for _ in 0..EVALUATIONS {
        if let Ok(h) = health(black_box(row), black_box(index), black_box(weighted)) {
            total = total.wrapping_add(h.assets.0);
        }
    }
    total
}

/// `EVALUATIONS` evaluations of `population::health_sample(assets)`.
fn health_of(assets: usize) -> Fx {
    let (row, index, weighted) = health_sample(assets);
    measured_health(&row, &index, &weighted)
}

/// One unit of work: the first liquidation of the default market's cascade
/// (the unit's checkpoint, pair steps sized by the policy, the trade
/// through the pool, the ledger), in an engine sized to its two assets as
/// `run_scenario` builds it.
#[inline(never)]
fn measured_liquidation(e: &mut firesale_core::Engine<'_, 2>) -> StepOutcome {
    e.step(1, &mut ())
}

fn liquidation(s: &Scenario) -> Result<(), String> {
    let mut buffers = Buffers::new(s);
    let mut e = engine_sized::<2>(s, &mut buffers).map_err(|e| format!("{e:?}"))?;
    while e.next_liquidation().is_none() {
        if let StepOutcome::Done(t) = e.step(1, &mut ()) {
            return Err(format!("no liquidation before the end ({t:?})"));
        }
    }
    black_box(measured_liquidation(&mut e));
    Ok(())
}

/// The whole default cascade (3,000 accounts) to its fixed point.
#[inline(never)]
fn measured_cascade(s: &Scenario) -> Option<u64> {
    firesale_harness::run_scenario(s, &mut ())
        .ok()
        .map(|o| o.report.liquidations)
}

fn main() -> ExitCode {
    let workload = std::env::args().nth(1).unwrap_or_default();
    let scenario = Scenario::default_lending();
    let outcome = match workload.as_str() {
        "health2" => {
            black_box(health_of(2));
            Ok(())
        }
        "health8" => {
            black_box(health_of(8));
            Ok(())
        }
        "liquidation" => liquidation(&scenario),
        "cascade" => measured_cascade(&scenario)
            .map(|n| {
                black_box(n);
            })
            .ok_or_else(|| "the cascade failed".to_string()),
        other => Err(format!(
            "unknown workload `{other}`: health2, health8, liquidation or cascade"
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

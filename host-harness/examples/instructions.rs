//! The workloads whose instructions `tests/instructions.sh` counts under
//! callgrind: each runs inside one `#[inline(never)]` function named
//! `measured_*`, and callgrind collects only inside it (`--toggle-collect`),
//! so the setup does not count. Counts do not move with machine noise.
//!
//! `cargo run --release -p firesale-harness --example instructions -- WORKLOAD`
//! with WORKLOAD one of `health2`, `health8`, `liquidation`, `cascade`, or
//! the next engine's `next-health2`, `next-health8`, `next-liquidation`,
//! `next-bankruptcy`, `next-cascade`, `next-decline`.

use firesale_core::account::{health, WeightedPrice};
use firesale_core::num::Fx;
use firesale_core::{Qty, Ratio, StepOutcome};
use firesale_harness::next_bridge::NextRun;
use firesale_harness::population::health_sample;
use firesale_harness::run::{engine_sized, Buffers};
use firesale_harness::Scenario;
use firesale_next as next;
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

/// `EVALUATIONS` health evaluations of one row in the next number
/// representation (`firesale-next`): the same shape as `health_sample`
/// (alternating deposits and debts, a deposit index of 0.97 everywhere,
/// prices that need a division), in base units of 9 decimals against a
/// 6-decimal quote.
#[inline(never)]
fn measured_next_health(row: &[next::num::Qty], terms: &[next::account::Terms]) -> i128 {
    let mut total = 0i128;
    for _ in 0..EVALUATIONS {
        if let Ok(h) = next::account::health(black_box(row), black_box(terms)) {
            total = total.wrapping_add(h.assets.0);
        }
    }
    total
}

fn next_health_of(assets: usize) -> Result<i128, String> {
    let (row, terms) = next::fixtures::health_sample().map_err(|e| format!("{e:?}"))?;
    Ok(measured_next_health(&row[..assets], &terms[..assets]))
}

/// One liquidation unit in the next representation
/// (`next::fixtures::PairStep`): a close-factor step, or an absorb that ends
/// in the waterfall; planned on an overlay, no state saved before it.
#[inline(never)]
fn measured_next_liquidation(step: &mut next::fixtures::PairStep) -> bool {
    step.run()
}

fn next_liquidation(bankrupt: bool) -> Result<(), String> {
    let fixture = match bankrupt {
        false => next::fixtures::PairStep::new(),
        true => next::fixtures::PairStep::bankrupt(),
    };
    let mut step = fixture.map_err(|e| format!("{e:?}"))?;
    match measured_next_liquidation(black_box(&mut step)) {
        true => Ok(()),
        false => Err("the step did not liquidate".into()),
    }
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

/// A whole cascade in the engine being rebuilt (`firesale-next`), bridged
/// from the kernel's scenario (`next_bridge`): its storage is allocated
/// before, the run copies the starting balances in, builds the engine and
/// runs it to its end. Returns the liquidations.
#[inline(never)]
fn measured_next_cascade(run: &mut NextRun) -> Option<u64> {
    run.run().ok().map(|(_, r)| r.liquidations)
}

/// The fast cascade at 10^5 accounts liquidates this many times: the
/// ceilings file divides its count by it (all-in per liquidation).
const DECLINE_LIQUIDATIONS: u64 = 46_157;

fn next_cascade(s: &Scenario, expected: Option<u64>) -> Result<(), String> {
    let mut run = NextRun::from_scenario(s).map_err(|e| format!("{e:?}"))?;
    let done = measured_next_cascade(black_box(&mut run)).ok_or("the cascade failed")?;
    match expected {
        Some(n) if n != done => Err(format!("{done} liquidations where {n} were expected")),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let workload = std::env::args().nth(1).unwrap_or_default();
    let scenario = firesale_harness::markets::default_lending();
    let outcome = match workload.as_str() {
        "health2" => {
            black_box(health_of(2));
            Ok(())
        }
        "health8" => {
            black_box(health_of(8));
            Ok(())
        }
        "next-health2" => next_health_of(2).map(|h| {
            black_box(h);
        }),
        "next-health8" => next_health_of(8).map(|h| {
            black_box(h);
        }),
        "next-liquidation" => next_liquidation(false),
        "next-bankruptcy" => next_liquidation(true),
        "liquidation" => liquidation(&scenario),
        "next-cascade" => next_cascade(&scenario, None),
        "next-decline" => firesale_harness::markets::fast_cascade(100_000)
            .and_then(|s| next_cascade(&s, Some(DECLINE_LIQUIDATIONS))),
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

//! The kernel as a wasm32 module: no allocator, no wasm-bindgen, a few
//! exported functions. `run.mjs` loads it under Node and prints the same
//! golden lines as the host and the firmware; `tests/fuel` runs it under
//! wasmi with fuel metering and charges the metered workloads below.
//!
//! Exports:
//! - `golden_count() -> u32`
//! - `golden_line(index: u32) -> u32`: runs golden scenario `index` and writes
//!   its line into the buffer at `line_buffer()`; returns the line's length
//!   (0 for an unknown index or an error)
//! - `line_buffer() -> *const u8`
//!
//! Metered workloads (`tests/fuel.sh`):
//! - `health(assets: u32, evaluations: u32) -> u32`: `evaluations` health
//!   evaluations of a fixed sample row of `assets` balances
//! - `liquidation_setup(index: u32) -> u32`: builds golden scenario `index`
//!   and steps it one unit at a time until a liquidation is next; returns
//!   the units stepped (0 if none is ever next)
//! - `liquidation_unit(index: u32) -> u32`: the same, then one more unit,
//!   the liquidation; returns the units stepped. The liquidation's fuel is
//!   the difference between the two calls' fuel.
//! - `next_line() -> u32`: writes the next representation's fixtures line
//!   (`next/fixtures.txt`) into the line buffer; returns its length
//! - `next_health(assets: u32, evaluations: u32) -> u32` and
//!   `next_unit(fixture: u32, run: u32) -> u32`: the same health row and two
//!   liquidation units in the next number representation (`firesale-next`,
//!   issue 21)
//! - `cascade(index: u32) -> u32`: runs golden scenario `index` to its end,
//!   as `golden_line` does but without writing the line; returns the low 32
//!   bits of its digest (0 for an unknown index or an error)
//! - `next_golden_line(index: u32) -> u32` and `next_cascade(index: u32) ->
//!   u32`: the same in the engine being rebuilt (`firesale_golden::next`)
#![cfg_attr(target_arch = "wasm32", no_std)]

use core::fmt::Write;
use core::hint::black_box;
use core::sync::atomic::{AtomicU8, Ordering};
use firesale_core::account::{self, WeightedPrice};
use firesale_core::num::Fx;
use firesale_core::{Engine, Qty, Ratio, StepOutcome};
use firesale_next as next;

const LINE_CAPACITY: usize = 256;

/// The line buffer, as atomics so no `unsafe` is needed to write it; on
/// wasm32 an atomic byte has the layout of a byte, so the host reads it as
/// plain memory.
static LINE: [AtomicU8; LINE_CAPACITY] = [const { AtomicU8::new(0) }; LINE_CAPACITY];

struct LineWriter {
    len: usize,
}

impl Write for LineWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            let slot = LINE.get(self.len).ok_or(core::fmt::Error)?;
            slot.store(b, Ordering::Relaxed);
            self.len += 1;
        }
        Ok(())
    }
}

/// Number of golden scenarios.
#[no_mangle]
pub extern "C" fn golden_count() -> u32 {
    firesale_golden::COUNT as u32
}

/// Address of the line buffer.
#[no_mangle]
pub extern "C" fn line_buffer() -> *const u8 {
    LINE.as_ptr().cast()
}

/// Runs golden scenario `index`; writes its line; returns the length.
#[no_mangle]
pub extern "C" fn golden_line(index: u32) -> u32 {
    let mut buffers = firesale_golden::Buffers::default();
    let Ok(outcome) = firesale_golden::run(index as usize, &mut buffers, &mut ()) else {
        return 0;
    };
    let mut writer = LineWriter { len: 0 };
    match firesale_golden::line(index as usize, &outcome, &mut writer) {
        Ok(()) => writer.len as u32,
        Err(_) => 0,
    }
}

/// Runs golden scenario `index` in the engine being rebuilt
/// (`firesale_golden::next`); writes its line; returns the length.
#[no_mangle]
pub extern "C" fn next_golden_line(index: u32) -> u32 {
    let mut buffers = firesale_golden::next::Buffers::default();
    let Ok(outcome) = firesale_golden::next::run(index as usize, &mut buffers, &mut ()) else {
        return 0;
    };
    let mut writer = LineWriter { len: 0 };
    match firesale_golden::next::line(index as usize, &outcome, &mut writer) {
        Ok(()) => writer.len as u32,
        Err(_) => 0,
    }
}

/// Runs next golden scenario `index` to its end; returns the low 32 bits of
/// its digest (0 for an unknown index or an error).
#[no_mangle]
pub extern "C" fn next_cascade(index: u32) -> u32 {
    let mut buffers = firesale_golden::next::Buffers::default();
    firesale_golden::next::run(index as usize, &mut buffers, &mut ()).map_or(0, |o| o.digest as u32)
}

/// Runs golden scenario `index` to its end; returns the low 32 bits of its
/// digest.
#[no_mangle]
pub extern "C" fn cascade(index: u32) -> u32 {
    let mut buffers = firesale_golden::Buffers::default();
    firesale_golden::run(index as usize, &mut buffers, &mut ()).map_or(0, |o| o.digest as u32)
}

/// Most assets in a [`health`] sample (the kernel's own limit).
const SAMPLE_ASSETS: usize = 32;

/// A fixed row for [`health`], built from integers: balances alternate
/// between deposits of `10 + i` and debts of `3 + i`, every deposit index is
/// 0.97, and asset `i`'s weighted prices are `0.8 (1 + i)` and `1.2 (1 + i)`
/// (the host's `population::health_sample`, without its floats).
struct HealthSample {
    row: [Qty; SAMPLE_ASSETS],
    index: [Ratio; SAMPLE_ASSETS],
    weighted: [WeightedPrice; SAMPLE_ASSETS],
}

impl HealthSample {
    fn new() -> Self {
        let mut sample = Self {
            row: [Qty::ZERO; SAMPLE_ASSETS],
            index: [Ratio(Fx::from_num(97) / 100); SAMPLE_ASSETS],
            weighted: [WeightedPrice::default(); SAMPLE_ASSETS],
        };
        for (i, (b, w)) in sample.row.iter_mut().zip(&mut sample.weighted).enumerate() {
            let i = i as i32;
            *b = match i % 2 {
                0 => Qty::from_int((10 + i).into()),
                _ => Qty::from_int((-3 - i).into()),
            };
            *w = WeightedPrice {
                asset: Fx::from_num(4 * (1 + i)) / 5,
                liability: Fx::from_num(6 * (1 + i)) / 5,
            };
        }
        sample
    }
}

/// `evaluations` health evaluations of the first `assets` assets of the
/// sample row; returns the low bits of the sum of their weighted assets (0
/// for more than 32 assets).
#[no_mangle]
pub extern "C" fn health(assets: u32, evaluations: u32) -> u32 {
    let sample = HealthSample::new();
    let n = assets as usize;
    let (Some(row), Some(index), Some(weighted)) = (
        sample.row.get(..n),
        sample.index.get(..n),
        sample.weighted.get(..n),
    ) else {
        return 0;
    };
    let mut total = Fx::ZERO;
    for _ in 0..evaluations {
        if let Ok(h) = account::health(black_box(row), black_box(index), black_box(weighted)) {
            total = total.wrapping_add(h.assets.0);
        }
    }
    total.to_bits() as u32
}

/// `evaluations` health evaluations of the first `assets` assets of the
/// next representation's sample row (`next::fixtures::health_sample`);
/// returns the low bits of the sum of their weighted assets (0 for more
/// assets than the sample holds or a failed set-up).
#[no_mangle]
pub extern "C" fn next_health(assets: u32, evaluations: u32) -> u32 {
    let Ok((row, terms)) = next::fixtures::health_sample() else {
        return 0;
    };
    let n = assets as usize;
    let (Some(row), Some(terms)) = (row.get(..n), terms.get(..n)) else {
        return 0;
    };
    let mut total = 0i128;
    for _ in 0..evaluations {
        if let Ok(h) = next::account::health(black_box(row), black_box(terms)) {
            total = total.wrapping_add(h.assets.0);
        }
    }
    total as u32
}

/// Writes the next representation's fixtures line
/// (`next::fixtures::line`, committed in `next/fixtures.txt`) into the
/// line buffer; returns its length (0 on an error).
#[no_mangle]
pub extern "C" fn next_line() -> u32 {
    let mut writer = LineWriter { len: 0 };
    match next::fixtures::line(&mut writer) {
        Ok(()) => writer.len as u32,
        Err(_) => 0,
    }
}

/// Builds a liquidation unit of the next representation
/// (`next::fixtures::PairStep`: `fixture` 0 a close-factor step, 1 an
/// absorb that ends in the waterfall) and, if `run` is 1, runs it; returns
/// 1 if it liquidated, else 0.
#[no_mangle]
pub extern "C" fn next_unit(fixture: u32, run: u32) -> u32 {
    let built = match fixture {
        0 => next::fixtures::PairStep::new(),
        _ => next::fixtures::PairStep::bankrupt(),
    };
    let Ok(mut unit) = built else {
        return 0;
    };
    let unit = black_box(&mut unit);
    u32::from(run == 1 && unit.run())
}

/// Steps `engine` one unit at a time until a liquidation is next; the units
/// stepped, or `None` if the run ends first.
fn to_first_liquidation(engine: &mut Engine<'_, { firesale_golden::MAX_ASSETS }>) -> Option<u32> {
    let mut steps = 0u32;
    while engine.next_liquidation().is_none() {
        if let StepOutcome::Done(_) = engine.step(1, &mut ()) {
            return None;
        }
        steps += 1;
    }
    Some(steps)
}

/// Builds golden scenario `index` and steps it to just before its first
/// liquidation; returns the units stepped (0 if no liquidation comes).
#[no_mangle]
pub extern "C" fn liquidation_setup(index: u32) -> u32 {
    let mut buffers = firesale_golden::Buffers::default();
    firesale_golden::with_engine(index as usize, &mut buffers, |engine| {
        to_first_liquidation(engine).unwrap_or(0)
    })
    .unwrap_or(0)
}

/// [`liquidation_setup`], then one more unit: the first liquidation. Returns
/// the units stepped in all (0 if no liquidation comes).
#[no_mangle]
pub extern "C" fn liquidation_unit(index: u32) -> u32 {
    let mut buffers = firesale_golden::Buffers::default();
    firesale_golden::with_engine(index as usize, &mut buffers, |engine| {
        to_first_liquidation(engine).map_or(0, |steps| {
            black_box(engine.step(1, &mut ()));
            steps + 1
        })
    })
    .unwrap_or(0)
}

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

//! Runs every golden scenario with the kernel on a Cortex-M3, from stack
//! storage, with no allocator; prints each golden line and the stack
//! high-water mark over semihosting; exits through semihosting with success
//! only if every scenario ran (QEMU passes the status back).
//!
//! Stack high-water mark: the free RAM between the end of static data and
//! the stack pointer is painted with a pattern first; after the runs, the
//! lowest word no longer holding it marks the deepest the stack went.
#![no_std]
#![no_main]

use core::fmt::Write;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

mod stack;
use stack::{paint_stack, stack_bounds, stack_high_water};

/// With the `defmt` feature the device sends only interned format ids and
/// raw values; `defmt-print` formats the same line on the host.
#[cfg(feature = "defmt")]
fn report(index: usize, outcome: &firesale_golden::Outcome) {
    use defmt_semihosting as _;
    use firesale_core::Termination;
    let end = match outcome.termination {
        Termination::FixedPoint => "fixed-point",
        Termination::RoundCap => "round-cap",
        Termination::MarketBroken { .. } => "market-broken",
        Termination::Failed(_) => "failed",
    };
    defmt::println!(
        "golden {=usize} {=str} digest={=u64:016x} rounds={=u32} liquidations={=u64} end={=str}",
        index,
        firesale_golden::NAMES.get(index).copied().unwrap_or("?"),
        outcome.digest,
        outcome.report.rounds,
        outcome.report.liquidations,
        end
    );
}

#[cfg(not(feature = "defmt"))]
fn report(index: usize, outcome: &firesale_golden::Outcome) {
    let mut line: heapless::String<160> = heapless::String::new();
    let _ = firesale_golden::line(index, outcome, &mut line);
    hprintln!("{}", line.as_str());
}

#[inline(never)]
fn run_goldens() -> bool {
    let mut buffers = firesale_golden::Buffers::default();
    let mut all_ran = true;
    for index in 0..firesale_golden::COUNT {
        match firesale_golden::run(index, &mut buffers, &mut ()) {
            Ok(outcome) => report(index, &outcome),
            Err(e) => {
                all_ran = false;
                let mut line: heapless::String<160> = heapless::String::new();
                let _ = write!(line, "golden {index} error {e:?}");
                hprintln!("{}", line.as_str());
            }
        }
    }
    all_ran
}

#[entry]
fn main() -> ! {
    paint_stack();
    let ok = run_goldens();
    let (bottom, top) = stack_bounds();
    let (used, free) = (stack_high_water(), top - bottom);
    #[cfg(feature = "defmt")]
    defmt::println!(
        "stack high-water {=usize} bytes of {=usize} free",
        used,
        free
    );
    #[cfg(not(feature = "defmt"))]
    hprintln!("stack high-water {} bytes of {} free", used, free);
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

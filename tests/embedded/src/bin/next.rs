//! The next number representation's fixtures (`firesale-next`, issue 21) on
//! the Cortex-M3: prints the line the host commits in `next/fixtures.txt`
//! (on this 32-bit target every fixed divisor divides by its reciprocal)
//! and the stack high-water mark, then exits through semihosting.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

const PAINT: u32 = 0xF1E5_A1E5;
const SAFETY_WORDS: usize = 64;

extern "C" {
    static __sheap: u32;
    static _stack_start: u32;
}

fn stack_bounds() -> (usize, usize) {
    (
        core::ptr::addr_of!(__sheap) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    )
}

#[entry]
fn main() -> ! {
    let (bottom, top) = stack_bounds();
    let end = (cortex_m::register::msp::read() as usize).saturating_sub(SAFETY_WORDS * 4);
    let mut at = bottom;
    while at < end {
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
    let mut line: heapless::String<160> = heapless::String::new();
    let ok = firesale_next::fixtures::line(&mut line).is_ok();
    hprintln!("{}", line.as_str());
    let mut at = bottom;
    while at < top && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    hprintln!("stack high-water {} bytes", top - at);
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

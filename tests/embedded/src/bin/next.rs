//! The next number representation's fixtures (`firesale-next`, issue 21) on
//! the Cortex-M3: prints the line the host commits in `next/fixtures.txt`
//! (on this 32-bit target every fixed divisor divides by its reciprocal)
//! and the stack high-water mark, then exits through semihosting.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

#[path = "../stack.rs"]
mod stack;

#[entry]
fn main() -> ! {
    stack::paint_stack();
    let mut line: heapless::String<160> = heapless::String::new();
    let ok = firesale_next::fixtures::line(&mut line).is_ok();
    hprintln!("{}", line.as_str());
    hprintln!("stack high-water {} bytes", stack::stack_high_water());
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

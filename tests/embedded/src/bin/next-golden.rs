//! The golden scenarios in the engine being rebuilt (`firesale-next`,
//! issue 21) on the Cortex-M3: prints the lines the host commits in
//! `tests/golden/next-digests.txt` and the stack high-water mark, then
//! exits through semihosting. Its flash and stack are issue 21's firmware
//! floor (`tests/targets.sh` prints them): nothing else is linked in.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

#[path = "../stack.rs"]
mod stack;

#[entry]
fn main() -> ! {
    stack::paint_stack();
    let mut ok = true;
    let mut line: heapless::String<160> = heapless::String::new();
    let mut buffers = firesale_golden::next::Buffers::default();
    for index in 0..firesale_golden::COUNT {
        line.clear();
        let run = firesale_golden::next::run(index, &mut buffers, &mut ());
        match run.map(|o| firesale_golden::next::line(index, &o, &mut line)) {
            Ok(Ok(())) => hprintln!("{}", line.as_str()),
            _ => {
                hprintln!("next golden {} error", index);
                ok = false;
            }
        }
    }
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

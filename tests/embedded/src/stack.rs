//! The stack high-water mark: the free RAM between the end of static data
//! and the stack pointer is painted with a pattern first; after the runs,
//! the lowest word no longer holding it marks the deepest the stack went.
//! Shared by the firmware's binaries.

const PAINT: u32 = 0xF1E5_A1E5;
/// Words left unpainted below the stack pointer at the time of painting.
const SAFETY_WORDS: usize = 64;

extern "C" {
    static __sheap: u32;
    static _stack_start: u32;
}

pub fn stack_bounds() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken.
    (
        core::ptr::addr_of!(__sheap) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    )
}

pub fn paint_stack() {
    let (bottom, _) = stack_bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let end = sp.saturating_sub(SAFETY_WORDS * 4);
    let mut at = bottom;
    while at < end {
        // SAFETY: [bottom, end) is RAM above static data and below the
        // live stack; nothing else uses it yet.
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

pub fn stack_high_water() -> usize {
    let (bottom, top) = stack_bounds();
    let mut at = bottom;
    // SAFETY: reads of the painted RAM region.
    while at < top && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    top - at
}

//! The kernel as a wasm32 module: no allocator, no wasm-bindgen, three
//! exported functions. `run.mjs` loads it under Node and prints the same
//! golden lines as the host and the firmware.
//!
//! Exports:
//! - `golden_count() -> u32`
//! - `golden_line(index: u32) -> u32`: runs golden scenario `index` and writes
//!   its line into the buffer at `line_buffer()`; returns the line's length
//!   (0 for an unknown index or an error)
//! - `line_buffer() -> *const u8`
#![cfg_attr(target_arch = "wasm32", no_std)]

use core::fmt::Write;
use core::sync::atomic::{AtomicU8, Ordering};

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

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

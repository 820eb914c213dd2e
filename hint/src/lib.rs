//! # firesale-hint
//!
//! [`prefetch`] asks the processor to start loading the cache line that
//! holds a value, and returns at once. The kernel calls it for data it will
//! read a little later and that is likely to miss the caches: the row and
//! flags of the account the next liquidation takes.
//!
//! A prefetch is only a hint. It never faults, writes nothing, and has no
//! effect a program can observe except time, so a run's results and
//! digests are the same with it or without it (the golden digests in CI
//! check this on every target). It is an instruction only on x86-64, where
//! the kernel's big runs happen. Everywhere else it compiles to nothing:
//! Cortex-M (most have no data cache, and a 24-account firmware's state
//! fits in its RAM anyway), wasm32 (which has no prefetch), and Miri.
//!
//! The kernel forbids `unsafe` in its own source. The instruction needs one
//! `unsafe` block, so it lives here, in a crate of one function, where it
//! can be audited alone. A plain load cannot stand in for it: a load that
//! misses holds up the instructions after it once the processor's reorder
//! window fills, while a prefetch retires at once and lets the work go on
//! under the miss (docs/performance.md, "Prefetching").
#![no_std]

/// Starts loading the cache line that holds `value` into every cache level.
/// Takes a reference, so the address is always that of a live value.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 processor has
    // (it is in the target's baseline). The address comes from a live
    // reference, and a prefetch reads nothing architecturally and never
    // faults, whatever the address.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = value;
}

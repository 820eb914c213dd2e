//! A seeded xorshift64 generator for the kernel's randomized unit tests:
//! no dependency, the same sequence on every target.

/// Successive 64-bit values from a nonzero `seed`.
pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

//! The state digest: a 64-bit hash over a canonical sequence of 64-bit words.
//!
//! It is a fingerprint, not a cryptographic hash: it tells two runs apart
//! reliably enough to compare targets, and an adversary who wants a collision
//! can find one. The encoding (docs/semantics.md) feeds every number of the
//! state in a fixed order as integers, never as memory: an `I80F48` as the
//! low then the high 64 bits of its bits, a `u32` or `u64` as one word, a
//! tag string one byte per word. It is the same on every target whatever
//! its endianness or pointer width.
//!
//! Each word costs one multiply: `h = (h ^ w)·K`, then `h ^= h >> 32`. Both
//! steps are bijections of `h`, so changing any one word changes the
//! digest. (Version 1 was FNV-1a one byte at a time, sixteen dependent
//! multiplies per number: 35 ms of a million-account run.)

use crate::num::Fx;

/// The first 64 bits of the fractional part of √2 (a nothing-up-my-sleeve
/// starting value).
const SEED: u64 = 0x6a09_e667_f3bc_c908;
/// An odd multiplier with well-spread bits (2^64 / φ, rounded to odd).
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// The digest's hasher over canonical words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Self(SEED)
    }
}

impl Digest {
    /// Feeds one 64-bit word.
    pub fn u64(&mut self, word: u64) {
        let h = (self.0 ^ word).wrapping_mul(MULTIPLIER);
        self.0 = h ^ (h >> 32);
    }
    /// Feeds a tag, one byte per word.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.u64(u64::from(b));
        }
    }
    /// Feeds a fixed-point number: the low, then the high half of its bits.
    pub fn fx(&mut self, x: Fx) {
        let bits = x.to_bits();
        // The halves of the bits: truncation is the point.
        self.u64(bits as u64);
        self.u64((bits >> 64) as u64);
    }
    /// Feeds a `u32`.
    pub fn u32(&mut self, x: u32) {
        self.u64(u64::from(x));
    }
    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(words: &[u64]) -> u64 {
        let mut d = Digest::default();
        words.iter().for_each(|&w| d.u64(w));
        d.finish()
    }

    #[test]
    fn every_single_word_change_shows() {
        let base = [0u64, 1, u64::MAX, 1 << 63, 42];
        for i in 0..base.len() {
            for flip in [1u64, 1 << 31, 1 << 32, 1 << 63] {
                let mut changed = base;
                changed[i] ^= flip;
                assert_ne!(of(&base), of(&changed), "word {i}, bit mask {flip:#x}");
            }
        }
    }

    #[test]
    fn order_matters_and_words_are_not_bytes() {
        assert_ne!(of(&[1, 2]), of(&[2, 1]));
        let mut fx = Digest::default();
        fx.fx(Fx::from_bits(-1));
        assert_eq!(fx.finish(), of(&[u64::MAX, u64::MAX]));
        let mut small = Digest::default();
        small.u32(7);
        assert_eq!(small.finish(), of(&[7]));
        assert_ne!(of(&[7]), of(&[7, 0]), "a trailing zero word counts");
    }

    /// Known answers, computed outside Rust: the golden digests of every
    /// target rest on this function, so a change here must be deliberate.
    #[test]
    fn known_answers() {
        assert_eq!(Digest::default().finish(), 0x6a09_e667_f3bc_c908);
        assert_eq!(of(&[5]), 0x40a0_cc4b_4000_065a);
        let mut tag = Digest::default();
        tag.bytes(b"firesale");
        assert_eq!(tag.finish(), 0xeea9_d572_e377_f79c);
    }
}

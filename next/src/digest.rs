//! A 64-bit fingerprint over a canonical sequence of 64-bit words, the same
//! on every target: each number is fed as integers, never as memory, so
//! neither endianness nor pointer width can change it. Each word costs one
//! multiply, `h = (h ^ w)·K` then `h ^= h >> 32`; both steps are bijections
//! of `h`, so changing any one word changes the result. It tells runs apart
//! across targets; it is not a cryptographic hash.

/// The first 64 bits of the fractional part of √2.
const SEED: u64 = 0x6a09_e667_f3bc_c908;
/// 2^64 / φ, rounded to odd.
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hasher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Self(SEED)
    }
}

impl Digest {
    /// Feeds one word.
    pub fn u64(&mut self, word: u64) {
        let h = (self.0 ^ word).wrapping_mul(MULTIPLIER);
        self.0 = h ^ (h >> 32);
    }
    /// Feeds a signed word (its two's-complement bits).
    pub fn i64(&mut self, x: i64) {
        self.u64(x as u64);
    }
    /// Feeds a 128-bit number: its low, then its high half.
    pub fn i128(&mut self, x: i128) {
        // The halves of the bits: truncation is the point.
        self.u64(x as u64);
        self.u64((x >> 64) as u64);
    }
    /// Feeds a tag, one byte per word.
    pub fn bytes(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.u64(u64::from(b)));
    }
    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_and_its_order_count() {
        let feed = |words: &[u64]| {
            let mut d = Digest::default();
            words.iter().for_each(|&w| d.u64(w));
            d.finish()
        };
        assert_ne!(feed(&[1, 2]), feed(&[2, 1]));
        assert_ne!(feed(&[0]), feed(&[]));
        assert_ne!(feed(&[1 << 63]), feed(&[1]));
        let mut d = Digest::default();
        d.i128(-1);
        assert_eq!(d.finish(), feed(&[u64::MAX, u64::MAX]));
    }
}

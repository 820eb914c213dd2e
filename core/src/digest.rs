//! The state digest: FNV-1a (64-bit) over a canonical little-endian encoding.
//!
//! FNV-1a is a fingerprint, not a cryptographic hash: it tells two runs apart
//! reliably enough to compare targets, and an adversary who wants a collision
//! can find one. The encoding (docs/semantics.md) writes every number of the
//! state in a fixed order: `I80F48` as the 16 little-endian bytes of its bits,
//! integers as little-endian `u32`/`u64`, so it is the same on every target
//! whatever its endianness or pointer width.

use crate::num::Fx;

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a hasher over canonical encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Self(OFFSET_BASIS)
    }
}

impl Digest {
    /// Feeds raw bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }
    /// Feeds a fixed-point number.
    pub fn fx(&mut self, x: Fx) {
        self.bytes(&x.to_bits().to_le_bytes());
    }
    /// Feeds a `u32`.
    pub fn u32(&mut self, x: u32) {
        self.bytes(&x.to_le_bytes());
    }
    /// Feeds a `u64`.
    pub fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
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
    fn matches_the_published_fnv1a_vectors() {
        let mut d = Digest::default();
        assert_eq!(d.finish(), 0xcbf2_9ce4_8422_2325);
        d.bytes(b"a");
        assert_eq!(d.finish(), 0xaf63_dc4c_8601_ec8c);
        let mut foobar = Digest::default();
        foobar.bytes(b"foobar");
        assert_eq!(foobar.finish(), 0x8594_4171_f739_67e8);
    }
}

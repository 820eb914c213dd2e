//! Division by a divisor fixed in advance, without a division instruction.
//!
//! A price's `10^exponent`, the deposit index's scale and a ratio's scale are
//! divisors known long before they divide: each is inverted once, and every
//! later quotient is a 64-by-64-bit multiply and a few additions (Möller and
//! Granlund, "Improved division by invariant integers", IEEE Trans. Computers
//! 60(2), 2011, algorithm 4). On x86-64 that replaces a call into the 128-bit
//! division routine; on wasm32 and thumbv7, where that routine is a loop in
//! software, it replaces the loop.

/// A nonzero divisor under 2^64 with its precomputed reciprocal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Divisor {
    /// The divisor.
    d: u64,
    /// The divisor shifted left until its top bit is set.
    normalized: u64,
    /// `⌊(2^128 − 1) / normalized⌋ − 2^64`.
    reciprocal: u64,
    /// How far it was shifted.
    shift: u32,
}

impl Divisor {
    /// Inverts `d`; `None` for zero. One 128-bit division, here only.
    pub const fn new(d: u64) -> Option<Self> {
        if d == 0 {
            return None;
        }
        let shift = d.leading_zeros();
        let normalized = d << shift;
        // normalized >= 2^63, so the quotient is in [2^64, 2^65): its low
        // 64 bits are the reciprocal.
        let reciprocal = match u128::MAX.checked_div(normalized as u128) {
            Some(r) => r as u64,
            None => return None,
        };
        Some(Self {
            d,
            normalized,
            reciprocal,
            shift,
        })
    }

    /// The divisor.
    pub const fn get(&self) -> u64 {
        self.d
    }

    /// `(⌊n / d⌋, n mod d)`, or `None` when the quotient does not fit 64 bits.
    #[inline]
    pub fn div_rem(&self, n: u128) -> Option<(u64, u64)> {
        // The quotient fits iff n < d·2^64, i.e. n's high half is below d;
        // then shifting n by `shift` loses nothing.
        let (hi, lo) = ((n >> 64) as u64, n as u64);
        if hi >= self.d {
            return None;
        }
        // n·2^shift, as two words: hi < d keeps it under 2^128.
        let (u1, u0) = match self.shift {
            0 => (hi, lo),
            s => ((hi << s) | (lo >> 64u32.wrapping_sub(s)), lo << s),
        };
        let n = (u128::from(u1) << 64) | u128::from(u0);
        let d = self.normalized;
        let product = u128::from(self.reciprocal)
            .wrapping_mul(u128::from(u1))
            .wrapping_add(n);
        let mut q = ((product >> 64) as u64).wrapping_add(1);
        let mut r = u0.wrapping_sub(q.wrapping_mul(d));
        if r > product as u64 {
            q = q.wrapping_sub(1);
            r = r.wrapping_add(d);
        }
        if r >= d {
            q = q.wrapping_add(1);
            r = r.wrapping_sub(d);
        }
        Some((q, r >> self.shift))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(n: u128, d: u64) {
        let divisor = Divisor::new(d).unwrap();
        let expected = (n / u128::from(d), (n % u128::from(d)) as u64);
        match divisor.div_rem(n) {
            Some((q, r)) => assert_eq!((u128::from(q), r), expected, "{n} / {d}"),
            None => assert!(expected.0 > u128::from(u64::MAX), "{n} / {d} refused"),
        }
    }

    proptest! {
        #[test]
        fn quotient_and_remainder_are_exact(n in any::<u128>(), d in 1u64.., shift in 0u32..64) {
            // Small divisors too: every normalization shift is exercised.
            check(n, d);
            check(n, (d >> shift).max(1));
            check(n >> 64, d);
        }
    }

    #[test]
    fn edges() {
        assert_eq!(Divisor::new(0), None);
        for d in [1, 2, 3, 10, 1 << 63, u64::MAX, 1_000_000_000_000_000_000] {
            for n in [0, 1, u128::from(d) - 1, u128::from(d), u128::from(u64::MAX)] {
                check(n, d);
            }
            // The largest n whose quotient fits, and the first that does not.
            let top = u128::from(d) << 64;
            check(top - 1, d);
            assert_eq!(Divisor::new(d).unwrap().div_rem(top), None);
        }
    }
}

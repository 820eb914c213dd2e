//! Division by a divisor fixed in advance, without a division instruction.
//!
//! A price's `10^exponent`, the deposit index's scale and a ratio's scale are
//! divisors known long before they divide: each is inverted once, and every
//! later quotient is a 64-by-64-bit multiply and a few additions (Möller and
//! Granlund, "Improved division by invariant integers", IEEE Trans. Computers
//! 60(2), 2011, algorithm 4). On x86-64 that replaces a call into the 128-bit
//! division routine; on wasm32 and thumbv7, where that routine is a loop in
//! software, it replaces the loop.

/// `a × b` in full. One instruction on 64-bit targets; elsewhere four
/// 32 × 32-bit products ([`widening_mul_by_halves`]), where the compiler's
/// 128-bit multiply is a call that multiplies all 128 bits.
#[inline]
pub fn widening_mul(a: u64, b: u64) -> u128 {
    #[cfg(target_pointer_width = "64")]
    return u128::from(a).wrapping_mul(u128::from(b));
    #[cfg(not(target_pointer_width = "64"))]
    return widening_mul_by_halves(a, b);
}

/// `a × b` from the four products of their 32-bit halves.
#[inline]
pub fn widening_mul_by_halves(a: u64, b: u64) -> u128 {
    const LOW: u64 = 0xFFFF_FFFF;
    let (a1, a0, b1, b0) = (a >> 32, a & LOW, b >> 32, b & LOW);
    // Each product of halves is below 2^64; `middle` below 3·2^32.
    let (p00, p01, p10, p11) = (
        a0.wrapping_mul(b0),
        a0.wrapping_mul(b1),
        a1.wrapping_mul(b0),
        a1.wrapping_mul(b1),
    );
    let middle = (p00 >> 32).wrapping_add(p01 & LOW).wrapping_add(p10 & LOW);
    let low = (middle << 32) | (p00 & LOW);
    let high = p11
        .wrapping_add(p01 >> 32)
        .wrapping_add(p10 >> 32)
        .wrapping_add(middle >> 32);
    (u128::from(high) << 64) | u128::from(low)
}

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
        let product = widening_mul(self.reciprocal, u1).wrapping_add(n);
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
        fn the_product_by_halves_is_the_product(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(widening_mul_by_halves(a, b), u128::from(a) * u128::from(b));
            prop_assert_eq!(widening_mul(a, b), u128::from(a) * u128::from(b));
        }

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

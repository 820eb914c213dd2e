//! Integer primitives under the fixed-point layer: a 128 × 128 → 256-bit
//! product, a 256 / 128-bit quotient, and the directed rounding of both.
//!
//! `fixed` rounds every product and quotient one way. The kernel must pick the
//! direction per call (see [`Round`]), so it multiplies and divides the raw
//! `i128` bits itself. All arithmetic here is on magnitudes (`u128`), with the
//! sign applied last; nothing can wrap or panic.

use super::Round;

/// Fractional bits of `I80F48`.
pub(crate) const FRAC_BITS: u32 = 48;
const LOW_MASK_64: u128 = (1u128 << 64).wrapping_sub(1);
const FRAC_MASK: u128 = (1u128 << FRAC_BITS).wrapping_sub(1);

/// Full product of two `u128` as `(high, low)` halves.
pub(crate) fn mul_u128_wide(a: u128, b: u128) -> (u128, u128) {
    let (a_hi, a_lo) = (a >> 64, a & LOW_MASK_64);
    let (b_hi, b_lo) = (b >> 64, b & LOW_MASK_64);
    // Each partial product of two 64-bit halves fits in 128 bits.
    let lo_lo = a_lo.wrapping_mul(b_lo);
    let lo_hi = a_lo.wrapping_mul(b_hi);
    let hi_lo = a_hi.wrapping_mul(b_lo);
    let hi_hi = a_hi.wrapping_mul(b_hi);
    // Three terms below 2^64 each: the sum stays below 2^66.
    let middle = (lo_lo >> 64)
        .wrapping_add(lo_hi & LOW_MASK_64)
        .wrapping_add(hi_lo & LOW_MASK_64);
    let low = (lo_lo & LOW_MASK_64) | ((middle & LOW_MASK_64) << 64);
    // The full product is below 2^256, so the high half cannot wrap.
    let high = hi_hi
        .wrapping_add(lo_hi >> 64)
        .wrapping_add(hi_lo >> 64)
        .wrapping_add(middle >> 64);
    (high, low)
}

/// `(high·2^128 + low) / divisor` as `(quotient, remainder)`, or `None` when
/// the quotient does not fit in 128 bits or the divisor is zero.
pub(crate) fn div_wide_u128(high: u128, low: u128, divisor: u128) -> Option<(u128, u128)> {
    if divisor == 0 || high >= divisor {
        return None;
    }
    if high == 0 {
        return div_rem_u128(low, divisor);
    }
    if divisor >> 64 == 0 {
        // Two steps of 64 bits: each partial numerator stays below
        // divisor · 2^64, which fits in 128 bits.
        let upper = (high << 64) | (low >> 64);
        let (q1, r1) = div_rem_u128(upper, divisor)?;
        let lower = (r1 << 64) | (low & LOW_MASK_64);
        let (q0, r0) = div_rem_u128(lower, divisor)?;
        return Some(((q1 << 64) | q0, r0));
    }
    // Schoolbook division in base 2^64 (Knuth's algorithm D): normalise
    // the divisor so its top bit is set, then find two quotient digits.
    let shift = divisor.leading_zeros();
    let d = divisor << shift;
    let (n_high, n_low) = if shift == 0 {
        (high, low)
    } else {
        (
            (high << shift) | (low >> 128u32.wrapping_sub(shift)),
            low << shift,
        )
    };
    let (q1, r1) = quotient_digit(n_high, n_low >> 64, d)?;
    let (q0, r0) = quotient_digit(r1, n_low & LOW_MASK_64, d)?;
    Some(((q1 << 64) | q0, r0 >> shift))
}

/// `n / d` and its remainder, `None` for a zero divisor. One library
/// division: the remainder is `n − q·d`, which cannot wrap (`q·d ≤ n`),
/// where `checked_rem` would divide a second time.
fn div_rem_u128(n: u128, d: u128) -> Option<(u128, u128)> {
    let q = n.checked_div(d)?;
    Some((q, n.wrapping_sub(q.wrapping_mul(d))))
}

/// One digit of a base-2^64 long division: `(r·2^64 + digit) / d` and its
/// remainder, for a normalised `d` (top bit set) and `r < d`. The estimate
/// from the leading digits is never low and at most two high (Knuth, TAOCP
/// 4.3.1, theorem B); each correction adds `d` back.
fn quotient_digit(r: u128, digit: u128, d: u128) -> Option<(u128, u128)> {
    let d_top = d >> 64;
    let mut q = r.checked_div(d_top)?.min(LOW_MASK_64);
    // (r·2^64 + digit) − q·d, as a 256-bit two's complement (high, low).
    let (p_high, p_low) = mul_u128_wide(q, d);
    let (n_high, n_low) = (r >> 64, (r << 64) | digit);
    let (mut low, borrow) = n_low.overflowing_sub(p_low);
    let mut high = n_high.wrapping_sub(p_high).wrapping_sub(u128::from(borrow));
    for _ in 0..2 {
        if high == 0 {
            break;
        }
        q = q.checked_sub(1)?;
        let (sum, carry) = low.overflowing_add(d);
        low = sum;
        high = high.wrapping_add(u128::from(carry));
    }
    (high == 0 && low < d).then_some((q, low))
}

/// Applies a sign to a magnitude rounded toward zero, with `inexact` telling
/// whether a nonzero remainder was dropped; rounds as `round` asks.
#[inline]
fn signed_result(magnitude: u128, negative: bool, inexact: bool, round: Round) -> Option<i128> {
    let bump = inexact
        && match round {
            Round::Down => negative,
            Round::Up => !negative,
        };
    let magnitude = if bump {
        magnitude.checked_add(1)?
    } else {
        magnitude
    };
    if negative {
        0i128.checked_sub_unsigned(magnitude)
    } else {
        i128::try_from(magnitude).ok()
    }
}

/// Product of two `I80F48` bit patterns, rounded as `round` asks.
#[inline]
pub(crate) fn mul_bits(a: i128, b: i128, round: Round) -> Option<i128> {
    let negative = (a < 0) != (b < 0);
    let (a, b) = (a.unsigned_abs(), b.unsigned_abs());
    let (magnitude, inexact) = match (u64::try_from(a), u64::try_from(b)) {
        // Both below 2^64 (prices, weights and most balances): one
        // 64 × 64-bit product, below 2^128, so it cannot wrap.
        (Ok(a), Ok(b)) => {
            let product = u128::from(a).wrapping_mul(u128::from(b));
            (product >> FRAC_BITS, product & FRAC_MASK != 0)
        }
        _ => wide_product(a, b)?,
    };
    signed_result(magnitude, negative, inexact, round)
}

/// The magnitude of `a·b / 2^48` rounded toward zero, and whether a nonzero
/// remainder was dropped, through the 256-bit product; `None` when it does
/// not fit in 128 bits.
fn wide_product(a: u128, b: u128) -> Option<(u128, bool)> {
    let (high, low) = mul_u128_wide(a, b);
    if high >> FRAC_BITS != 0 {
        return None;
    }
    let magnitude = (high << (128 - FRAC_BITS)) | (low >> FRAC_BITS);
    Some((magnitude, low & FRAC_MASK != 0))
}

/// Quotient of two `I80F48` bit patterns, rounded as `round` asks.
#[inline]
pub(crate) fn div_bits(a: i128, b: i128, round: Round) -> Option<i128> {
    let negative = (a < 0) != (b < 0);
    let (numerator, divisor) = (a.unsigned_abs(), b.unsigned_abs());
    let (quotient, remainder) = match numerator >> (128 - FRAC_BITS) {
        // Below 2^80 (most values) the shifted numerator fits in 128 bits:
        // one library division, without the wide one's checks.
        0 => div_rem_u128(numerator << FRAC_BITS, divisor)?,
        high => div_wide_u128(high, numerator << FRAC_BITS, divisor)?,
    };
    signed_result(quotient, negative, remainder != 0, round)
}

/// Square root of a non-negative `I80F48` bit pattern, rounded as asked.
pub(crate) fn sqrt_bits(x: i128, round: Round) -> Option<i128> {
    let x = u128::try_from(x).ok()?;
    // sqrt(x / 2^48) · 2^48 = sqrt(x · 2^48). Exact while x · 2^48 fits in
    // 128 bits; above that, sqrt(x) · 2^24 drops at most 2^24 ulps of a root
    // larger than 2^64 ulps (a relative error below 2^-40).
    let (root, exact) = match x.checked_shl(FRAC_BITS).filter(|s| s >> FRAC_BITS == x) {
        Some(scaled) => {
            let root = scaled.isqrt();
            (root, root.checked_mul(root) == Some(scaled))
        }
        None => {
            let root = x.isqrt();
            (root << (FRAC_BITS / 2), false)
        }
    };
    signed_result(root, false, !exact, round)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bit-at-a-time long division the fast one replaced: the reference.
    fn div_wide_reference(high: u128, low: u128, divisor: u128) -> Option<(u128, u128)> {
        if divisor == 0 || high >= divisor {
            return None;
        }
        if high == 0 {
            return Some((low.checked_div(divisor)?, low.checked_rem(divisor)?));
        }
        // Restoring long division, one bit a step, 128 steps.
        let mut remainder = high;
        let mut quotient = 0u128;
        for bit in (0..128u32).rev() {
            let carry = remainder >> 127;
            remainder = (remainder << 1) | ((low >> bit) & 1);
            quotient <<= 1;
            if carry == 1 || remainder >= divisor {
                // With a carry the true remainder is 2^128 + remainder, which
                // exceeds the divisor; the wrapping subtraction gives it exactly.
                remainder = remainder.wrapping_sub(divisor);
                quotient |= 1;
            }
        }
        Some((quotient, remainder))
    }

    /// The fast division against the reference on products, random
    /// numerators and divisors of every width, and the edges.
    #[test]
    fn fast_division_matches_the_bit_by_bit_reference() {
        let mut next = crate::test_rng::xorshift(0x9E37_79B9_7F4A_7C15u64);
        let mut wide = || (u128::from(next()) << 64) | u128::from(next());
        let mut checked = 0;
        for case in 0..200_000u32 {
            let bits = case % 128 + 1;
            let divisor = (wide() >> (128 - bits)).max(1);
            let (high, low) = match case % 3 {
                0 => mul_u128_wide(wide(), divisor),
                1 => (wide() % divisor, wide()),
                _ => (divisor - 1, u128::MAX - u128::from(case)),
            };
            let high = high.min(divisor.saturating_sub(1));
            let expected = div_wide_reference(high, low, divisor);
            assert_eq!(
                div_wide_u128(high, low, divisor),
                expected,
                "{high:x} {low:x} / {divisor:x}"
            );
            checked += usize::from(expected.is_some());
        }
        assert!(checked > 190_000);
        for divisor in [
            1,
            2,
            u128::from(u64::MAX),
            1 << 64,
            (1 << 64) + 1,
            u128::MAX,
            1 << 127,
        ] {
            for high in [0, 1, divisor / 2, divisor - 1] {
                for low in [0, 1, u128::MAX] {
                    assert_eq!(
                        div_wide_u128(high, low, divisor),
                        div_wide_reference(high, low, divisor)
                    );
                }
            }
        }
    }

    /// The 64-bit product the fast path takes, against the wide product
    /// it skips, with both signs and directions, at the edge of 2^64.
    #[test]
    fn narrow_products_match_the_wide_path() {
        let mut next = crate::test_rng::xorshift(0x5EED_0FF4_5700);
        let wide = |a: i128, b: i128, round: Round| {
            let (magnitude, inexact) = wide_product(a.unsigned_abs(), b.unsigned_abs())?;
            signed_result(magnitude, (a < 0) != (b < 0), inexact, round)
        };
        let edges = [0i128, 1, (1 << 64) - 1, 1 << 64, (1 << 64) + 1, 1 << 63];
        for case in 0..100_000u32 {
            let pick = |r: u64| match r % 4 {
                0 => *edges.get((r >> 8) as usize % edges.len()).unwrap_or(&1),
                _ => i128::from(r >> (r % 64)),
            };
            let (a, b) = (pick(next()), pick(next()));
            let (a, b) = match case % 4 {
                0 => (a, b),
                1 => (-a, b),
                2 => (a, -b),
                _ => (-a, -b),
            };
            for round in [Round::Down, Round::Up] {
                assert_eq!(mul_bits(a, b, round), wide(a, b, round), "{a} × {b}");
            }
        }
    }

    #[test]
    fn wide_product_matches_known_values() {
        assert_eq!(mul_u128_wide(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
        assert_eq!(mul_u128_wide(1 << 64, 1 << 64), (1, 0));
        assert_eq!(mul_u128_wide(3, 5), (0, 15));
    }

    #[test]
    fn wide_division_inverts_the_product() {
        let (a, b) = (
            0xDEAD_BEEF_1234_5678_9ABC_DEF0_1111_2222u128,
            0x1_0000_0001u128,
        );
        let (high, low) = mul_u128_wide(a, b);
        assert_eq!(div_wide_u128(high, low, b), Some((a, 0)));
        let (high, low) = mul_u128_wide(u128::MAX, 7);
        let low_plus = low.wrapping_add(5);
        assert_eq!(div_wide_u128(high, low_plus, 7), Some((u128::MAX, 5)));
        assert_eq!(div_wide_u128(1, 0, 1), None, "quotient of 2^128 overflows");
        assert_eq!(div_wide_u128(0, 1, 0), None);
    }

    #[test]
    fn rounding_directions_bracket_the_exact_result() {
        let third = div_bits(1 << FRAC_BITS, 3 << FRAC_BITS, Round::Down).unwrap();
        let third_up = div_bits(1 << FRAC_BITS, 3 << FRAC_BITS, Round::Up).unwrap();
        assert_eq!(third_up - third, 1);
        let minus_third = div_bits(-(1 << FRAC_BITS), 3 << FRAC_BITS, Round::Down).unwrap();
        assert_eq!(minus_third, -third_up);
        // 1 ulp × 1 ulp is 2^-96: zero rounded down, one ulp rounded up.
        assert_eq!(mul_bits(1, 1, Round::Down), Some(0));
        assert_eq!(mul_bits(1, 1, Round::Up), Some(1));
        assert_eq!(mul_bits(-1, 1, Round::Down), Some(-1));
        assert_eq!(mul_bits(-1, 1, Round::Up), Some(0));
        assert_eq!(mul_bits(i128::MAX, 2 << FRAC_BITS, Round::Down), None);
    }

    #[test]
    fn square_root_is_exact_on_squares_and_bracketed_otherwise() {
        let four = 4i128 << FRAC_BITS;
        assert_eq!(sqrt_bits(four, Round::Down), Some(2 << FRAC_BITS));
        assert_eq!(sqrt_bits(four, Round::Up), Some(2 << FRAC_BITS));
        let two = 2i128 << FRAC_BITS;
        let down = sqrt_bits(two, Round::Down).unwrap();
        let up = sqrt_bits(two, Round::Up).unwrap();
        assert_eq!(up - down, 1);
        assert!(mul_bits(down, down, Round::Up).unwrap() <= two);
        assert!(mul_bits(up, up, Round::Down).unwrap() >= two);
        assert_eq!(sqrt_bits(-1, Round::Down), None);
        let big = 1i128 << 120;
        let root = sqrt_bits(big, Round::Down).unwrap();
        assert_eq!(root, 1i128 << 84, "sqrt(2^72) = 2^36, as bits 2^84");
    }
}

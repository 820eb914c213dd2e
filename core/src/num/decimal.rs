//! Decimal text to fixed point, rounded to nearest (ties away from zero).
//!
//! The kernel's own parser: `fixed`'s keeps internal assertions that the
//! optimiser cannot remove, and the kernel must have no reachable panic
//! (tests/panic-free). Accepts `[+-]digits[.digits]` with at most 38 digits
//! on each side.

use super::wide::{div_wide_u128, mul_u128_wide, FRAC_BITS};
use super::Fx;

const MAX_DIGITS: u32 = 38;

/// Parses a decimal such as `-1234.5`; `None` if malformed or out of range.
pub fn parse_decimal(text: &str) -> Option<Fx> {
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    let (int_digits, frac_digits) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (rest.get(..dot)?, rest.get(dot.checked_add(1)?..)?),
        None => (rest, &[][..]),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let (integer, _) = digits(int_digits)?;
    let (fraction, places) = digits(frac_digits)?;
    let scale = 10u128.checked_pow(places)?;
    let (high, low) = mul_u128_wide(fraction, 1u128 << FRAC_BITS);
    let (frac_bits, remainder) = div_wide_u128(high, low, scale)?;
    let half_up = remainder.checked_mul(2)? >= scale;
    let frac_bits = frac_bits.checked_add(u128::from(half_up))?;
    let magnitude = integer
        .checked_shl(FRAC_BITS)
        .filter(|m| m >> FRAC_BITS == integer)?
        .checked_add(frac_bits)?;
    let bits = if negative {
        0i128.checked_sub_unsigned(magnitude)?
    } else {
        i128::try_from(magnitude).ok()?
    };
    Some(Fx::from_bits(bits))
}

/// The value and count of a run of ASCII digits.
fn digits(run: &[u8]) -> Option<(u128, u32)> {
    let count = u32::try_from(run.len()).ok().filter(|&c| c <= MAX_DIGITS)?;
    let mut value = 0u128;
    for &b in run {
        let digit = b.checked_sub(b'0').filter(|&d| d <= 9)?;
        value = value.checked_mul(10)?.checked_add(u128::from(digit))?;
    }
    Some((value, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_fixed_crate_on_ordinary_input() {
        for text in [
            "0",
            "1",
            "-1",
            "12.5",
            "-0.1",
            "0.000001",
            "123456789.987654321",
            ".5",
            "7.",
            "+3.25",
        ] {
            let ours = parse_decimal(text).unwrap();
            let theirs: Fx = text.trim_start_matches('+').parse().unwrap_or_else(|_| {
                // fixed does not accept a bare leading '.' or trailing '.'.
                let padded = if text.starts_with('.') {
                    ["0", text].concat()
                } else {
                    [text, "0"].concat()
                };
                padded.parse().unwrap()
            });
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_and_out_of_range_text() {
        for text in [
            "",
            "-",
            ".",
            "1.2.3",
            "1e5",
            "abc",
            "12a",
            "1 ",
            "-+1",
            "1000000000000000000000000000000",
        ] {
            assert_eq!(parse_decimal(text), None, "{text:?}");
        }
        assert_eq!(
            parse_decimal("604462909807314587353087"),
            Some(Fx::from_bits(i128::MAX >> 48 << 48))
        );
    }
}

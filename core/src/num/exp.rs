//! `e^x` in fixed point, for the exponential venue.
//!
//! Range reduction `x = k·ln2 + r` with `|r| <= ln2/2`, a Taylor series for
//! `e^r` (terms fall below one ulp after about 14), then a shift by `k`. Pure
//! integer arithmetic, so every target gets the same bits. Every step rounds
//! down; the result is within a few ulps (relative 2^-44) of the true value and
//! never above it by more than that.

use super::{add, div, mul, sub, ArithError, ArithResult, Fx, Round};

/// ln 2 with 48 fractional bits (floor of ln2 · 2^48).
const LN_2: Fx = Fx::from_bits(195_103_586_505_167);
/// Below this, `e^x` is under one ulp of `I80F48` and returns zero.
const UNDERFLOW_BELOW: Fx = Fx::from_bits(-34i128 << 48);
/// Taylor terms evaluated at most (the series has converged by then).
const MAX_TERMS: u32 = 24;

/// `e^x`, rounded down; [`ArithError::Overflow`] when it exceeds `I80F48`.
pub fn exp(x: Fx) -> ArithResult<Fx> {
    if x < UNDERFLOW_BELOW {
        return Ok(Fx::ZERO);
    }
    let k = div(x, LN_2, Round::Down)?
        .checked_add(Fx::from_bits(1 << 47))
        .ok_or(ArithError::Overflow)?
        .floor();
    let r = sub(x, mul(k, LN_2, Round::Down)?)?;
    let mut sum = Fx::ONE;
    let mut term = Fx::ONE;
    for n in 1..=MAX_TERMS {
        term = div(mul(term, r, Round::Down)?, Fx::from_num(n), Round::Down)?;
        if term == Fx::ZERO {
            break;
        }
        sum = add(sum, term)?;
    }
    let k: i32 = k.checked_to_num().ok_or(ArithError::Overflow)?;
    if k >= 0 {
        let shift = u32::try_from(k).map_err(|_| ArithError::Overflow)?;
        let bits = sum.to_bits();
        let shifted = bits.checked_shl(shift).ok_or(ArithError::Overflow)?;
        if shifted >> shift != bits {
            return Err(ArithError::Overflow);
        }
        Ok(Fx::from_bits(shifted))
    } else {
        let shift = k.unsigned_abs().min(127);
        Ok(Fx::from_bits(sum.to_bits() >> shift))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64) {
        let got: f64 = exp(Fx::from_num(x)).unwrap().to_num();
        let want = libm::exp(x);
        let tolerance = want * 1e-12 + 1e-14;
        assert!(
            (got - want).abs() <= tolerance,
            "exp({x}) = {got}, want {want}"
        );
    }

    #[test]
    fn matches_libm_across_the_range() {
        for x in [
            -33.0, -20.0, -5.5, -1.0, -0.3, 0.0, 0.1, 0.5, 1.0, 2.0, 10.0, 40.0, 54.0,
        ] {
            close(x);
        }
        assert_eq!(exp(Fx::ZERO), Ok(Fx::ONE));
        assert_eq!(exp(Fx::from_num(-40)), Ok(Fx::ZERO));
    }

    #[test]
    fn overflows_cleanly() {
        assert_eq!(exp(Fx::from_num(60)), Err(ArithError::Overflow));
        assert_eq!(exp(Fx::MAX), Err(ArithError::Overflow));
    }
}

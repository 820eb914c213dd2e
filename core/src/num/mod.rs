//! Unit-typed fixed-point numbers with checked arithmetic and visible rounding.
//!
//! Every quantity in the kernel is an `I80F48` (80 integer bits, 48 fractional
//! bits: the on-chain convention of Mango v4 and marginfi) wrapped in a unit:
//!
//! | type      | unit                              |
//! |-----------|-----------------------------------|
//! | [`Qty`]   | units of one asset, signed        |
//! | [`Price`] | quote per unit of an asset, > 0   |
//! | [`Value`] | quote, signed                     |
//! | [`Ratio`] | dimensionless                     |
//!
//! `Qty × Price → Value` is the only way to make a value. Every product and
//! quotient names its rounding direction ([`Round`]): what is owed to the
//! protocol rounds up, what is credited to an account rounds down. Overflow is
//! an [`ArithError`], never a wrap or a panic.

mod decimal;
mod exp;
mod wide;

pub use decimal::parse_decimal;
pub use exp::exp;
use fixed::types::I80F48;

/// The raw fixed-point type under every unit.
pub type Fx = I80F48;

/// Direction of rounding for one product or quotient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Round {
    /// Toward negative infinity: for amounts credited to an account.
    Down,
    /// Toward positive infinity: for amounts an account owes.
    Up,
}

/// Failure of a checked fixed-point operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ArithError {
    /// The exact result does not fit in `I80F48`.
    Overflow,
    /// A division by zero, or a root or logarithm outside its domain.
    Domain,
}

/// Result of a checked numeric operation.
pub type ArithResult<T> = Result<T, ArithError>;

/// `a × b`, rounded as asked.
#[cfg_attr(target_pointer_width = "64", inline)]
pub fn mul(a: Fx, b: Fx, round: Round) -> ArithResult<Fx> {
    // A second factor of exactly 1 is common (a deposit index before any
    // loss, the quote's weights and price: callers pass the balance first)
    // and its product exact: skip the wide multiplication.
    if b == Fx::ONE {
        return Ok(a);
    }
    wide::mul_bits(a.to_bits(), b.to_bits(), round)
        .map(Fx::from_bits)
        .ok_or(ArithError::Overflow)
}

/// [`mul`] rounded down, on raw `I80F48` bits, `None` on overflow: for
/// loops that keep their sums as bits (`account::health`). As in `mul`, a
/// second factor of exactly 1 returns the first.
///
/// Inlined on 64-bit targets, where the narrow product is one instruction
/// and a call would cost more than it; kept out of line on 32-bit ones,
/// where each inlined copy cost the firmware about 600 bytes of flash.
#[cfg_attr(target_pointer_width = "64", inline)]
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
pub(crate) fn mul_bits_down(a: i128, b: i128) -> Option<i128> {
    if b == Fx::ONE.to_bits() {
        return Some(a);
    }
    wide::mul_bits(a, b, Round::Down)
}

/// `a / b`, rounded as asked.
#[cfg_attr(target_pointer_width = "64", inline)]
pub fn div(a: Fx, b: Fx, round: Round) -> ArithResult<Fx> {
    if b == Fx::ZERO {
        return Err(ArithError::Domain);
    }
    if b == Fx::ONE {
        return Ok(a);
    }
    wide::div_bits(a.to_bits(), b.to_bits(), round)
        .map(Fx::from_bits)
        .ok_or(ArithError::Overflow)
}

/// Whether `div(a, b, Round::Down) <= t` for `a >= 0`, `b > 0` and
/// `t >= 0`, exactly, without dividing: `⌊a·2^48/b⌋ ≤ t` (bits) holds iff
/// `a·2^48 < (t + 1)·b`, both sides as 256-bit products. `None` outside
/// that domain.
pub(crate) fn quotient_at_most(a: Fx, b: Fx, t: Fx) -> Option<bool> {
    let (a, b, t) = (
        u128::try_from(a.to_bits()).ok()?,
        u128::try_from(b.to_bits()).ok().filter(|b| *b > 0)?,
        u128::try_from(t.to_bits()).ok()?,
    );
    let t_next = t.checked_add(1)?;
    // Below 2^80 the scaled numerator fits in 128 bits, and a bound that
    // does not is larger than it: no 256-bit product is needed.
    if let Some(scaled) = a.checked_mul(1 << wide::FRAC_BITS) {
        return Some(t_next.checked_mul(b).is_none_or(|bound| scaled < bound));
    }
    let scaled = wide::mul_u128_wide(a, 1 << wide::FRAC_BITS);
    let bound = wide::mul_u128_wide(t_next, b);
    Some(scaled < bound)
}

/// `a × b / c`, each step rounded as asked (the error stays within 2 ulps).
pub fn mul_div(a: Fx, b: Fx, c: Fx, round: Round) -> ArithResult<Fx> {
    div(mul(a, b, round)?, c, round)
}

/// `sqrt(x)` for `x >= 0`, rounded as asked.
pub fn sqrt(x: Fx, round: Round) -> ArithResult<Fx> {
    wide::sqrt_bits(x.to_bits(), round)
        .map(Fx::from_bits)
        .ok_or(ArithError::Domain)
}

/// `a + b`, checked.
pub fn add(a: Fx, b: Fx) -> ArithResult<Fx> {
    a.checked_add(b).ok_or(ArithError::Overflow)
}

/// `a - b`, checked.
pub fn sub(a: Fx, b: Fx) -> ArithResult<Fx> {
    a.checked_sub(b).ok_or(ArithError::Overflow)
}

/// One unit in the last place: the smallest positive `I80F48`.
pub const ULP: Fx = Fx::DELTA;

macro_rules! unit_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct $name(pub Fx);

        // Checked: these return `Result`, so they cannot be the std operators.
        #[allow(clippy::should_implement_trait)]
        impl $name {
            /// Zero of this unit.
            pub const ZERO: Self = Self(Fx::ZERO);
            /// The largest representable amount.
            pub const MAX: Self = Self(Fx::MAX);

            /// Converts an integer amount.
            pub fn from_int(n: i64) -> Self {
                Self(Fx::from_num(n))
            }
            /// Parses a decimal such as `"1234.5"` (rounded to nearest).
            pub fn parse(s: &str) -> Option<Self> {
                parse_decimal(s).map(Self)
            }
            /// Converts a float (for set-up and tests only: saturating).
            pub fn from_f64(x: f64) -> Self {
                Self(Fx::saturating_from_num(x))
            }
            /// The value as `f64`, for reports.
            pub fn to_f64(self) -> f64 {
                self.0.to_num::<f64>()
            }
            /// The raw fixed-point number.
            #[inline]
            pub fn raw(self) -> Fx {
                self.0
            }
            /// `self + other`, checked.
            pub fn add(self, other: Self) -> ArithResult<Self> {
                add(self.0, other.0).map(Self)
            }
            /// `self - other`, checked.
            pub fn sub(self, other: Self) -> ArithResult<Self> {
                sub(self.0, other.0).map(Self)
            }
            /// Scales by a dimensionless ratio, rounded as asked.
            pub fn scale(self, ratio: Ratio, round: Round) -> ArithResult<Self> {
                mul(self.0, ratio.0, round).map(Self)
            }
            /// `self / other` as a dimensionless ratio, rounded as asked.
            pub fn ratio_to(self, other: Self, round: Round) -> ArithResult<Ratio> {
                div(self.0, other.0, round).map(Ratio)
            }
            /// Whether the amount is below zero.
            #[inline]
            pub fn is_negative(self) -> bool {
                self.0 < Fx::ZERO
            }
            /// Whether the amount is above zero.
            #[inline]
            pub fn is_positive(self) -> bool {
                self.0 > Fx::ZERO
            }
            /// The absolute value, checked.
            pub fn abs(self) -> ArithResult<Self> {
                self.0.checked_abs().map(Self).ok_or(ArithError::Overflow)
            }
            /// The negation, checked.
            pub fn neg(self) -> ArithResult<Self> {
                self.0.checked_neg().map(Self).ok_or(ArithError::Overflow)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

unit_type!(
    /// A signed quantity of one asset, in that asset's units.
    Qty
);
unit_type!(
    /// A price: quote per unit of an asset. Positive where validated.
    Price
);
unit_type!(
    /// A signed amount of quote.
    Value
);
unit_type!(
    /// A dimensionless ratio: a weight, a bonus, a fraction.
    Ratio
);

impl Ratio {
    /// One.
    pub const ONE: Self = Self(Fx::ONE);
}

impl Price {
    /// A price of one quote per unit.
    pub const ONE: Self = Self(Fx::ONE);
}

impl Qty {
    /// Value at a price, rounded as asked. The one way to make a [`Value`].
    pub fn value_at(self, price: Price, round: Round) -> ArithResult<Value> {
        mul(self.0, price.0, round).map(Value)
    }
    /// Value credited to an account: rounded down.
    pub fn value_credited(self, price: Price) -> ArithResult<Value> {
        self.value_at(price, Round::Down)
    }
    /// Value owed by an account: rounded up.
    pub fn value_owed(self, price: Price) -> ArithResult<Value> {
        self.value_at(price, Round::Up)
    }
}

impl Value {
    /// The quantity of an asset this value buys at `price`, rounded as asked.
    pub fn qty_at(self, price: Price, round: Round) -> ArithResult<Qty> {
        div(self.0, price.0, round).map(Qty)
    }
    /// A value read as a quantity of the quote asset (price exactly 1).
    pub fn as_quote_qty(self) -> Qty {
        Qty(self.0)
    }
}

impl Qty {
    /// A quantity of the quote asset read as a value (price exactly 1).
    pub fn as_quote_value(self) -> Value {
        Value(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The division-free comparison agrees with the division on both sides
    /// of every quotient: at it, one ulp below and one above.
    #[test]
    fn quotient_at_most_agrees_with_the_division() {
        let mut next = crate::test_rng::xorshift(0x0dd_c0ffee);
        // Every other case is wide: the numerator past 2^80, so both the
        // 128-bit comparison and the 256-bit one are exercised.
        for case in 0..100_000 {
            let widen = |x: u64, by: u64| match case % 2 {
                0 => i128::from(x),
                _ => i128::from(x) << (by % 63),
            };
            let b = Fx::from_bits(widen(next() >> (next() % 63), next()).max(1));
            let a = Fx::from_bits(widen(next() >> (next() % 63), next()));
            let Ok(q) = div(a, b, Round::Down) else {
                continue;
            };
            for t in [q, q - Fx::DELTA, q + Fx::DELTA] {
                if t.is_negative() {
                    continue;
                }
                assert_eq!(
                    quotient_at_most(a, b, t),
                    Some(q <= t),
                    "{a} / {b} against {t}"
                );
            }
        }
        let one = Fx::ONE;
        assert_eq!(
            quotient_at_most(one, one, Fx::MAX),
            Some(true),
            "a bound past 2^128 is above any 128-bit numerator"
        );
        assert_eq!(quotient_at_most(one, Fx::ZERO, one), None, "no divisor");
        assert_eq!(quotient_at_most(-one, one, one), None, "negative");
    }

    #[test]
    fn value_rounding_is_visible_and_brackets_the_exact_product() {
        let qty = Qty(Fx::from_num(1) / 3);
        let price = Price(Fx::from_num(3));
        let credited = qty.value_credited(price).unwrap();
        let owed = qty.value_owed(price).unwrap();
        assert!(credited <= owed);
        assert!(owed.0 - credited.0 <= ULP);
        assert!(credited.0 <= Fx::ONE);
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let big = Qty(Fx::MAX);
        assert_eq!(
            big.value_at(Price::from_int(2), Round::Down),
            Err(ArithError::Overflow)
        );
        assert_eq!(Qty::MAX.add(Qty::from_int(1)), Err(ArithError::Overflow));
        assert_eq!(div(Fx::ONE, Fx::ZERO, Round::Down), Err(ArithError::Domain));
        assert_eq!(Qty(Fx::MIN).abs(), Err(ArithError::Overflow));
    }
}

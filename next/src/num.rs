//! Numbers at machine width, as on-chain programs hold them.
//!
//! | type        | holds                              | unit                                   |
//! |-------------|------------------------------------|----------------------------------------|
//! | [`Qty`]     | an amount of one asset (`i64`)     | the asset's base units; negative: owed |
//! | [`Value`]   | an amount of the quote (`i64`)     | quote base units                       |
//! | [`Price`]   | `mantissa / 10^exponent` (`u64`)   | quote base units per asset base unit   |
//! | [`Ratio`]   | a weight, bonus or fee (`u64`)     | billionths: 1.0 is 10^9                |
//! | [`Index`]   | a deposit index (`u64`)            | 10^-18: 1.0 is 10^18                   |
//! | [`Weighted`]| a value times a ratio (`i128`)     | quote base units × 10^-9, exact        |
//!
//! Every product of two of these fits a native `i128` (at most 63 + 64 bits)
//! and every quotient is one 128-by-64-bit division: no 256-bit path. Ratios
//! and prices are decimal, so a protocol's parameters (Aave's basis points,
//! Compound's 1e18 factors with up to nine digits, dYdX's parts per million)
//! are held exactly, and an account exactly at its threshold compares equal.
//!
//! Every fixed divisor (a price's `10^exponent`, the index's and the
//! ratio's scales) is inverted once ([`Divisor`]), so a conversion costs a
//! few multiplies, not a division.
//!
//! Each conversion names its rounding ([`Round`]): what an account is
//! credited rounds down, what it owes rounds up. Overflow is an
//! [`ArithError`], never a wrap or a panic.

pub use crate::divisor::Divisor;

/// Direction of rounding for one product or quotient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Round {
    /// Toward negative infinity: for amounts credited to an account.
    Down,
    /// Toward positive infinity: for amounts an account owes.
    Up,
}

/// Failure of a checked numeric operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ArithError {
    /// The exact result does not fit its type.
    Overflow,
    /// A division by zero, or a parameter outside its domain.
    Domain,
}

/// Result of a checked numeric operation.
pub type ArithResult<T> = Result<T, ArithError>;

/// `10^k` for `k` in `0..=19`: every power of ten below `2^64`. (Built at
/// compile time: an index out of range or an overflow there fails the build.)
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const POW10: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut k = 1;
    while k < 20 {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

/// `10^k` inverted, for `k` in `0..=19` (see [`Divisor`]), at compile time.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const POW10_DIVISORS: [Divisor; 20] = {
    let mut table = [INDEX_DIVISOR; 20];
    let mut k = 0;
    while k < 20 {
        table[k] = match Divisor::new(POW10[k]) {
            Some(d) => d,
            None => INDEX_DIVISOR,
        };
        k += 1;
    }
    table
};

/// [`INDEX_SCALE`] inverted.
pub const INDEX_DIVISOR: Divisor = match Divisor::new(INDEX_SCALE) {
    Some(d) => d,
    None => panic!("10^18 is not zero"),
};

/// `10^k` inverted, `None` past [`MAX_PRICE_EXPONENT`].
pub fn pow10_divisor(k: u8) -> Option<&'static Divisor> {
    POW10_DIVISORS.get(usize::from(k))
}

/// The largest exponent a [`Price`] may have: `10^19 < 2^64`.
pub const MAX_PRICE_EXPONENT: u8 = 19;

/// `10^k`, `None` past [`MAX_PRICE_EXPONENT`].
pub fn pow10(k: u8) -> Option<u64> {
    POW10.get(usize::from(k)).copied()
}

/// `n / d` rounded as asked, for `d > 0`: one division on the magnitude,
/// rounded up by adding `d − 1` first where the rounding points away from
/// zero. Both sides under 2^64 take the machine's 64-bit division.
#[inline]
pub fn div_round(n: i128, d: u128, round: Round) -> ArithResult<i128> {
    let magnitude = n.unsigned_abs();
    // Away from zero: up for a positive n, down for a negative one.
    let away = (n > 0 && round == Round::Up) || (n < 0 && round == Round::Down);
    let quotient = div_magnitude(magnitude, d, away)?;
    let q = i128::try_from(quotient).map_err(|_| ArithError::Overflow)?;
    Ok(if n < 0 { q.wrapping_neg() } else { q })
}

/// `⌊m / d⌋`, or `⌈m / d⌉` if `up`.
#[inline]
fn div_magnitude(m: u128, d: u128, up: bool) -> ArithResult<u128> {
    if d == 0 {
        return Err(ArithError::Domain);
    }
    let bias = if up { d.wrapping_sub(1) } else { 0 };
    let m = m.checked_add(bias).ok_or(ArithError::Overflow)?;
    if (m | d) >> 64 == 0 {
        // The 64-bit division: one instruction where the 128-bit one is a call.
        let (m, d) = (m as u64, d as u64);
        return m.checked_div(d).map(u128::from).ok_or(ArithError::Domain);
    }
    m.checked_div(d).ok_or(ArithError::Domain)
}

/// `a·b / d` for a divisor inverted in advance, rounded down or (`up`) up,
/// as an amount: `Overflow` past `i64::MAX`. No division instruction.
#[inline]
pub fn mul_div_by(a: u64, b: u64, d: &Divisor, up: bool) -> ArithResult<i64> {
    let bias = if up { d.get().wrapping_sub(1) } else { 0 };
    let n = crate::divisor::widening_mul(a, b).wrapping_add(u128::from(bias));
    let (q, _) = d.div_rem(n).ok_or(ArithError::Overflow)?;
    i64::try_from(q).map_err(|_| ArithError::Overflow)
}

/// `a·b / 10^e` for `price`'s exponent `e` ([`mul_div`]'s rounding and
/// errors). On 64-bit targets the division instruction is cheaper than the
/// reciprocal's extra multiplies (callgrind: a 2-asset health took 166
/// instructions one way, 191 the other); elsewhere the 128-bit division is a
/// loop in software and the reciprocal replaces it. Both are exact, so the
/// results are the same.
#[inline]
pub fn mul_div_pow10(a: u64, b: u64, price: Price, up: bool) -> ArithResult<i64> {
    #[cfg(target_pointer_width = "64")]
    return mul_div(a, b, price.divisor, up);
    #[cfg(not(target_pointer_width = "64"))]
    return mul_div_by(
        a,
        b,
        pow10_divisor(price.exponent).ok_or(ArithError::Domain)?,
        up,
    );
}

/// `a·b / 10^18` (the deposit index's scale), as [`mul_div_pow10`].
#[inline]
pub fn mul_div_index(a: u64, b: u64, up: bool) -> ArithResult<i64> {
    #[cfg(target_pointer_width = "64")]
    return mul_div(a, b, INDEX_SCALE, up);
    #[cfg(not(target_pointer_width = "64"))]
    return mul_div_by(a, b, &INDEX_DIVISOR, up);
}

/// `x·y / d` for a signed amount `x`, rounded as asked (toward −∞ or +∞):
/// [`mul_div`] on the magnitude, rounded away from zero where the direction
/// points away from zero on `x`'s side.
#[inline]
pub fn signed_mul_div(x: i64, y: u64, d: u64, round: Round) -> ArithResult<i64> {
    // The quote's price, an index of one: exact, and common.
    if y == d {
        return Ok(x);
    }
    let away = (round == Round::Up) == (x >= 0);
    let q = mul_div(x.unsigned_abs(), y, d, away)?;
    // q <= i64::MAX: its negation fits.
    Ok(if x < 0 { q.wrapping_neg() } else { q })
}

/// `a·b / d` on unsigned 64-bit factors, rounded down or (`up`) up, as an
/// amount: `Overflow` past `i64::MAX`, `Domain` for `d = 0`. Nothing here
/// can wrap: `a·b + d − 1 < 2^128` for factors and divisor under 2^64.
#[inline]
pub fn mul_div(a: u64, b: u64, d: u64, up: bool) -> ArithResult<i64> {
    // For d = 0 the bias wraps, and the division below reports `Domain`.
    let bias = if up { d.wrapping_sub(1) } else { 0 };
    let n = u128::from(a)
        .wrapping_mul(u128::from(b))
        .wrapping_add(u128::from(bias));
    let q = match u64::try_from(n) {
        Ok(n) => n.checked_div(d).ok_or(ArithError::Domain)?,
        Err(_) => {
            let q = n.checked_div(u128::from(d)).ok_or(ArithError::Domain)?;
            u64::try_from(q).map_err(|_| ArithError::Overflow)?
        }
    };
    i64::try_from(q).map_err(|_| ArithError::Overflow)
}

fn narrow(x: i128) -> ArithResult<i64> {
    i64::try_from(x).map_err(|_| ArithError::Overflow)
}

/// One billion: the scale of a [`Ratio`].
pub const RATIO_SCALE: u64 = 1_000_000_000;
/// 10^18: the scale of an [`Index`].
pub const INDEX_SCALE: u64 = 1_000_000_000_000_000_000;

macro_rules! amount_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct $name(pub i64);

        // Checked: these return `Result`, so they cannot be the std operators.
        #[allow(clippy::should_implement_trait)]
        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// `self + other`, checked.
            #[inline]
            pub fn add(self, other: Self) -> ArithResult<Self> {
                self.0.checked_add(other.0).map(Self).ok_or(ArithError::Overflow)
            }
            /// `self - other`, checked.
            #[inline]
            pub fn sub(self, other: Self) -> ArithResult<Self> {
                self.0.checked_sub(other.0).map(Self).ok_or(ArithError::Overflow)
            }
            /// `-self`, checked.
            #[inline]
            pub fn neg(self) -> ArithResult<Self> {
                self.0.checked_neg().map(Self).ok_or(ArithError::Overflow)
            }
            /// `self × ratio`, rounded as asked.
            #[inline]
            pub fn scale(self, ratio: Ratio, round: Round) -> ArithResult<Self> {
                signed_mul_div(self.0, ratio.0, RATIO_SCALE, round).map(Self)
            }
            /// Whether the amount is below zero.
            #[inline]
            pub fn is_negative(self) -> bool {
                self.0 < 0
            }
            /// Whether the amount is above zero.
            #[inline]
            pub fn is_positive(self) -> bool {
                self.0 > 0
            }
        }
    };
}

amount_type!(
    /// An amount of one asset in its base units (`10^-decimals` of a whole
    /// unit); negative when owed.
    Qty
);
amount_type!(
    /// An amount of the quote asset in its base units.
    Value
);

/// Below this a price's mantissa is refined before a bonus discounts it.
const COARSE_MANTISSA: u64 = 1_000_000_000;

/// A price: `mantissa / 10^exponent` quote base units per asset base unit.
/// The exponent is the asset's (its price decimals plus its decimals less
/// the quote's), fixed for a run; only the mantissa moves. (A discounted
/// price may be over a finer one: [`Price::discounted`].)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Price {
    mantissa: u64,
    exponent: u8,
    /// `10^exponent`, kept beside it: a price is read far more than set.
    divisor: u64,
}

impl Price {
    /// The quote's own price: one base unit per base unit.
    pub const ONE: Self = Self {
        mantissa: 1,
        exponent: 0,
        divisor: 1,
    };

    /// `mantissa / 10^exponent`; `Domain` for a zero mantissa or an
    /// exponent past [`MAX_PRICE_EXPONENT`].
    pub fn new(mantissa: u64, exponent: u8) -> ArithResult<Self> {
        let divisor = pow10(exponent).ok_or(ArithError::Domain)?;
        if mantissa == 0 {
            return Err(ArithError::Domain);
        }
        Ok(Self {
            mantissa,
            exponent,
            divisor,
        })
    }
    /// The price net of a bonus, `⌊price / (1 + bonus)⌋`: what a liquidator
    /// pays per unit of collateral. A price of fewer than ten digits (the
    /// quote's own is 1 over 10^0) is [refined](Self::refined) first, so
    /// that the bonus is not lost to its rounding; the result may then have
    /// a finer exponent than the price. `Domain` when it rounds to nothing.
    pub fn discounted(self, bonus: Ratio) -> ArithResult<Self> {
        let price = match self.mantissa < COARSE_MANTISSA {
            true => self.refined()?,
            false => self,
        };
        let one_plus = Ratio::ONE.add(bonus)?;
        let m = mul_div(price.mantissa, RATIO_SCALE, one_plus.0, false)?;
        price.with_mantissa(m.unsigned_abs())
    }
    /// This price's mantissa over `other`'s exponent, which is at least
    /// its own: `Overflow` past 64 bits.
    pub fn mantissa_over(self, other: Price) -> ArithResult<u64> {
        let up = other
            .exponent
            .checked_sub(self.exponent)
            .ok_or(ArithError::Domain)?;
        let scale = pow10(up).ok_or(ArithError::Domain)?;
        self.mantissa.checked_mul(scale).ok_or(ArithError::Overflow)
    }
    /// The same price over the finest exponent (at most
    /// [`MAX_PRICE_EXPONENT`]) whose mantissa stays under 2^63 (an amount's
    /// range): exact.
    pub fn refined(self) -> ArithResult<Self> {
        let (mut mantissa, mut exponent) = (self.mantissa, self.exponent);
        while exponent < MAX_PRICE_EXPONENT {
            match mantissa.checked_mul(10).filter(|m| *m <= i64::MAX as u64) {
                Some(m) => mantissa = m,
                None => break,
            }
            exponent = exponent.saturating_add(1);
        }
        Self::new(mantissa, exponent)
    }
    /// The price in units of `10^-19` quote base units per base unit, for
    /// comparing prices over different exponents: `mantissa·10^(19−e)`.
    pub fn at_finest(self) -> u128 {
        let up = MAX_PRICE_EXPONENT.saturating_sub(self.exponent);
        u128::from(self.mantissa).saturating_mul(u128::from(pow10(up).unwrap_or(1)))
    }
    /// The same exponent with another mantissa.
    pub fn with_mantissa(self, mantissa: u64) -> ArithResult<Self> {
        Self::new(mantissa, self.exponent)
    }
    /// The mantissa.
    pub fn mantissa(self) -> u64 {
        self.mantissa
    }
    /// The exponent.
    pub fn exponent(self) -> u8 {
        self.exponent
    }
    /// `10^exponent`.
    pub fn divisor(self) -> u64 {
        self.divisor
    }
}

impl Qty {
    /// The value of this amount at `price`, rounded as asked: a holding's
    /// worth rounds down, a debt's (negative) rounds down too, to more owed.
    #[inline]
    pub fn value(self, price: Price, round: Round) -> ArithResult<Value> {
        signed_mul_div(self.0, price.mantissa, price.divisor, round).map(Value)
    }

    /// The effective amount of `self` deposit shares under `index`, rounded
    /// down: a lender never holds more than the pool.
    #[inline]
    pub fn held(self, index: Index) -> ArithResult<Qty> {
        if index == Index::ONE {
            return Ok(self);
        }
        signed_mul_div(self.0, index.0, INDEX_SCALE, Round::Down).map(Qty)
    }

    /// The shares that hold `self` effective units under `index`, rounded as
    /// asked (shares given on a credit round down, taken on a debit up).
    #[inline]
    pub fn shares(self, index: Index, round: Round) -> ArithResult<Qty> {
        if index == Index::ONE {
            return Ok(self);
        }
        signed_mul_div(self.0, INDEX_SCALE, index.0, round).map(Qty)
    }
}

impl Value {
    /// The amount of an asset worth `self` at `price`, rounded as asked.
    #[inline]
    pub fn qty(self, price: Price, round: Round) -> ArithResult<Qty> {
        signed_mul_div(self.0, price.divisor, price.mantissa, round).map(Qty)
    }

    /// `self / ratio`, rounded as asked.
    #[inline]
    pub fn unscale(self, ratio: Ratio, round: Round) -> ArithResult<Value> {
        signed_mul_div(self.0, RATIO_SCALE, ratio.0, round).map(Value)
    }

    /// `self × ratio`, exact.
    #[inline]
    pub fn weighted(self, ratio: Ratio) -> Weighted {
        Weighted(i128::from(self.0).wrapping_mul(i128::from(ratio.0)))
    }
}

/// A weight, bonus, fee or factor in billionths: `Ratio(1_000_000_000)` is 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ratio(pub u64);

// Checked: these return `Result`, so they cannot be the std operators.
#[allow(clippy::should_implement_trait)]
impl Ratio {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// One.
    pub const ONE: Self = Self(RATIO_SCALE);

    /// `basis_points / 10^4`, exact.
    pub const fn from_bps(basis_points: u32) -> Self {
        // u32 × 10^5 < 2^64: cannot overflow.
        Self((basis_points as u64).wrapping_mul(100_000))
    }
    /// `self + other`, checked.
    pub fn add(self, other: Self) -> ArithResult<Self> {
        self.0
            .checked_add(other.0)
            .map(Self)
            .ok_or(ArithError::Overflow)
    }
    /// `self × other`, rounded as asked.
    pub fn mul(self, other: Self, round: Round) -> ArithResult<Self> {
        let n = i128::from(self.0).wrapping_mul(i128::from(other.0));
        let q = div_round(n, u128::from(RATIO_SCALE), round)?;
        u64::try_from(q).map(Self).map_err(|_| ArithError::Overflow)
    }
}

/// A deposit index in 10^-18: `Index::ONE` until a loss is socialized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Index(pub u64);

impl Index {
    /// One: shares and effective amounts are equal.
    pub const ONE: Self = Self(INDEX_SCALE);
}

/// A value times a ratio, exact: quote base units × 10^-9 in an `i128`.
/// Health is a sum of these, so comparing it with zero needs no division.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Weighted(pub i128);

#[allow(clippy::should_implement_trait)]
impl Weighted {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// `self + other`, checked.
    #[inline]
    pub fn add(self, other: Self) -> ArithResult<Self> {
        self.0
            .checked_add(other.0)
            .map(Self)
            .ok_or(ArithError::Overflow)
    }
    /// `self - other`, checked.
    #[inline]
    pub fn sub(self, other: Self) -> ArithResult<Self> {
        self.0
            .checked_sub(other.0)
            .map(Self)
            .ok_or(ArithError::Overflow)
    }
    /// `-self`, checked.
    #[inline]
    pub fn neg(self) -> ArithResult<Self> {
        self.0.checked_neg().map(Self).ok_or(ArithError::Overflow)
    }
    /// The value, rounded as asked (for reports: the sign test needs none).
    pub fn value(self, round: Round) -> ArithResult<Value> {
        narrow(div_round(self.0, u128::from(RATIO_SCALE), round)?).map(Value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The quote's own price (1 over 10^0) discounted by a bonus is refined
    /// first: seizing the quote with an 8% bonus pays 1/1.08, not nothing;
    /// a bonus factor read off both prices is the bonus.
    #[test]
    fn a_coarse_price_is_refined_before_its_discount() {
        let bonus = Ratio::from_bps(800);
        let d = Price::ONE.discounted(bonus).unwrap();
        assert_eq!(d.exponent(), 18);
        assert_eq!(d.mantissa(), 925_925_925_925_925_925);
        let one = Price::ONE.mantissa_over(d).unwrap();
        assert_eq!(one, 1_000_000_000_000_000_000);
        let factor = mul_div(one, RATIO_SCALE, d.mantissa(), true).unwrap();
        // Rounded up, from a discounted price rounded down.
        assert_eq!(factor, 1_080_000_001);
        // A price of ten digits or more keeps its exponent.
        let eth = Price::new(2_000_000_000_000, 12)
            .unwrap()
            .discounted(bonus)
            .unwrap();
        assert_eq!((eth.mantissa(), eth.exponent()), (1_851_851_851_851, 12));
        assert_eq!(d.mantissa_over(Price::ONE), Err(ArithError::Domain));
    }

    /// The exact rational `n / d` rounded as asked, by a route that shares
    /// nothing with `div_round`: Euclidean division on `i128`.
    fn reference(n: i128, d: i128, round: Round) -> i128 {
        let q = n.div_euclid(d);
        match round {
            Round::Down => q,
            Round::Up if n.rem_euclid(d) != 0 => q + 1,
            Round::Up => q,
        }
    }

    proptest! {
        #[test]
        fn div_round_is_the_exact_quotient_rounded(
            n in any::<i128>().prop_filter("not MIN", |n| *n != i128::MIN),
            d in 1..=u128::from(u64::MAX),
            small in any::<bool>(),
        ) {
            // Half the cases in the 64-bit fast path.
            let n = if small { n % (1i128 << 64) } else { n };
            for round in [Round::Down, Round::Up] {
                let expected = reference(n, d as i128, round);
                prop_assert_eq!(div_round(n, d, round), Ok(expected));
            }
        }

        #[test]
        fn a_value_brackets_the_exact_product(b in any::<i64>(), m in 1u64.., e in 0u8..=19) {
            let p = Price::new(m, e).unwrap();
            let exact_num = i128::from(b) * i128::from(m);
            let d = i128::from(pow10(e).unwrap());
            match (Qty(b).value(p, Round::Down), Qty(b).value(p, Round::Up)) {
                (Ok(down), Ok(up)) => {
                    prop_assert!(i128::from(down.0) * d <= exact_num);
                    prop_assert!(i128::from(up.0) * d >= exact_num);
                    prop_assert!(up.0 - down.0 <= 1);
                }
                // Overflow only where the exact quotient leaves i64.
                (down, up) => {
                    let q = exact_num.div_euclid(d);
                    prop_assert!(q < i128::from(i64::MIN) || q >= i128::from(i64::MAX),
                        "overflow reported for {} ({:?} {:?})", q, down, up);
                }
            }
        }

        #[test]
        fn shares_round_trip_in_the_protocols_favour(q in 0i64..(1 << 62), idx in 1u64..=INDEX_SCALE) {
            let index = Index(idx);
            // Credited: shares down, then held down: never more than given.
            let given = q.max(0);
            if let Ok(shares) = Qty(given).shares(index, Round::Down) {
                prop_assert!(shares.held(index).unwrap().0 <= given);
            }
            // Debited: shares up: the shares taken hold at least the amount.
            if let Ok(shares) = Qty(given).shares(index, Round::Up) {
                prop_assert!(shares.held(index).unwrap().0 >= given - 1);
                prop_assert!(i128::from(shares.0) * i128::from(idx) >= i128::from(given) * i128::from(INDEX_SCALE));
            }
        }
    }

    proptest! {
        #[test]
        fn the_reciprocal_and_the_division_agree(a in any::<u64>(), b in any::<u64>(), k in 0u8..=19, up in any::<bool>()) {
            let d = pow10(k).unwrap();
            prop_assert_eq!(mul_div(a, b, d, up), mul_div_by(a, b, pow10_divisor(k).unwrap(), up));
            prop_assert_eq!(mul_div(a >> 20, b >> 30, INDEX_SCALE, up), mul_div_by(a >> 20, b >> 30, &INDEX_DIVISOR, up));
            prop_assert_eq!(mul_div_pow10(a, b, Price::new(1, k).unwrap(), up), mul_div(a, b, d, up));
        }
    }

    proptest! {
        #[test]
        fn signed_mul_div_is_the_exact_quotient_rounded(x in any::<i64>(), y in any::<u64>(), d in 1u64..) {
            for round in [Round::Down, Round::Up] {
                let exact = reference(i128::from(x) * i128::from(y), i128::from(d), round);
                match signed_mul_div(x, y, d, round) {
                    Ok(q) => prop_assert_eq!(i128::from(q), exact),
                    Err(e) => {
                        prop_assert_eq!(e, ArithError::Overflow);
                        prop_assert!(exact.unsigned_abs() > i64::MAX as u128);
                    }
                }
            }
        }
    }

    #[test]
    fn rounding_edges() {
        assert_eq!(div_round(-7, 2, Round::Down), Ok(-4));
        assert_eq!(div_round(-7, 2, Round::Up), Ok(-3));
        assert_eq!(div_round(7, 2, Round::Down), Ok(3));
        assert_eq!(div_round(7, 2, Round::Up), Ok(4));
        assert_eq!(div_round(6, 0, Round::Up), Err(ArithError::Domain));
        assert_eq!(
            div_round(i128::MIN, 1, Round::Up),
            Err(ArithError::Overflow)
        );
        assert_eq!(Price::new(0, 3), Err(ArithError::Domain));
        assert_eq!(Price::new(1, 20), Err(ArithError::Domain));
    }

    #[test]
    fn decimal_parameters_are_exact_at_the_threshold() {
        // 1 ETH (9 decimals) at 2,000.000000 USDC (6 decimals): the price is
        // 2 quote base units per base unit; with 9 price decimals the
        // exponent is 9 + 9 - 6 = 12 and the mantissa 2 × 10^12.
        let eth = Price::new(2_000_000_000_000, 12).unwrap();
        let collateral = Qty(1_000_000_000).value(eth, Round::Down).unwrap();
        assert_eq!(collateral, Value(2_000_000_000));
        // An 83% threshold holds 1,660 USDC of debt exactly: not below.
        let threshold = Ratio::from_bps(8_300);
        let debt = Value(1_660_000_000);
        assert_eq!(collateral.weighted(threshold), debt.weighted(Ratio::ONE));
    }
}

//! How much one pair step repays and seizes, in base units.
//!
//! A pair step repays `r` of liability L and seizes `s` of collateral C at
//! oracle prices. C's bonus `b` enters through its discounted price
//! `p̃_C = ⌊p_C / (1+b)⌋` ([`Price::discounted`]), computed when C's oracle
//! moves, rounded down so that every seizure it sizes is the larger:
//!
//! - `covered = ⌊⌊held_C·p̃_C⌋ / p_L⌋`: the most the collateral backs,
//!   rounded down at each step (the step may repay no more);
//! - `s = ⌈⌈r·p_L⌉ / p̃_C⌉`, or all of C when `r` reaches `covered`: rounded
//!   up at each step (what is taken from an account rounds up);
//! - the policy's wanted `r` is clamped as the kernel clamps it
//!   (docs/semantics.md): at least one dust unit unless the debt is smaller,
//!   the whole debt when less than dust would remain, at most the debt and
//!   `covered`.
//!
//! Each rounding is one 128-bit product and one division.

use crate::num::{ArithResult, Price, Qty, Ratio, Round, Value, Weighted};

/// Which liquidation rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Policy {
    /// Repay the whole debt, pair by pair, seizing what covers each
    /// repayment (Compound III's `absorb`, as docs/semantics.md models it).
    Absorb,
    /// Repay a fraction of one debt per liquidation (Aave v3).
    CloseFactor {
        /// Fraction of the debt repayable in one liquidation, in (0, 1].
        close_factor: Ratio,
        /// At or below this maintenance health factor the whole debt may be
        /// repaid (Aave: 0.95).
        full_close_health_factor: Ratio,
        /// Below this debt value the whole debt may be repaid.
        full_close_debt_value: Value,
    },
    /// Repay the least that restores liquidation-end health to zero, over
    /// as many pairs as needed (Mango v4, marginfi).
    ToTarget,
}

/// One pair's inputs, in effective base units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairInputs {
    /// The liability's debt, > 0, in L's base units.
    pub debt: Qty,
    /// The collateral held, > 0, in C's base units.
    pub held: Qty,
    /// L's oracle price.
    pub liability_price: Price,
    /// C's oracle price net of its bonus, [`Price::discounted`].
    pub collateral_discounted: Price,
    /// L's dust size.
    pub dust: Qty,
    /// The most of L containment lets the step repay ([`crate::liquidate::Gate`]);
    /// `None` for no limit.
    pub room: Option<Qty>,
}

/// The most of L that C covers, rounded down.
pub fn covered(p: &PairInputs) -> ArithResult<Qty> {
    let worth = p.held.value(p.collateral_discounted, Round::Down)?;
    worth.qty(p.liability_price, Round::Down)
}

/// What repaying `repay` of L seizes of C, rounded up (not capped).
pub fn seizure(p: &PairInputs, repay: Qty) -> ArithResult<Qty> {
    let repaid = repay.value(p.liability_price, Round::Up)?;
    repaid.qty(p.collateral_discounted, Round::Up)
}

/// To-target: the liquidation-end health one unit of value repaid gains,
/// `wl_L − wa_C·(1+b)` (C's bonus factor `(1+b) = p_C / p̃_C`, rounded up),
/// rounded down; `None` when a repayment gains nothing.
pub fn gain_per_value(
    liability_weight: Ratio,
    collateral_weight: Ratio,
    collateral_price: Price,
    collateral_discounted: Price,
) -> ArithResult<Option<Ratio>> {
    // The discounted price may be over a finer exponent (a coarse price is
    // refined before its discount).
    let bonus_factor = Ratio(
        crate::num::mul_div(
            collateral_price.mantissa_over(collateral_discounted)?,
            crate::num::RATIO_SCALE,
            collateral_discounted.mantissa(),
            true,
        )?
        .unsigned_abs(),
    );
    let given = collateral_weight.mul(bonus_factor, Round::Up)?;
    Ok(liability_weight
        .0
        .checked_sub(given.0)
        .filter(|g| *g > 0)
        .map(Ratio))
}

/// To-target: the repayment of L whose gain covers `deficit` (a positive
/// weighted value), `⌈⌈deficit / gain⌉ / p_L⌉`. The caller checks the
/// health it reaches after the step's own roundings.
pub fn to_target(deficit: Weighted, gain: Ratio, liability_price: Price) -> ArithResult<Qty> {
    let value = crate::num::div_round(deficit.0, u128::from(gain.0), Round::Up)?;
    let value = Value(i64::try_from(value).map_err(|_| crate::num::ArithError::Overflow)?);
    value.qty(liability_price, Round::Up)
}

/// The policy's wanted repayment: the whole debt, or (close factor, not in
/// full) `⌊cf × debt⌋`.
pub fn wanted(policy: &Policy, debt: Qty, full: bool) -> ArithResult<Qty> {
    match policy {
        Policy::CloseFactor { close_factor, .. } if !full => debt.scale(*close_factor, Round::Down),
        _ => Ok(debt),
    }
}

/// Clamps a wanted repayment to the pair's limits and the dust rules.
pub fn clamp_repay(wanted: Qty, debt: Qty, covered: Qty, dust: Qty) -> Qty {
    let mut repay = wanted.max(dust.min(debt));
    if Qty(debt.0.saturating_sub(repay.0)) < dust {
        repay = debt;
    }
    repay.min(debt).min(covered)
}

/// The step's `(repay, seize)`: all of C once the repayment reaches what it
/// covers, else the seizure for the repayment (never more than held).
pub fn size(p: &PairInputs, wanted: Qty) -> ArithResult<(Qty, Qty)> {
    let covered = covered(p)?;
    let repay = clamp_repay(wanted, p.debt, covered, p.dust);
    // Containment's room last, as the kernel applies it: below dust too.
    let repay = p.room.map_or(repay, |room| repay.min(room));
    let seize = if repay >= covered {
        p.held
    } else {
        seizure(p, repay)?.min(p.held)
    };
    Ok((repay, seize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eth_usdc(debt: i64, held: i64) -> PairInputs {
        PairInputs {
            debt: Qty(debt),
            held: Qty(held),
            liability_price: Price::ONE,
            // 2,000 USDC (6 decimals) per ETH (9 decimals), a 5% bonus.
            collateral_discounted: Price::new(2_000_000_000_000, 12)
                .unwrap()
                .discounted(Ratio::from_bps(500))
                .unwrap(),
            dust: Qty(1_000_000),
            room: None,
        }
    }

    #[test]
    fn a_close_factor_step_repays_half_and_seizes_with_the_bonus() {
        // 17,000 USDC owed against 10 ETH.
        let p = eth_usdc(17_000_000_000, 10_000_000_000);
        let policy = Policy::CloseFactor {
            close_factor: Ratio::from_bps(5_000),
            full_close_health_factor: Ratio::from_bps(9_500),
            full_close_debt_value: Value(2_000_000_000),
        };
        let (repay, seize) = size(&p, wanted(&policy, p.debt, false).unwrap()).unwrap();
        assert_eq!(repay, Qty(8_500_000_000));
        // 8,500 × 1.05 / 2,000 = 4.4625 ETH, and a base unit more: the
        // discounted price 1,904.761904761 rounds down.
        assert_eq!(seize, Qty(4_462_500_001));
    }

    #[test]
    fn repaying_what_the_collateral_covers_takes_all_of_it() {
        // 1 ETH covers 2,000 / 1.05 = 1,904.761904 USDC.
        let p = eth_usdc(5_000_000_000, 1_000_000_000);
        assert_eq!(covered(&p), Ok(Qty(1_904_761_904)));
        assert_eq!(
            size(&p, p.debt),
            Ok((Qty(1_904_761_904), Qty(1_000_000_000)))
        );
    }

    proptest! {
        #[test]
        fn a_step_never_seizes_more_than_held_nor_less_than_repaid_with_bonus(
            debt in 1i64..(1 << 40), held in 1i64..(1 << 40), bps in 0u32..2_000,
            mantissa in 1u64..(1 << 44), wanted_part in 0u32..=10_000,
        ) {
            let Ok(discounted) = Price::new(mantissa, 12).unwrap().discounted(Ratio::from_bps(bps)) else {
                return Ok(());
            };
            let p = PairInputs {
                collateral_discounted: discounted,
                dust: Qty(1),
                ..eth_usdc(debt, held)
            };
            let wanted = p.debt.scale(Ratio::from_bps(wanted_part), Round::Down).unwrap();
            let (repay, seize) = size(&p, wanted).unwrap();
            prop_assert!(seize <= p.held && repay <= p.debt);
            // The seizure is worth at least the repayment with its bonus
            // unless the whole collateral went (exact rationals in i128).
            if seize < p.held {
                let lhs = i128::from(seize.0) * i128::from(mantissa) * 10_000;
                let rhs = i128::from(repay.0) * (10_000 + i128::from(bps)) * 1_000_000_000_000;
                prop_assert!(lhs >= rhs, "seized {} for {}", seize.0, repay.0);
            }
            // And at most a base unit and the discount's rounding over it.
            let exact = i128::from(repay.0) * 1_000_000_000_000 / i128::from(discounted.mantissa());
            prop_assert!(i128::from(seize.0) <= exact + 1 || seize == p.held);
        }
    }
}

//! Health of one account's stored balances, exactly.
//!
//! For balances `b_i` at oracle prices `p_i`,
//! `H = Σ_{b_i > 0} wa_i·value(b_i) + Σ_{b_i < 0} wl_i·value(b_i)`. Each
//! value is rounded once, to a quote base unit, in the protocol's favour (a
//! holding down, a debt up); the weighting is exact ([`Weighted`]). So
//! health is never overstated, and an account exactly at its threshold has
//! `H = 0`: not liquidatable, as on chain.
//!
//! A positive balance is a number of deposit shares. Health values them at
//! the asset's share price `⌊index × price⌋` (over a finer exponent than the
//! price's where the mantissa has room), computed once when the price or
//! the index moves, so a term is one product and one division whether
//! or not a loss was ever socialized. (The amount a share holds, for moving
//! it, is `⌊shares × index⌋`: both round in the protocol's favour.)

use crate::num::{
    mul_div_index, mul_div_pow10, ArithResult, Index, Price, Qty, Ratio, Round, Value, Weighted,
};

/// What one asset contributes to a health in one tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Terms {
    /// The oracle price, at which debts are valued.
    price: Price,
    /// One share's price, `⌊index × price⌋`: the price itself at an index
    /// of one, else over as fine an exponent as the mantissa allows (so
    /// that a quote at `1` over exponent 0 still has a share price of
    /// `0.99…` once a loss was socialized).
    share: Price,
    /// Weight of a holding, at most 1.
    asset_weight: Ratio,
    /// Weight of a debt, at least 1.
    liability_weight: Ratio,
}

impl Terms {
    /// The terms of an asset at `price` and deposit `index` with one tier's
    /// weights.
    pub fn new(
        price: Price,
        index: Index,
        asset_weight: Ratio,
        liability_weight: Ratio,
    ) -> ArithResult<Self> {
        let share = match index {
            Index::ONE => price,
            index => {
                let fine = price.refined()?;
                let mantissa = mul_div_index(fine.mantissa(), index.0, false)?.unsigned_abs();
                fine.with_mantissa(mantissa)?
            }
        };
        Ok(Self {
            price,
            share,
            asset_weight,
            liability_weight,
        })
    }
    /// The weight of a holding.
    pub fn asset_weight(&self) -> Ratio {
        self.asset_weight
    }
    /// The weight of a debt.
    pub fn liability_weight(&self) -> Ratio {
        self.liability_weight
    }
    /// The oracle price.
    pub fn price(&self) -> Price {
        self.price
    }
    /// One share's price.
    pub fn share_price(&self) -> Price {
        self.share
    }
}

/// Health split into its two sides, both as positive weighted values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Health {
    /// Σ weighted holdings.
    pub assets: Weighted,
    /// Σ weighted debts, as a positive number.
    pub liabilities: Weighted,
}

impl Health {
    /// Whether the account may be liquidated: `assets < liabilities`.
    #[inline]
    pub fn is_liquidatable(&self) -> bool {
        self.assets < self.liabilities
    }
    /// `assets − liabilities`.
    pub fn net(&self) -> ArithResult<Weighted> {
        self.assets.sub(self.liabilities)
    }
}

/// Health of `stored` balances (positive: deposit shares; negative: debt in
/// base units), one [`Terms`] per asset.
#[inline]
pub fn health(stored: &[Qty], terms: &[Terms]) -> ArithResult<Health> {
    health_terms(stored, terms, |_, _, _, _| {})
}

/// The stored balance after crediting `amount >= 0` (effective units):
/// shares given to a deposit round down.
pub fn credit(stored: Qty, amount: Qty, index: Index) -> ArithResult<Qty> {
    if !stored.is_negative() {
        return stored.add(amount.shares(index, Round::Down)?);
    }
    let after = stored.add(amount)?;
    if after.is_positive() {
        // The part past zero becomes a deposit.
        return after.shares(index, Round::Down);
    }
    Ok(after)
}

/// The stored balance after debiting `amount >= 0` (effective units):
/// shares taken from a deposit round up.
pub fn debit(stored: Qty, amount: Qty, index: Index) -> ArithResult<Qty> {
    if !stored.is_positive() {
        return stored.sub(amount);
    }
    let held = stored.held(index)?;
    if amount >= held {
        // The whole deposit goes; the rest becomes a debt.
        return amount.sub(held)?.neg();
    }
    let shares = amount.shares(index, Round::Up)?;
    Ok(stored.sub(shares)?.max(Qty::ZERO))
}

/// A deposit of `shares > 0`: its worth, rounded down, and weighted.
#[inline]
fn deposit_term(shares: Qty, t: &Terms) -> ArithResult<(Value, Weighted)> {
    let worth = Value(mul_div_pow10(
        shares.0.unsigned_abs(),
        t.share.mantissa(),
        t.share,
        false,
    )?);
    Ok((worth, worth.weighted(t.asset_weight)))
}

/// A debt `b < 0`: what it owes, rounded up, and weighted (both positive).
#[inline]
fn debt_term(b: Qty, t: &Terms) -> ArithResult<(Value, Weighted)> {
    let owed = Value(mul_div_pow10(
        b.0.unsigned_abs(),
        t.price.mantissa(),
        t.price,
        true,
    )?);
    Ok((owed, owed.weighted(t.liability_weight)))
}

/// One balance's part of a health: its unweighted and weighted values,
/// negative for a debt, zero for a zero balance.
#[inline]
pub fn term(b: Qty, t: &Terms) -> ArithResult<(Value, Weighted)> {
    if b.is_positive() {
        deposit_term(b, t)
    } else if b.is_negative() {
        let (owed, weighted) = debt_term(b, t)?;
        Ok((owed.neg()?, Weighted(weighted.0.wrapping_neg())))
    } else {
        Ok((Value::ZERO, Weighted::ZERO))
    }
}

/// [`health`], handing each held or owed asset's balance and [`term`] to
/// `each` as it goes: a liquidation picks its pair and judges a small debt from them
/// without valuing the row again.
#[inline]
pub fn health_terms(
    stored: &[Qty],
    terms: &[Terms],
    mut each: impl FnMut(usize, Qty, Value, Weighted),
) -> ArithResult<Health> {
    let (mut assets, mut liabilities) = (Weighted::ZERO, Weighted::ZERO);
    for (asset, (&b, t)) in stored.iter().zip(terms).enumerate() {
        if b.is_positive() {
            let (worth, weighted) = deposit_term(b, t)?;
            assets = assets.add(weighted)?;
            each(asset, b, worth, weighted);
        } else if b.is_negative() {
            let (owed, weighted) = debt_term(b, t)?;
            liabilities = liabilities.add(weighted)?;
            each(asset, b, owed.neg()?, Weighted(weighted.0.wrapping_neg()));
        }
    }
    Ok(Health {
        assets,
        liabilities,
    })
}

/// A row's terms summed by kind: what the engine's watch places an
/// account by ([`crate::engine`]).
///
/// Plain `i128` sums: a term is a value under 2^63 times a weight under
/// 2^40 ([`crate::engine::MAX_LIABILITY_WEIGHT`]), a row has at most
/// [`crate::engine::ASSET_LIMIT`] terms, so no sum passes 2^108 and none wraps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sums {
    /// Σ weighted deposits.
    pub deposits: i128,
    /// The weighted quote debt, positive.
    pub quote_debt: i128,
    /// Σ other weighted debts, positive.
    pub debts: i128,
    /// Nonzero balances: a base unit of rounding slack each.
    pub terms: i128,
    /// Assets other than the quote the row owes (bit `i`: asset `i`).
    pub owes: u32,
}

impl Sums {
    /// Adds balance `b` of `asset`, whose weighted term is `weighted`
    /// (negative for a debt); a zero balance adds nothing.
    #[inline]
    pub fn add(&mut self, asset: usize, b: Qty, weighted: Weighted) {
        let w = weighted.0;
        if b.is_positive() {
            self.deposits = self.deposits.wrapping_add(w);
        } else if !b.is_negative() {
            return;
        } else if asset == 0 {
            self.quote_debt = self.quote_debt.wrapping_sub(w);
        } else {
            self.debts = self.debts.wrapping_sub(w);
            self.owes |= 1u32.checked_shl(asset as u32).unwrap_or(0);
        }
        self.terms = self.terms.wrapping_add(1);
    }

    /// Net health: deposits less debts.
    pub fn net(&self) -> Weighted {
        Weighted(
            self.deposits
                .wrapping_sub(self.quote_debt)
                .wrapping_sub(self.debts),
        )
    }
}

/// `row`'s [`Sums`] at `terms`: one pass, a term each nonzero balance.
#[inline]
pub fn sums(row: &[Qty], terms: &[Terms]) -> ArithResult<Sums> {
    let mut sums = Sums::default();
    for (asset, (&b, t)) in row.iter().zip(terms).enumerate() {
        if b.is_positive() {
            sums.add(asset, b, deposit_term(b, t)?.1);
        } else if b.is_negative() {
            let w = debt_term(b, t)?.1;
            sums.add(asset, b, Weighted(w.0.wrapping_neg()));
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdc() -> Terms {
        Terms::new(Price::ONE, Index::ONE, Ratio::ONE, Ratio::ONE).unwrap()
    }

    fn eth(mantissa: u64) -> Terms {
        let price = Price::new(mantissa, 12).unwrap();
        Terms::new(price, Index::ONE, Ratio::from_bps(8_300), Ratio::ONE).unwrap()
    }

    #[test]
    fn an_account_at_its_threshold_is_not_liquidatable_one_unit_past_it_is() {
        let terms = [usdc(), eth(2_000_000_000_000)];
        let at = health(&[Qty(-1_660_000_000), Qty(1_000_000_000)], &terms).unwrap();
        assert_eq!(at.net(), Ok(Weighted::ZERO));
        assert!(!at.is_liquidatable());
        let past = health(&[Qty(-1_660_000_001), Qty(1_000_000_000)], &terms).unwrap();
        assert!(past.is_liquidatable());
    }

    #[test]
    fn rounding_never_overstates_health() {
        // 3 base units at 1/3 quote base unit each (mantissa 333..., e=12)
        // are worth 0.999... : rounded down to 0; a debt of the same rounds
        // up to 1.
        let price = Price::new(333_333_333_333, 12).unwrap();
        let third = Terms::new(price, Index::ONE, Ratio::ONE, Ratio::ONE).unwrap();
        let h = health(&[Qty(0), Qty(3)], &[usdc(), third]).unwrap();
        assert_eq!(h.assets, Value(0).weighted(Ratio::ONE));
        let h = health(&[Qty(0), Qty(-3)], &[usdc(), third]).unwrap();
        assert_eq!(h.liabilities, Value(1).weighted(Ratio::ONE));
    }

    #[test]
    fn the_terms_sum_to_the_health() {
        let terms = [usdc(), eth(2_000_000_000_000)];
        let row = [Qty(-1_700_000_000), Qty(1_000_000_000)];
        let mut seen = [(Value::ZERO, Weighted::ZERO); 2];
        let h = health_terms(&row, &terms, |i, _, v, w| seen[i] = (v, w)).unwrap();
        assert_eq!(h, health(&row, &terms).unwrap());
        assert_eq!(seen[0].0, Value(-1_700_000_000));
        assert_eq!(
            seen[1].1,
            Value(2_000_000_000).weighted(Ratio::from_bps(8_300))
        );
        assert_eq!(h.net().unwrap(), Weighted(seen[0].1 .0 + seen[1].1 .0));
    }

    proptest::proptest! {
        /// The sums by kind add up to the health, and say what is owed.
        #[test]
        fn sums_by_kind_add_up_to_the_health(
            row in proptest::array::uniform3(-(1i64 << 50)..(1i64 << 50)),
            mantissa in 1u64..(1 << 44),
        ) {
            let row = row.map(Qty);
            let terms = [usdc(), eth(mantissa), eth(mantissa / 3 + 1)];
            let s = sums(&row, &terms).unwrap();
            let h = health(&row, &terms).unwrap();
            proptest::prop_assert_eq!(s.net(), h.net().unwrap());
            proptest::prop_assert_eq!(s.deposits, h.assets.0);
            proptest::prop_assert_eq!(s.quote_debt + s.debts, h.liabilities.0);
            let owes = (1..3).filter(|&i| row[i].is_negative()).map(|i| 1u32 << i).sum::<u32>();
            proptest::prop_assert_eq!(s.owes, owes);
            proptest::prop_assert_eq!(s.terms, row.iter().filter(|b| b.0 != 0).count() as i128);
            proptest::prop_assert_eq!(s.quote_debt > 0, row[0].is_negative());
        }
    }

    #[test]
    fn credits_and_debits_cross_zero_and_round_for_the_protocol() {
        let half = Index(crate::num::INDEX_SCALE / 2);
        // −3 + 5 = 2 effective: 4 shares at index 0.5.
        assert_eq!(credit(Qty(-3), Qty(5), half), Ok(Qty(4)));
        // 4 shares hold 2; debiting 5 leaves −3.
        assert_eq!(debit(Qty(4), Qty(5), half), Ok(Qty(-3)));
        // 5 shares hold 2 (rounded down); debiting 1 takes 2 shares (up).
        assert_eq!(debit(Qty(5), Qty(1), half), Ok(Qty(3)));
        assert_eq!(credit(Qty(0), Qty(1), Index::ONE), Ok(Qty(1)));
    }

    #[test]
    fn a_socialized_loss_lowers_what_shares_hold() {
        let half = Index(crate::num::INDEX_SCALE / 2);
        // A share price of half a base unit rounds down to nothing at
        // exponent 0: a finer exponent keeps it.
        let t = Terms::new(Price::new(2, 0).unwrap(), half, Ratio::ONE, Ratio::ONE).unwrap();
        let h = health(&[Qty(10)], &[t]).unwrap();
        assert_eq!(h.assets, Value(10).weighted(Ratio::ONE));
        let t = Terms::new(Price::new(1_000, 3).unwrap(), half, Ratio::ONE, Ratio::ONE).unwrap();
        let h = health(&[Qty(10), Qty(-3)], &[t, t]).unwrap();
        assert_eq!(h.assets, Value(5).weighted(Ratio::ONE));
        assert_eq!(h.liabilities, Value(3).weighted(Ratio::ONE));
    }
}

//! The rows the instruction counts (`tests/instructions.sh`) and the fuel
//! counts (`tests/fuel.sh`) measure, built from integers only so that the
//! host and the wasm32 module measure the same thing.

use crate::account::Terms;
use crate::digest::Digest;
use crate::ledger::ALL_BOOKS;
use crate::liquidate::{fee_share, liquidate_unit, Liquidated, Market, MarketState, Tiers};
use crate::num::{ArithError, ArithResult, Index, Price, Qty, Ratio, Value, INDEX_SCALE};
use crate::policy::Policy;
use crate::venue::{Mechanism, Venue, VenueConfig};

/// Assets in the health sample.
pub const SAMPLE_ASSETS: usize = 8;

/// A row of alternating deposits (`10 + i` units) and debts (`3 + i`
/// units) in 9-decimal base units, every asset at a price that needs a
/// division (exponent 12), a deposit index of 0.97 everywhere, weights 0.8
/// and 1.2: the shape of the kernel's `population::health_sample`.
pub fn health_sample() -> ArithResult<([Qty; SAMPLE_ASSETS], [Terms; SAMPLE_ASSETS])> {
    let mut row = [Qty::ZERO; SAMPLE_ASSETS];
    let mut terms = [Terms::new(Price::ONE, Index::ONE, Ratio::ONE, Ratio::ONE)?; SAMPLE_ASSETS];
    for (i, (b, t)) in (0i64..).zip(row.iter_mut().zip(&mut terms)) {
        let units = if i % 2 == 0 {
            i.wrapping_add(10)
        } else {
            (-3i64).wrapping_sub(i)
        };
        *b = Qty(units.wrapping_mul(1_000_000_000));
        let mantissa =
            1_000_000_000_000u64.wrapping_add(i.unsigned_abs().wrapping_mul(7).wrapping_add(1));
        *t = Terms::new(
            Price::new(mantissa, 12)?,
            Index(INDEX_SCALE / 100 * 97),
            Ratio::from_bps(8_000),
            Ratio::from_bps(12_000),
        )?;
    }
    Ok((row, terms))
}

/// One close-factor pair step's state: 17,000 USDC owed against 10 ETH at
/// 2,000 (maintenance weight 0.83, bonus 5%, a tenth of it to the
/// protocol), the ETH pool 10,000 ETH deep with a 0.3% fee, Aave's 50%
/// close factor.
#[derive(Clone, Copy, Debug)]
pub struct PairStep {
    /// The account's stored balances: USDC, ETH.
    pub row: [Qty; 2],
    /// Maintenance terms.
    pub terms: [Terms; 2],
    /// Liquidation-end terms (ETH at 0.80).
    pub liq_end: [Terms; 2],
    /// USDC and ETH.
    pub markets: [Market<0>; 2],
    /// The insurance fund.
    pub insurance: Value,
    /// The policy.
    pub policy: Policy,
}

impl PairStep {
    /// The state before the step.
    pub fn new() -> ArithResult<Self> {
        let quote = Market {
            oracle: Price::ONE,
            discounted: Price::ONE,
            fee_share: Ratio::ZERO,
            dust: Qty(1_000_000),
            socialized: true,
            clears_at_oracle: false,
            state: MarketState {
                index: Index::ONE,
                venue: None,
                deposit_shares: Qty::ZERO,
            },
            books: Default::default(),
        };
        let bonus = Ratio::from_bps(500);
        let oracle = Price::new(2_000_000_000_000, 12)?;
        let dust = Qty(1_000);
        // A pool of 10,000 ETH and 20,000,000 USDC.
        let pool = VenueConfig::ConstantProduct {
            base_reserve: Qty(10_000_000_000_000),
            fee: Ratio::from_bps(30),
            resilience: Ratio::ZERO,
        };
        let eth = Market {
            oracle,
            discounted: oracle.discounted(bonus)?,
            fee_share: fee_share(bonus, Ratio::from_bps(1_000))?,
            dust,
            state: MarketState {
                index: Index::ONE,
                venue: Some(Venue::new(&pool, oracle, dust).map_err(|_| ArithError::Domain)?),
                deposit_shares: Qty(10_000_000_000),
            },
            ..quote
        };
        let usdc = Terms::new(Price::ONE, Index::ONE, Ratio::ONE, Ratio::ONE)?;
        let eth_terms =
            |weight_bps| Terms::new(oracle, Index::ONE, Ratio::from_bps(weight_bps), Ratio::ONE);
        Ok(Self {
            row: [Qty(-17_000_000_000), Qty(10_000_000_000)],
            terms: [usdc, eth_terms(8_300)?],
            liq_end: [usdc, eth_terms(8_000)?],
            markets: [quote, eth],
            insurance: Value::ZERO,
            policy: Policy::CloseFactor {
                close_factor: Ratio::from_bps(5_000),
                full_close_health_factor: Ratio::from_bps(9_500),
                full_close_debt_value: Value(2_000_000_000),
            },
        })
    }

    /// The same market under absorb with 25,000 USDC owed, a fund of 3,000
    /// and 100,000 USDC lent by others: the step seizes all 10 ETH, covers
    /// about 19,048, and the waterfall takes the rest from the fund and
    /// the lenders. The kernel's `liquidation` workload is such a unit.
    pub fn bankrupt() -> ArithResult<Self> {
        let mut unit = Self::new()?;
        unit.row[0] = Qty(-25_000_000_000);
        unit.policy = Policy::Absorb;
        unit.insurance = Value(3_000_000_000);
        unit.markets[0].state.deposit_shares = Qty(100_000_000_000);
        Ok(unit)
    }

    /// Runs the liquidation unit; whether it liquidated.
    #[inline]
    pub fn run(&mut self) -> bool {
        let tiers = Tiers {
            maint: &self.terms,
            liq_end: &self.liq_end,
        };
        let done: Result<Result<Liquidated, _>, _> = liquidate_unit::<2, 0, 0>(
            &mut self.row,
            tiers,
            &mut self.markets,
            &mut self.insurance,
            &self.policy,
            None,
            |_| {},
        );
        matches!(done, Ok(Ok(_)))
    }
}

impl PairStep {
    /// Feeds the state a unit leaves: the row, the fund, each market's
    /// pool, index, shares and books.
    fn feed(&self, d: &mut Digest) {
        self.row.iter().for_each(|b| d.i64(b.0));
        d.i64(self.insurance.0);
        for m in &self.markets {
            if let Some(Mechanism::Pool(p)) = m.state.venue.map(|v| v.mechanism) {
                d.i64(p.pool.base.0);
                d.i64(p.pool.quote.0);
            }
            d.u64(m.state.index.0);
            d.i64(m.state.deposit_shares.0);
            ALL_BOOKS.iter().for_each(|&b| d.i128(m.books.balance(b)));
        }
    }
}

/// Runs every fixture and writes one line: the health sample's sides and
/// both units' results, and a digest over all of them. The host, the
/// Cortex-M3 firmware and the wasm32 module must write the same line
/// (`tests/targets.sh`): on 32-bit targets every fixed divisor divides by
/// its reciprocal, on 64-bit ones by the division instruction.
pub fn line(w: &mut impl core::fmt::Write) -> Result<(), core::fmt::Error> {
    let mut d = Digest::default();
    d.bytes(b"firesale-next-fixtures-v1");
    let fail = |_| core::fmt::Error;
    let (row, terms) = health_sample().map_err(fail)?;
    let health = crate::account::health(&row, &terms).map_err(fail)?;
    d.i128(health.assets.0);
    d.i128(health.liabilities.0);
    let mut step = PairStep::new().map_err(fail)?;
    let stepped = step.run();
    step.feed(&mut d);
    let mut unit = PairStep::bankrupt().map_err(fail)?;
    let bankrupt = unit.run();
    unit.feed(&mut d);
    write!(
        w,
        "next fixtures digest={:016x} health={} step={}/{} bankrupt={}/{}/{}",
        d.finish(),
        health.net().map_err(fail)?.0,
        u8::from(stepped),
        step.row[0].0,
        u8::from(bankrupt),
        unit.insurance.0,
        unit.markets[0].state.index.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line the other targets must write (tests/targets.sh compares
    /// theirs with this file). It changes only when a result does: then
    /// regenerate it, and say why in the commit.
    #[test]
    fn the_fixtures_line_is_the_committed_one() {
        let mut line = std::string::String::new();
        super::line(&mut line).unwrap();
        let committed = include_str!("../fixtures.txt");
        assert_eq!(line, committed.trim_end());
    }

    #[test]
    fn the_fixtures_measure_what_they_say() {
        let (row, terms) = health_sample().unwrap();
        let h = crate::account::health(&row, &terms).unwrap();
        assert!(h.assets.0 > 0 && h.liabilities.0 > 0);
        let mut step = PairStep::new().unwrap();
        assert!(step.run(), "the fixture's account is liquidatable");
        assert_eq!(step.row[0], Qty(-8_500_000_000));
        let mut unit = PairStep::bankrupt().unwrap();
        assert!(unit.run());
        assert_eq!(unit.row, [Qty::ZERO, Qty::ZERO]);
        assert_eq!(unit.insurance, Value(0), "the fund paid what it had");
        assert!(
            unit.markets[0].state.index < Index::ONE,
            "the lenders took the rest"
        );
    }
}

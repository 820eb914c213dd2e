//! Generated account populations: leveraged positions whose sizes have a
//! heavy (Pareto) tail of whales, plus the lenders on the other side.
//!
//! Generation is in `f64` on the host from a seeded [`SplitMix64`]; the
//! balances are then rounded to the kernel's fixed point once. `libm` keeps
//! the draws bit-identical on every host.

use crate::rng::SplitMix64;
use firesale_core::account::WeightedPrice;
use firesale_core::num::Fx;
use firesale_core::{AssetConfig, Qty, Ratio};

/// Which way the generated positions lean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Deposit the risky assets, borrow the quote.
    Long,
    /// Deposit the quote, borrow (short) one risky asset.
    Short,
}

/// How a position over several assets is margined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Margin {
    /// One account holds every asset: each backs the whole debt.
    Cross,
    /// One account per asset, each with its share of the debt: a loss on
    /// one asset stops at that account's margin. The kernel isolates by
    /// account, so isolation is a matter of how positions map to accounts.
    Isolated,
}

/// How leveraged each position is, drawn uniformly per account.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Leverage {
    /// Maintenance health factor (weighted collateral / weighted debt) in
    /// `[min, max)`.
    HealthFactor {
        /// Lowest (above 1, or the account starts liquidatable).
        min: f64,
        /// Highest, exclusive.
        max: f64,
    },
    /// Position notional / equity in `[min, max)`.
    Notional {
        /// Lowest (above 1).
        min: f64,
        /// Highest, exclusive.
        max: f64,
    },
}

/// Position size: Pareto with scale `min` and tail index `alpha`, capped
/// at `max`, in units of the first position asset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Size {
    /// Scale (the smallest size).
    pub min: f64,
    /// Tail index: lower is heavier (1.3 puts a few whales far out).
    pub alpha: f64,
    /// Cap on one account's size.
    pub max: f64,
}

/// A population to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    /// Accounts in all, lenders included.
    pub count: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Long or short.
    pub side: Side,
    /// Risky assets held (long; the value is split between them at random)
    /// or the one asset shorted (short), as asset indices.
    pub assets: Vec<usize>,
    /// Share of `count` that only lend: the quote for longs, the shorted
    /// asset for shorts, 1.25× what the positions borrow.
    pub lender_share: f64,
    /// Position sizes.
    pub size: Size,
    /// Leverage per account.
    pub leverage: Leverage,
    /// Cross or isolated margin for positions over several assets.
    pub margin: Margin,
}

impl Population {
    /// The bundled default's shape: 90% borrowers of quote against `asset`,
    /// sizes Pareto from 1 unit with α = 1.3 capped at 2,000, health factors
    /// uniform in [1.01, 1.8), 10% lenders.
    pub fn lending(count: usize, seed: u64, asset: usize) -> Self {
        Self {
            count,
            seed,
            side: Side::Long,
            assets: vec![asset],
            lender_share: 0.1,
            size: Size {
                min: 1.0,
                alpha: 1.3,
                max: 2_000.0,
            },
            leverage: Leverage::HealthFactor {
                min: 1.01,
                max: 1.8,
            },
            margin: Margin::Cross,
        }
    }

    /// How many of `count` only lend.
    pub fn lenders(&self) -> usize {
        let lenders = libm::round(self.count as f64 * self.lender_share);
        match lenders.is_finite() && lenders > 0.0 {
            true => (lenders as usize).min(self.count),
            false => 0,
        }
    }

    /// Accounts [`Population::generate`] makes: `count`, or under isolated
    /// margin over several assets one per asset of each position.
    pub fn accounts(&self) -> u64 {
        let lenders = self.lenders();
        let positions = (self.count - lenders) as u64;
        let per_position = match self.splits() {
            true => self.assets.len() as u64,
            false => 1,
        };
        (lenders as u64).saturating_add(positions.saturating_mul(per_position))
    }

    /// Whether each position becomes one account per asset.
    fn splits(&self) -> bool {
        self.margin == Margin::Isolated && self.side == Side::Long && self.assets.len() > 1
    }

    /// Balances, `assets.len()` per account: the lenders first, then the
    /// positions (under isolated margin, one account per asset of each).
    pub fn generate(&self, assets: &[AssetConfig]) -> Result<Vec<Qty>, String> {
        let mut out = Vec::new();
        self.generate_into(assets, &mut out)?;
        Ok(out)
    }

    /// [`Population::generate`], appending to `out`. A balance that is not
    /// a finite number within the kernel's fixed point (from a price or a
    /// size too large or too small) is an error, not a saturated number.
    pub fn generate_into(&self, assets: &[AssetConfig], out: &mut Vec<Qty>) -> Result<(), String> {
        let width = assets.len();
        let lenders = self.lenders();
        let mut rng = SplitMix64::new(self.seed);
        let first = out.len();
        // The lenders' rows, filled once the positions say what they lend.
        out.resize(first + lenders * width, Qty::ZERO);
        let mut borrowed = 0.0;
        let mut row = vec![0.0; width];
        for _ in lenders..self.count {
            row.iter_mut().for_each(|x| *x = 0.0);
            borrowed += match self.side {
                Side::Long => self.long(&mut rng, assets, &mut row),
                Side::Short => self.short(&mut rng, assets, &mut row),
            };
            if self.splits() {
                isolate(&row, &self.assets, assets, out)?;
            } else {
                for &x in &row {
                    out.push(qty(x)?);
                }
            }
        }
        let lent_asset = match self.side {
            Side::Long => 0,
            Side::Short => self.assets.first().copied().unwrap_or(0),
        };
        let deposit = qty(borrowed * 1.25 / lenders.max(1) as f64)?;
        for lender in 0..lenders {
            if let Some(slot) = out.get_mut(first + lender * width + lent_asset) {
                *slot = deposit;
            }
        }
        Ok(())
    }

    /// One long position into `row`; returns the quote borrowed.
    fn long(&self, rng: &mut SplitMix64, assets: &[AssetConfig], row: &mut [f64]) -> f64 {
        let size = rng
            .pareto(self.size.min, self.size.alpha)
            .min(self.size.max);
        let draw = self.draw_leverage(rng);
        let first = self.assets.first().copied().unwrap_or(1);
        let notional = size * price(assets, first);
        // One asset takes the whole notional; several split it at random.
        let shares: Vec<f64> = if self.assets.len() == 1 {
            vec![1.0]
        } else {
            let raw: Vec<f64> = self.assets.iter().map(|_| rng.range(0.2, 1.0)).collect();
            let sum: f64 = raw.iter().sum();
            raw.iter().map(|r| r / sum).collect()
        };
        let mut weighted = 0.0;
        for (&asset, share) in self.assets.iter().zip(shares) {
            let held = notional * share / price(assets, asset);
            row[asset] = held;
            weighted += held * price(assets, asset) * maint_weight(assets, asset);
        }
        let debt = match self.leverage {
            Leverage::HealthFactor { .. } => weighted / draw,
            Leverage::Notional { .. } => notional * (1.0 - 1.0 / draw),
        };
        row[0] = -debt;
        debt
    }

    /// One short position into `row`; returns the asset borrowed.
    fn short(&self, rng: &mut SplitMix64, assets: &[AssetConfig], row: &mut [f64]) -> f64 {
        let size = rng
            .pareto(self.size.min, self.size.alpha)
            .min(self.size.max);
        let draw = self.draw_leverage(rng);
        let asset = self.assets.first().copied().unwrap_or(1);
        let notional = size * price(assets, asset);
        let quote_weight = maint_weight(assets, 0).max(f64::MIN_POSITIVE);
        let liability_weight = assets
            .get(asset)
            .map_or(1.0, |a| a.liability_weights.maint.to_f64());
        row[0] = match self.leverage {
            Leverage::HealthFactor { .. } => draw * notional * liability_weight / quote_weight,
            Leverage::Notional { .. } => notional * (1.0 + 1.0 / draw),
        };
        row[asset] = -size;
        size
    }

    /// One draw of the leverage measure (a health factor or a notional
    /// leverage, whichever `self.leverage` is).
    fn draw_leverage(&self, rng: &mut SplitMix64) -> f64 {
        let (Leverage::HealthFactor { min, max } | Leverage::Notional { min, max }) = self.leverage;
        rng.range(min, max)
    }
}

/// Splits a cross-margined long `row` into one account per held asset,
/// each owing the share of the debt its weighted collateral carries, so
/// every part starts at the same health factor.
fn isolate(
    row: &[f64],
    held: &[usize],
    assets: &[AssetConfig],
    out: &mut Vec<Qty>,
) -> Result<(), String> {
    let weighted = |a: usize| row[a] * price(assets, a) * maint_weight(assets, a);
    let total: f64 = held.iter().map(|&a| weighted(a)).sum();
    for &a in held {
        for i in 0..row.len() {
            let x = if i == a {
                row[a]
            } else if i == 0 && total > 0.0 {
                row[0] * weighted(a) / total
            } else {
                0.0
            };
            out.push(qty(x)?);
        }
    }
    Ok(())
}

/// A generated balance in the kernel's fixed point, checked: a NaN, an
/// infinity or a number beyond its range is an error.
fn qty(x: f64) -> Result<Qty, String> {
    Fx::checked_from_num(x).map(Qty).ok_or_else(|| {
        format!("a generated balance is {x}, not a number the kernel's fixed point holds (below 2^79): a price or size too large or too small")
    })
}

fn price(assets: &[AssetConfig], asset: usize) -> f64 {
    assets.get(asset).map_or(1.0, |a| a.price.to_f64())
}

fn maint_weight(assets: &[AssetConfig], asset: usize) -> f64 {
    assets
        .get(asset)
        .map_or(1.0, |a| a.asset_weights.maint.to_f64())
}

/// One row for timing a health evaluation (the bench and the instruction
/// counts): deposits in every other asset of `assets`, debts in the rest,
/// a deposit index of 0.97 and a distinct weighted price for each asset, so
/// that every branch and product of the evaluation runs. Returns the row,
/// the indices and the weighted prices, as `account::health` takes them.
pub fn health_sample(assets: usize) -> (Vec<Qty>, Vec<Ratio>, Vec<WeightedPrice>) {
    let row = (0..assets)
        .map(|i| match i % 2 {
            0 => Qty::from_f64(10.0 + i as f64),
            _ => Qty::from_f64(-3.0 - i as f64),
        })
        .collect();
    let index = vec![Ratio::from_f64(0.97); assets];
    let weighted = (0..assets)
        .map(|i| WeightedPrice {
            asset: Fx::from_num(0.8 * (1.0 + i as f64)),
            liability: Fx::from_num(1.2 * (1.0 + i as f64)),
        })
        .collect();
    (row, index, weighted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::risky;
    use firesale_core::{Ratio, VenueConfig};

    fn market() -> Vec<AssetConfig> {
        let pool = VenueConfig::ConstantProduct {
            base_reserve: Qty::from_int(1_000),
            fee: Ratio::ZERO,
            resilience: Ratio::ZERO,
        };
        vec![
            AssetConfig::quote(),
            risky(2_000.0, [0.8, 0.82, 0.85], 0.05, pool),
            risky(50.0, [0.7, 0.72, 0.75], 0.05, pool),
        ]
    }

    fn health(row: &[Qty], assets: &[AssetConfig]) -> f64 {
        let (mut collateral, mut debt) = (0.0, 0.0);
        for (b, a) in row.iter().zip(assets) {
            let value = b.to_f64() * a.price.to_f64();
            if value >= 0.0 {
                collateral += value * a.asset_weights.maint.to_f64();
            } else {
                debt -= value * a.liability_weights.maint.to_f64();
            }
        }
        collateral / debt
    }

    #[test]
    fn long_positions_have_the_drawn_health_and_lenders_cover_them() {
        let assets = market();
        let mut p = Population::lending(1_000, 9, 1);
        p.assets = vec![1, 2];
        let rows = p.generate(&assets).unwrap();
        assert_eq!(rows.len(), 1_000 * 3);
        let (lenders, positions) = rows.split_at(100 * 3);
        let lent: f64 = lenders.chunks(3).map(|r| r[0].to_f64()).sum();
        let borrowed: f64 = -positions.chunks(3).map(|r| r[0].to_f64()).sum::<f64>();
        assert!(
            (lent / borrowed - 1.25).abs() < 1e-6,
            "{lent} vs {borrowed}"
        );
        for row in positions.chunks(3) {
            assert!(row[1] > Qty::ZERO && row[2] > Qty::ZERO, "split over both");
            let h = health(row, &assets);
            assert!((1.0099..1.8001).contains(&h), "health factor {h}");
        }
    }

    #[test]
    fn isolated_margin_splits_each_position_at_the_same_health() {
        let assets = market();
        let mut cross = Population::lending(200, 4, 1);
        cross.assets = vec![1, 2];
        let mut isolated = cross.clone();
        isolated.margin = Margin::Isolated;
        let (c, i) = (
            cross.generate(&assets).unwrap(),
            isolated.generate(&assets).unwrap(),
        );
        assert_eq!(i.len(), c.len() + 180 * 3, "one more account per position");
        let positions_c: Vec<&[Qty]> = c.chunks(3).skip(20).collect();
        let positions_i: Vec<&[Qty]> = i.chunks(3).skip(20).collect();
        for (whole, parts) in positions_c.iter().zip(positions_i.chunks(2)) {
            assert_eq!(parts[0][2], Qty::ZERO);
            assert_eq!(parts[1][1], Qty::ZERO);
            let debt = parts[0][0].to_f64() + parts[1][0].to_f64();
            assert!((debt - whole[0].to_f64()).abs() < 1e-6 * whole[0].to_f64().abs());
            let h = health(whole, &assets);
            for part in parts {
                assert!(
                    (health(part, &assets) - h).abs() < 1e-9,
                    "same health factor"
                );
            }
        }
    }

    #[test]
    fn shorts_owe_the_asset_and_notional_leverage_holds() {
        let assets = market();
        let mut p = Population::lending(500, 3, 1);
        p.side = Side::Short;
        p.leverage = Leverage::Notional { min: 2.0, max: 5.0 };
        let rows = p.generate(&assets).unwrap();
        for row in rows.chunks(3).skip(50) {
            let notional = -row[1].to_f64() * 2_000.0;
            let equity = row[0].to_f64() - notional;
            let leverage = notional / equity;
            assert!((1.999..5.001).contains(&leverage), "leverage {leverage}");
        }
        let lent: f64 = rows.chunks(3).take(50).map(|r| r[1].to_f64()).sum();
        assert!(lent > 0.0, "lenders deposit the shorted asset");
    }

    #[test]
    fn sizes_have_a_heavy_tail_up_to_the_cap() {
        let assets = market();
        let rows = Population::lending(20_000, 1, 1).generate(&assets).unwrap();
        let sizes: Vec<f64> = rows.chunks(3).map(|r| r[1].to_f64()).collect();
        let max = sizes.iter().copied().fold(0.0, f64::max);
        // 18,000 borrowers, P(size > 100) = 100^-1.3 ≈ 0.25%: about 45.
        let whales = sizes.iter().skip(2_000).filter(|&&s| s > 100.0).count();
        assert!(max > 1_000.0 && max <= 2_000.0, "largest {max}");
        assert!((25..70).contains(&whales), "{whales} whales");
    }
}

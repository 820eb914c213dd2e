//! Venues: where seized collateral is sold and liabilities are bought back.
//!
//! Each risky asset trades against the quote asset in one venue. A venue
//! answers `sell(q)` with the quote it pays, `buy(q)` with the quote it
//! charges, moves its price, and recovers between rounds. Every venue counts
//! the base it has taken in and the quote it has paid out, so the ledger's
//! venue book can be checked against the venue's own state.
//!
//! A trade the venue cannot fill (the price would fall to its floor, the pool
//! or the book would run dry) returns [`VenueError::Exhausted`] and leaves the
//! venue untouched: the market is broken.

mod amm;
mod book;
mod curve;

pub use amm::{Fill, Pool};
pub use book::{Ladder, MAX_BOOK_LEVELS};
pub use curve::Curve;

use crate::num::{self, mul, sqrt, ArithError, Fx, Price, Qty, Ratio, Round, Value};

/// How a venue is configured. Its starting price is the asset's price.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VenueConfig {
    /// The quote asset itself: price exactly 1, no venue.
    Quote,
    /// Kyle's linear impact: the price falls `lambda` per unit sold.
    Linear {
        /// Price change per unit of quantity (quote per unit, per unit).
        lambda: Fx,
        /// Fraction of the outstanding impact that decays each round.
        resilience: Ratio,
        /// The price below which the market is broken.
        floor: Price,
    },
    /// `p = p0 · e^(−Q/D)`.
    Exponential {
        /// Depth `D`, in units of the asset.
        depth: Qty,
        /// Fraction of the outstanding impact that decays each round.
        resilience: Ratio,
        /// The price below which the market is broken.
        floor: Price,
    },
    /// Square-root law `Δp/p = Y·σ·√(Q/V)`.
    SquareRoot {
        /// Y·σ: the impact constant times the volatility.
        y_sigma: Ratio,
        /// Daily volume `V`, in units of the asset.
        volume: Qty,
        /// Fraction of the outstanding impact that decays each round.
        resilience: Ratio,
        /// The price below which the market is broken.
        floor: Price,
    },
    /// Constant-product pool with a fee; arbitrage pulls it toward the
    /// outside price at `resilience` of the gap per round.
    ConstantProduct {
        /// Base reserve; the quote reserve is `base_reserve × price`.
        base_reserve: Qty,
        /// Fee on the input.
        fee: Ratio,
        /// Fraction of the gap to the outside price closed each round.
        resilience: Ratio,
    },
    /// Order-book ladder with refill.
    OrderBook {
        /// Levels per side, `1..=MAX_BOOK_LEVELS`.
        levels: u8,
        /// Level spacing as a fraction of the reference price.
        tick: Ratio,
        /// Depth of each level, in units of the asset.
        depth: Qty,
        /// Fraction of each level's gap refilled per round.
        resilience: Ratio,
    },
}

/// Why a venue could not fill a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VenueError {
    /// The venue's liquidity cannot absorb the trade.
    Exhausted,
    /// The arithmetic overflowed.
    Arith(ArithError),
}

impl From<ArithError> for VenueError {
    fn from(e: ArithError) -> Self {
        VenueError::Arith(e)
    }
}

/// The mechanism behind a venue's price.
// No heap to box the book into: a venue is as large as its bounded ladder.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mechanism {
    /// The quote asset: price 1, trades are transfers.
    Quote,
    /// An impact curve around a reference price.
    Curve {
        /// The curve's shape.
        curve: Curve,
        /// Price at zero outstanding quantity.
        reference: Price,
        /// Net quantity sold whose impact has not decayed yet.
        outstanding: Qty,
        /// Fraction of `outstanding` that decays each round.
        resilience: Ratio,
        /// Price below which the market is broken.
        floor: Price,
    },
    /// A constant-product pool.
    Pool {
        /// Reserves and fee.
        pool: Pool,
        /// The outside price arbitrage pulls toward.
        reference: Price,
        /// Fraction of the gap closed per round.
        resilience: Ratio,
    },
    /// An order-book ladder.
    Book(Ladder),
}

/// A venue's state and its running totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Venue {
    /// The price mechanism.
    pub mechanism: Mechanism,
    /// Net base the venue has taken in from everyone (negative: given out).
    pub base_in: Qty,
    /// Net quote the venue has paid out to everyone (negative: taken in).
    pub quote_out: Value,
    /// Impact worth less than this quantity settles at once in `recover`, so
    /// recovery ends in a bounded number of rounds (the asset's dust size).
    pub settle_below: Qty,
}

impl Venue {
    /// Overwrites `self` with `src` in place: a pool or a curve copies its
    /// own fields only, not the order book's ladder that sizes the enum (a
    /// unit's checkpoint copies every venue). Any other pair of mechanisms
    /// is copied whole.
    pub(crate) fn copy_from(&mut self, src: &Self) {
        let Self {
            mechanism,
            base_in,
            quote_out,
            settle_below,
        } = src;
        self.base_in = *base_in;
        self.quote_out = *quote_out;
        self.settle_below = *settle_below;
        match (&mut self.mechanism, mechanism) {
            (
                Mechanism::Pool {
                    pool,
                    reference,
                    resilience,
                },
                Mechanism::Pool {
                    pool: p,
                    reference: r,
                    resilience: z,
                },
            ) => {
                *pool = *p;
                *reference = *r;
                *resilience = *z;
            }
            (Mechanism::Quote, Mechanism::Quote) => {}
            (mine, theirs) => *mine = *theirs,
        }
    }

    /// Builds a venue at `price` from its configuration (already validated);
    /// impact smaller than `settle_below` units settles at once.
    pub fn new(config: &VenueConfig, price: Price, settle_below: Qty) -> Result<Self, ArithError> {
        let mechanism = match *config {
            VenueConfig::Quote => Mechanism::Quote,
            VenueConfig::Linear {
                lambda,
                resilience,
                floor,
            } => Self::curve(Curve::Linear { lambda }, price, resilience, floor),
            VenueConfig::Exponential {
                depth,
                resilience,
                floor,
            } => Self::curve(Curve::Exponential { depth }, price, resilience, floor),
            VenueConfig::SquareRoot {
                y_sigma,
                volume,
                resilience,
                floor,
            } => {
                let coefficient = num::div(y_sigma.0, sqrt(volume.0, Round::Down)?, Round::Up)?;
                Self::curve(Curve::SquareRoot { coefficient }, price, resilience, floor)
            }
            VenueConfig::ConstantProduct {
                base_reserve,
                fee,
                resilience,
            } => {
                let quote = base_reserve.value_at(price, Round::Down)?;
                Mechanism::Pool {
                    pool: Pool {
                        base: base_reserve,
                        quote,
                        fee,
                    },
                    reference: price,
                    resilience,
                }
            }
            VenueConfig::OrderBook {
                levels,
                tick,
                depth,
                resilience,
            } => Mechanism::Book(Ladder::new(price, tick, depth, levels, resilience)),
        };
        Ok(Self {
            mechanism,
            base_in: Qty::ZERO,
            quote_out: Value::ZERO,
            settle_below,
        })
    }

    fn curve(curve: Curve, reference: Price, resilience: Ratio, floor: Price) -> Mechanism {
        Mechanism::Curve {
            curve,
            reference,
            outstanding: Qty::ZERO,
            resilience,
            floor,
        }
    }

    /// The venue's current price.
    pub fn price(&self) -> Result<Price, ArithError> {
        match &self.mechanism {
            Mechanism::Quote => Ok(Price::ONE),
            Mechanism::Curve {
                curve,
                reference,
                outstanding,
                ..
            } => curve
                .price(*reference, *outstanding, Round::Down)
                .map(Price),
            Mechanism::Pool { pool, .. } => pool.price(),
            Mechanism::Book(ladder) => ladder.price(),
        }
    }

    /// Sells `qty` (> 0) into the venue; returns the proceeds, rounded down.
    /// On error the venue is unchanged.
    pub fn sell(&mut self, qty: Qty) -> Result<Value, VenueError> {
        self.trade(qty)
    }

    /// Buys `qty` (> 0) from the venue; returns the cost, rounded up.
    /// On error the venue is unchanged.
    pub fn buy(&mut self, qty: Qty) -> Result<Value, VenueError> {
        // `trade` checked that the payment negates.
        Ok(self.trade(qty.neg()?)?.neg()?)
    }

    /// What [`Venue::buy`] would charge, without trading.
    pub fn quote_buy(&self, qty: Qty) -> Result<Value, VenueError> {
        let mut copy = *self;
        copy.buy(qty)
    }

    fn record(&mut self, fill: Fill) -> Result<(), ArithError> {
        self.base_in = self.base_in.add(fill.base_in)?;
        self.quote_out = self.quote_out.add(fill.quote_out)?;
        Ok(())
    }

    /// Trades `signed` base into the venue (negative: out of it); returns the
    /// quote paid to the trader (negative: charged). A trade whose prices or
    /// amounts leave the representable range is one the venue cannot fill.
    /// All or nothing: every fallible step runs before the first write, so
    /// a failed trade leaves the venue as it was without a copy of the
    /// whole venue (a liquidation trades once or twice, and a venue with a
    /// book ladder is most of a kilobyte).
    fn trade(&mut self, signed: Qty) -> Result<Value, VenueError> {
        self.trade_unchecked(signed).map_err(|e| match e {
            VenueError::Arith(ArithError::Overflow) => VenueError::Exhausted,
            other => other,
        })
    }

    fn trade_unchecked(&mut self, signed: Qty) -> Result<Value, VenueError> {
        let selling = signed.is_positive();
        let size = signed.abs()?;
        let base_in = self.base_in.add(signed)?;
        // The running totals after a payment, and a check that a buyer can
        // negate it: both before the mechanism commits.
        let totals = |quote_out: Value, paid: Value| -> Result<Value, VenueError> {
            paid.neg()?;
            Ok(quote_out.add(paid)?)
        };
        let (paid, quote_out) = match &mut self.mechanism {
            Mechanism::Quote => {
                let paid = signed.as_quote_value();
                (paid, totals(self.quote_out, paid)?)
            }
            Mechanism::Curve {
                curve,
                reference,
                outstanding,
                floor,
                ..
            } => {
                let after = outstanding.add(signed)?;
                let price_before = curve.price(*reference, *outstanding, Round::Down)?;
                let price_after = curve.price(*reference, after, Round::Down)?;
                if price_after <= floor.0 {
                    return Err(VenueError::Exhausted);
                }
                // Quote paid to the trader is the area from before to after,
                // rounded down: proceeds round down, costs (negative) up.
                let area = curve.area(*reference, after, Round::Down)?.sub(curve.area(
                    *reference,
                    *outstanding,
                    Round::Up,
                )?)?;
                // The area is a difference of two large terms, each within a
                // few ulps of relative error: keep it between the fills at the
                // prices before and after, which bracket the exact area.
                let at_before = Value(mul(signed.0, price_before, Round::Down)?);
                let at_after = Value(mul(signed.0, price_after, Round::Down)?);
                let paid = area.clamp(at_before.min(at_after), at_before.max(at_after));
                let quote_out = totals(self.quote_out, paid)?;
                *outstanding = after;
                (paid, quote_out)
            }
            Mechanism::Pool { pool, .. } => {
                let mut next = *pool;
                let paid = if selling {
                    next.sell(size)?
                } else {
                    next.buy(size)?.ok_or(VenueError::Exhausted)?.neg()?
                };
                let quote_out = totals(self.quote_out, paid)?;
                *pool = next;
                (paid, quote_out)
            }
            Mechanism::Book(ladder) => {
                let mut next = *ladder;
                let paid = if selling {
                    next.sell(size)?.ok_or(VenueError::Exhausted)?
                } else {
                    next.buy(size)?.ok_or(VenueError::Exhausted)?.neg()?
                };
                let quote_out = totals(self.quote_out, paid)?;
                *ladder = next;
                (paid, quote_out)
            }
        };
        self.base_in = base_in;
        self.quote_out = quote_out;
        Ok(paid)
    }

    /// One round of recovery. Returns the fill of an outside arbitrageur
    /// (pools only; zero for the others, whose recovery is transient impact
    /// decaying, with no trade).
    pub fn recover(&mut self) -> Result<Fill, ArithError> {
        match &mut self.mechanism {
            Mechanism::Quote => Ok(Fill::default()),
            Mechanism::Curve {
                outstanding,
                resilience,
                ..
            } => {
                // Decay toward zero, strictly: rounding toward zero guarantees
                // the impact reaches exactly zero in finitely many rounds.
                let kept = num::sub(Fx::ONE, resilience.0)?;
                let round = if outstanding.is_negative() {
                    Round::Up
                } else {
                    Round::Down
                };
                *outstanding = Qty(mul(outstanding.0, kept, round)?);
                if outstanding.abs()? < self.settle_below {
                    *outstanding = Qty::ZERO;
                }
                Ok(Fill::default())
            }
            Mechanism::Pool {
                pool,
                reference,
                resilience,
            } => {
                let now = pool.price()?;
                let gap = num::sub(reference.0, now.0)?;
                if gap == Fx::ZERO || resilience.0 == Fx::ZERO {
                    return Ok(Fill::default());
                }
                let mut settled = *pool;
                let whole = settled.rebalance_to(*reference)?;
                let fill = if whole.base_in.abs()? < self.settle_below {
                    // Close enough: settle, and take the pool's price as the
                    // outside one so later rounds see no gap.
                    *pool = settled;
                    *reference = pool.price()?;
                    whole
                } else {
                    let step = mul(gap, resilience.0, Round::Down)?;
                    pool.rebalance_to(Price(num::add(now.0, step)?))?
                };
                self.record(fill)?;
                Ok(fill)
            }
            Mechanism::Book(ladder) => {
                ladder.recover()?;
                Ok(Fill::default())
            }
        }
    }

    /// Moves the venue's price to `target` from outside (a shock): curves and
    /// books move their reference; a pool is arbitraged to the new price.
    /// Returns the arbitrageur's fill (pools only).
    pub fn move_price(&mut self, target: Price) -> Result<Fill, VenueError> {
        let now = self.price()?;
        let mut next = *self;
        let fill = match &mut next.mechanism {
            Mechanism::Quote => return Err(VenueError::Exhausted),
            Mechanism::Curve {
                curve,
                reference,
                floor,
                ..
            } => {
                // Impact decays toward the reference, so both the price now
                // and the reference must stay above the floor.
                let shifted = curve.shifted_reference(*reference, now, target)?;
                if target <= *floor || shifted <= *floor {
                    return Err(VenueError::Exhausted);
                }
                *reference = shifted;
                Fill::default()
            }
            Mechanism::Pool {
                pool, reference, ..
            } => {
                // The outside price moves by the same ratio as the pool's
                // (recovery arbitrages toward it), and a move to where the
                // pool already is trades nothing: a shock by a ratio of one
                // changes nothing.
                if target == now {
                    Fill::default()
                } else {
                    let ratio: Ratio = target.ratio_to(now, Round::Down)?;
                    *reference = reference.scale(ratio, Round::Down)?;
                    pool.rebalance_to(target)?
                }
            }
            Mechanism::Book(ladder) => {
                ladder.shift(now, target)?;
                Fill::default()
            }
        };
        next.record(fill)?;
        *self = next;
        Ok(fill)
    }

    /// Every number of the venue's state, in canonical order (for the digest).
    pub fn for_each_number(&self, mut f: impl FnMut(Fx)) {
        f(self.base_in.0);
        f(self.quote_out.0);
        match &self.mechanism {
            Mechanism::Quote => {}
            Mechanism::Curve {
                reference,
                outstanding,
                ..
            } => {
                f(reference.0);
                f(outstanding.0);
            }
            Mechanism::Pool {
                pool, reference, ..
            } => {
                f(pool.base.0);
                f(pool.quote.0);
                f(reference.0);
            }
            Mechanism::Book(ladder) => {
                f(ladder.reference.0);
                ladder.levels_left().for_each(|q| f(q.0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear() -> Venue {
        let config = VenueConfig::Linear {
            lambda: Fx::from_num(0.5),
            resilience: Ratio::from_f64(0.5),
            floor: Price::from_f64(0.01),
        };
        Venue::new(&config, Price::from_int(100), Qty::from_f64(1e-6)).unwrap()
    }

    #[test]
    fn sells_and_buys_keep_running_totals() {
        let mut v = linear();
        let proceeds = v.sell(Qty::from_int(10)).unwrap();
        assert_eq!(proceeds, Value::from_int(975));
        assert_eq!(v.price().unwrap(), Price::from_int(95));
        let cost = v.buy(Qty::from_int(10)).unwrap();
        assert_eq!(
            cost,
            Value::from_int(975),
            "buying back walks the same line"
        );
        assert_eq!(v.base_in, Qty::ZERO);
        assert_eq!(v.quote_out, Value::ZERO);
    }

    #[test]
    fn a_tiny_trade_on_a_deep_curve_fills_between_its_prices() {
        // ref·D ≈ 3.3e8: the two areas carry errors far above the trade.
        let config = VenueConfig::Exponential {
            depth: Qty::from_int(40_394),
            resilience: Ratio::ZERO,
            floor: Price::from_int(1),
        };
        let mut v = Venue::new(&config, Price::from_int(8_078), Qty::from_f64(1e-9)).unwrap();
        for _ in 0..50 {
            let before = v.price().unwrap();
            let q = Qty::from_f64(2.5e-11);
            let proceeds = v.sell(q).unwrap();
            let after = v.price().unwrap();
            assert!(!proceeds.is_negative());
            assert!(proceeds <= q.value_at(before, Round::Down).unwrap());
            assert!(proceeds >= q.value_at(after, Round::Down).unwrap());
        }
    }

    #[test]
    fn a_shock_that_would_sink_the_reference_below_the_floor_is_refused() {
        let mut v = linear();
        v.buy(Qty::from_int(150)).unwrap(); // price 100 → 175, reference 100
        let before = v;
        // 175 → 70 keeps the price above the floor, but the reference would
        // become 100 − 105 < 0 and the impact decays toward it.
        assert_eq!(
            v.move_price(Price::from_int(70)),
            Err(VenueError::Exhausted)
        );
        assert_eq!(v, before);
        assert!(v.move_price(Price::from_int(160)).is_ok());
    }

    #[test]
    fn an_exhausting_sale_is_refused_and_changes_nothing() {
        let mut v = linear();
        let before = v;
        assert_eq!(v.sell(Qty::from_int(200)), Err(VenueError::Exhausted));
        assert_eq!(v, before);
    }

    /// One configuration of each mechanism: the quote, a curve, a pool and
    /// a book.
    fn every_mechanism() -> [VenueConfig; 4] {
        [
            VenueConfig::Quote,
            VenueConfig::Linear {
                lambda: Fx::from_num(0.5),
                resilience: Ratio::from_f64(0.5),
                floor: Price::from_f64(0.01),
            },
            VenueConfig::ConstantProduct {
                base_reserve: Qty::from_int(1_000),
                fee: Ratio::from_f64(0.003),
                resilience: Ratio::from_f64(0.2),
            },
            VenueConfig::OrderBook {
                levels: 4,
                tick: Ratio::from_f64(0.01),
                depth: Qty::from_int(10),
                resilience: Ratio::from_f64(0.5),
            },
        ]
    }

    /// Every mechanism: a trade the venue cannot fill, and one whose running
    /// total would overflow after the mechanism priced it, leave the venue
    /// exactly as it was.
    #[test]
    fn a_failed_trade_changes_nothing_on_any_mechanism() {
        let configs = every_mechanism();
        for config in configs {
            let mut v = Venue::new(&config, Price::from_int(100), Qty::from_f64(1e-6)).unwrap();
            v.sell(Qty::from_int(1)).unwrap();
            let traded = v;
            // More than a pool holds or a ladder's asks: unfillable (a quote
            // venue and a curve fill any size).
            if matches!(
                config,
                VenueConfig::ConstantProduct { .. } | VenueConfig::OrderBook { .. }
            ) {
                assert_eq!(v.buy(Qty::from_int(5_000)), Err(VenueError::Exhausted));
                assert_eq!(v, traded, "{config:?}");
                assert_eq!(
                    v.sell(Qty::from_int(5_000)).is_err(),
                    matches!(config, VenueConfig::OrderBook { .. })
                );
                v = traded;
            }
            // The mechanism prices the trade, then the total overflows.
            v.quote_out = Value(Fx::MAX);
            let full = v;
            assert_eq!(
                v.sell(Qty::from_int(1)),
                Err(VenueError::Exhausted),
                "{config:?}"
            );
            assert_eq!(v, full, "{config:?}");
        }
    }

    /// A checkpoint's in-place copy gives back the venue it copied, between
    /// any two mechanisms (a pool's own fields, or the whole enum).
    #[test]
    fn an_in_place_copy_equals_its_source() {
        let configs = every_mechanism();
        let venue = |config: &VenueConfig, sold: i64| {
            let mut v = Venue::new(config, Price::from_int(100), Qty::from_f64(1e-6)).unwrap();
            if !matches!(config, VenueConfig::Quote) {
                v.sell(Qty::from_int(sold)).unwrap();
            }
            v
        };
        for from in &configs {
            for to in &configs {
                let src = venue(from, 3);
                let mut dst = venue(to, 1);
                dst.copy_from(&src);
                assert_eq!(dst, src, "{to:?} ← {from:?}");
            }
        }
    }

    #[test]
    fn impact_decays_to_exactly_zero() {
        let mut v = linear();
        v.sell(Qty::from_int(10)).unwrap();
        let mut rounds = 0;
        while v.price().unwrap() != Price::from_int(100) {
            v.recover().unwrap();
            rounds += 1;
            assert!(rounds < 200, "recovery must terminate");
        }
        // Halving 10 units each round reaches the 1e-6 settling size in 24.
        assert_eq!(rounds, 24);
        v.recover().unwrap();
        assert_eq!(v.price().unwrap(), Price::from_int(100));
    }

    /// A shock that moves a venue to the price it already shows trades
    /// nothing and changes nothing, on every mechanism (a pool used to take
    /// its depressed price as the new outside price: issue 22). A real move
    /// scales a pool's outside price by the same ratio as the pool's.
    #[test]
    fn a_move_by_a_ratio_of_one_changes_nothing() {
        for config in every_mechanism() {
            if matches!(config, VenueConfig::Quote) {
                continue;
            }
            let mut v = Venue::new(&config, Price::from_int(100), Qty::from_f64(1e-6)).unwrap();
            v.sell(Qty::from_int(7)).unwrap();
            let sold = v;
            let now = v.price().unwrap();
            assert_eq!(v.move_price(now), Ok(Fill::default()), "{config:?}");
            assert_eq!(v, sold, "{config:?}");
        }
        let config = VenueConfig::ConstantProduct {
            base_reserve: Qty::from_int(1_000),
            fee: Ratio::ZERO,
            resilience: Ratio::from_f64(0.5),
        };
        let mut v = Venue::new(&config, Price::from_int(100), Qty::from_f64(1e-6)).unwrap();
        v.sell(Qty::from_int(100)).unwrap();
        let now = v.price().unwrap();
        v.move_price(now.scale(Ratio::from_f64(0.5), Round::Down).unwrap())
            .unwrap();
        let Mechanism::Pool { reference, .. } = v.mechanism else {
            panic!("a pool");
        };
        assert!(
            (reference.to_f64() - 50.0).abs() < 1e-9,
            "the outside price halves with the pool's: {reference:?}"
        );
    }

    #[test]
    fn a_pool_recovers_toward_the_outside_price_by_arbitrage() {
        let config = VenueConfig::ConstantProduct {
            base_reserve: Qty::from_int(1_000),
            fee: Ratio::from_f64(0.003),
            resilience: Ratio::from_f64(0.5),
        };
        let mut v = Venue::new(&config, Price::from_int(100), Qty::from_f64(1e-6)).unwrap();
        v.sell(Qty::from_int(100)).unwrap();
        let low = v.price().unwrap().to_f64();
        let fill = v.recover().unwrap();
        let mid = v.price().unwrap().to_f64();
        assert!(fill.base_in.is_negative(), "the arbitrageur buys");
        assert!(
            (mid - (low + (100.0 - low) / 2.0)).abs() < 1e-6,
            "{low} -> {mid}"
        );
    }
}

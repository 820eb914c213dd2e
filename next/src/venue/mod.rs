//! Venues in base units: where seized collateral is sold and liabilities
//! are bought back (docs/semantics.md, "Venues"; the kernel's
//! `core/src/venue`).
//!
//! Each risky asset trades against the quote in one venue, built for that
//! asset and keeping its price exponent: every price in and out of it is a
//! mantissa over `10^exponent` quote base units per base unit. A venue
//! answers `sell(q)` with the quote it pays and `buy(q)` with the quote it
//! charges (proceeds rounded down, costs up), reports a price, recovers once
//! a round, moves its price for a shock, and counts the base it has taken
//! in and the quote it has paid out, so the ledger's venue book can be
//! checked against the venue's own state.
//!
//! A trade is planned first ([`Venue::plan`], which writes nothing) and then
//! applied ([`Venue::apply`], plain assignments that cannot fail), as the
//! liquidation step in `crate::liquidate` is built: a step that sells into
//! one venue and buys in another applies neither until both are planned. A
//! trade the venue cannot fill (the price would reach the curve's floor, a
//! buy would drain the pool, a side of the book runs out, a price or an
//! amount would leave its range) is [`VenueError::Exhausted`], and the venue
//! is as it was: the market is broken.
//!
//! | kind             | module   | price                 | recovery                         |
//! |------------------|----------|-----------------------|----------------------------------|
//! | linear (Kyle)    | `curve`  | ref − λ·Q             | Q ← Q·(1−ρ), toward zero         |
//! | exponential      | `curve`  | ref·e^(−Q/D)          | Q ← Q·(1−ρ), toward zero         |
//! | square root      | `curve`  | ref·(1 − Yσ·sign(Q)·√(│Q│/V)) | Q ← Q·(1−ρ), toward zero |
//! | constant product | `amm`    | y/x                   | arbitrage closes ρ of the gap    |
//! | order book       | `book`   | mid of the marginal bid and ask | each level regains ρ of its gap |
//!
//! Impact smaller than `settle_below` (the asset's dust size) settles at
//! once, so recovery reaches a fixed point in a bounded number of rounds.

mod amm;
mod book;
mod curve;
mod math;

pub use amm::{rebalanced, PoolVenue};
pub use book::{Ladder, Side, Taken, MAX_BOOK_LEVELS};
pub use curve::{Curve, CurveVenue, Slope, MAX_SLOPE_EXPONENT};

use crate::num::{ArithError, ArithResult, Price, Qty, Ratio, Round, Value, RATIO_SCALE};
use crate::pool::Pool;

/// How a venue is configured. Its starting price is the asset's price,
/// whose exponent every price of the venue shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VenueConfig {
    /// The quote asset itself: price exactly 1, trades are transfers.
    Quote,
    /// Kyle's linear impact.
    Linear {
        /// Price mantissa units lost per base unit sold.
        slope: Slope,
        /// Fraction of the outstanding impact that decays each round.
        resilience: Ratio,
        /// The price at or below which the market is broken.
        floor: Price,
    },
    /// `p = p0 · e^(−Q/D)`.
    Exponential {
        /// Depth `D`, in base units.
        depth: Qty,
        /// Fraction of the outstanding impact that decays each round.
        resilience: Ratio,
        /// The price at or below which the market is broken.
        floor: Price,
    },
    /// Square-root law `Δp/p = Y·σ·√(Q/V)`.
    SquareRoot {
        /// `Y·σ`: the impact constant times the volatility.
        y_sigma: Ratio,
        /// Daily volume `V`, in base units.
        volume: Qty,
        /// Fraction of the outstanding impact that decays each round.
        resilience: Ratio,
        /// The price at or below which the market is broken.
        floor: Price,
    },
    /// Constant-product pool with a fee; arbitrage pulls it toward the
    /// outside price at `resilience` of the gap per round.
    ConstantProduct {
        /// Base reserve; the quote reserve is `base_reserve × price`,
        /// rounded down.
        base_reserve: Qty,
        /// Fee on the input.
        fee: Ratio,
        /// Fraction of the gap to the outside price closed each round.
        resilience: Ratio,
    },
    /// Order-book ladder with refill.
    OrderBook {
        /// Levels a side, `1..=` the ladder's capacity.
        levels: u8,
        /// Level spacing as a fraction of the reference price.
        tick: Ratio,
        /// Depth of each level, in base units.
        depth: Qty,
        /// Fraction of each level's gap refilled per round.
        resilience: Ratio,
    },
}

/// The parameter a configuration gets wrong (the kernel's `AssetParam`
/// names for venues).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VenueParam {
    /// A quote venue at a price other than one.
    Kind,
    /// A slope, depth, volume, `Y·σ` or reserve that is zero or out of
    /// range (a pool whose quote reserve rounds to nothing).
    Liquidity,
    /// A resilience above one.
    Resilience,
    /// A floor with another exponent than the price's.
    Floor,
    /// A fee of one or more.
    Fee,
    /// No levels, more than the ladder holds, a zero tick, or
    /// `levels·tick >= 1`.
    Levels,
}

/// Why a venue could not do what it was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VenueError {
    /// The venue's liquidity cannot absorb the trade or the move.
    Exhausted,
    /// The arithmetic failed outside a trade, or a parameter was out of its
    /// domain (a negative size, a price with another exponent).
    Arith(ArithError),
    /// The configuration is invalid.
    Invalid(VenueParam),
}

impl From<ArithError> for VenueError {
    fn from(e: ArithError) -> Self {
        VenueError::Arith(e)
    }
}

/// A trade's effect seen from the trader: base given to the venue
/// (negative: taken from it) and quote received from it (negative: paid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fill {
    /// Base the trader gave the venue (negative: took).
    pub base_in: Qty,
    /// Quote the venue paid the trader (negative: received).
    pub quote_out: Value,
}

impl Fill {
    /// `self + other`, checked: running totals.
    fn add(self, other: Fill) -> ArithResult<Fill> {
        Ok(Fill {
            base_in: self.base_in.add(other.base_in)?,
            quote_out: self.quote_out.add(other.quote_out)?,
        })
    }
}

/// The mechanism behind a venue's price, with room for a ladder of `N`
/// levels a side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mechanism<const N: usize> {
    /// The quote asset: price 1, trades are transfers.
    Quote,
    /// An impact curve around a reference price.
    Curve(CurveVenue),
    /// A constant-product pool and its outside price.
    Pool(PoolVenue),
    /// An order-book ladder.
    Book(Ladder<N>),
}

/// A venue's state and its running totals. `N` is the most levels a side
/// its order book can have (unused by the other kinds): a market without
/// deep books uses a small `N` and keeps every venue small, since an enum
/// is as large as its largest variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Venue<const N: usize = MAX_BOOK_LEVELS> {
    /// The price mechanism.
    pub mechanism: Mechanism<N>,
    /// Net base the venue has taken in from everyone (negative: given out).
    pub base_in: Qty,
    /// Net quote the venue has paid out to everyone (negative: taken in).
    pub quote_out: Value,
    /// Impact worth less than this many base units settles at once in
    /// `recover` (the asset's dust size).
    pub settle_below: Qty,
    /// The asset's price exponent.
    exponent: u8,
}

/// What a planned trade will write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Effect {
    Transfer,
    Curve { outstanding: Qty },
    Pool(Pool),
    Book(Option<Taken>),
}

/// A trade planned on a venue and not yet applied: its fill, and the state
/// it leaves. Apply it to the venue that planned it, unchanged since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Trade {
    fill: Fill,
    totals: Fill,
    effect: Effect,
}

impl Trade {
    /// The trader's fill: base given, quote received.
    pub fn fill(&self) -> Fill {
        self.fill
    }
}

impl VenueConfig {
    /// Checks the configuration for a venue starting at `price` with room
    /// for `capacity` book levels a side.
    pub fn validate(&self, price: Price, capacity: usize) -> Result<(), VenueParam> {
        let check = |ok: bool, param| if ok { Ok(()) } else { Err(param) };
        let fraction = |r: Ratio| r.0 <= RATIO_SCALE;
        let floor_ok = |floor: Price| floor.exponent() == price.exponent();
        match *self {
            VenueConfig::Quote => check(price == Price::ONE, VenueParam::Kind),
            VenueConfig::Linear {
                slope,
                resilience,
                floor,
            } => {
                check(
                    slope.mantissa > 0 && slope.exponent <= MAX_SLOPE_EXPONENT,
                    VenueParam::Liquidity,
                )?;
                check(fraction(resilience), VenueParam::Resilience)?;
                check(floor_ok(floor), VenueParam::Floor)
            }
            VenueConfig::Exponential {
                depth,
                resilience,
                floor,
            } => {
                check(depth.is_positive(), VenueParam::Liquidity)?;
                check(fraction(resilience), VenueParam::Resilience)?;
                check(floor_ok(floor), VenueParam::Floor)
            }
            VenueConfig::SquareRoot {
                y_sigma,
                volume,
                resilience,
                floor,
            } => {
                check(y_sigma.0 > 0 && volume.is_positive(), VenueParam::Liquidity)?;
                check(fraction(resilience), VenueParam::Resilience)?;
                check(floor_ok(floor), VenueParam::Floor)
            }
            VenueConfig::ConstantProduct {
                base_reserve,
                fee,
                resilience,
            } => {
                let quote = base_reserve.value(price, Round::Down);
                check(
                    base_reserve.is_positive() && quote.is_ok_and(Value::is_positive),
                    VenueParam::Liquidity,
                )?;
                check(fee.0 < RATIO_SCALE, VenueParam::Fee)?;
                check(fraction(resilience), VenueParam::Resilience)
            }
            VenueConfig::OrderBook {
                levels,
                tick,
                depth,
                resilience,
            } => {
                check(depth.is_positive(), VenueParam::Liquidity)?;
                check(fraction(resilience), VenueParam::Resilience)?;
                let span = u64::from(levels).checked_mul(tick.0);
                check(
                    levels >= 1
                        && usize::from(levels) <= capacity
                        && tick.0 > 0
                        && span.is_some_and(|s| s < RATIO_SCALE),
                    VenueParam::Levels,
                )
            }
        }
    }
}

impl<const N: usize> Venue<N> {
    /// Builds a venue at `price` (its exponent is the venue's from now on);
    /// impact smaller than `settle_below` base units settles at once.
    pub fn new(config: &VenueConfig, price: Price, settle_below: Qty) -> Result<Self, VenueError> {
        config.validate(price, N).map_err(VenueError::Invalid)?;
        let reference = price.mantissa();
        let curve = |curve, resilience, floor: Price| {
            Mechanism::Curve(CurveVenue {
                curve,
                reference_mantissa: reference,
                outstanding: Qty::ZERO,
                resilience,
                floor_mantissa: floor.mantissa(),
            })
        };
        let mechanism = match *config {
            VenueConfig::Quote => Mechanism::Quote,
            VenueConfig::Linear {
                slope,
                resilience,
                floor,
            } => curve(Curve::Linear { slope }, resilience, floor),
            VenueConfig::Exponential {
                depth,
                resilience,
                floor,
            } => curve(Curve::Exponential { depth }, resilience, floor),
            VenueConfig::SquareRoot {
                y_sigma,
                volume,
                resilience,
                floor,
            } => curve(Curve::SquareRoot { y_sigma, volume }, resilience, floor),
            VenueConfig::ConstantProduct {
                base_reserve,
                fee,
                resilience,
            } => Mechanism::Pool(PoolVenue {
                pool: Pool {
                    base: base_reserve,
                    quote: base_reserve.value(price, Round::Down)?,
                    fee,
                },
                reference_mantissa: reference,
                resilience,
            }),
            VenueConfig::OrderBook {
                levels,
                tick,
                depth,
                resilience,
            } => Mechanism::Book(Ladder::new(reference, tick, depth, levels, resilience)),
        };
        Ok(Self {
            mechanism,
            base_in: Qty::ZERO,
            quote_out: Value::ZERO,
            settle_below,
            exponent: price.exponent(),
        })
    }

    /// The asset's price exponent, which every price of the venue has.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// The venue's current price, rounded down.
    pub fn price(&self) -> ArithResult<Price> {
        let mantissa = match &self.mechanism {
            Mechanism::Quote => return Ok(Price::ONE),
            Mechanism::Curve(c) => c.price(Round::Down)?,
            Mechanism::Pool(p) => return p.pool.price(self.exponent),
            Mechanism::Book(b) => b.price_mantissa()?,
        };
        Price::new(mantissa, self.exponent)
    }

    /// Plans a trade of `base_in` base units into the venue (negative: out
    /// of it), writing nothing: its fill is the quote paid to the trader,
    /// rounded down (a cost, negative, rounded up). `Exhausted` when the
    /// venue cannot fill it, including when a price or amount would
    /// overflow.
    pub fn plan(&self, base_in: Qty) -> Result<Trade, VenueError> {
        self.plan_unchecked(base_in).map_err(|e| match e {
            VenueError::Arith(ArithError::Overflow) => VenueError::Exhausted,
            other => other,
        })
    }

    fn plan_unchecked(&self, q: Qty) -> Result<Trade, VenueError> {
        let e = self.exponent;
        let (paid, effect) = match &self.mechanism {
            Mechanism::Quote => (Value(q.0), Effect::Transfer),
            Mechanism::Curve(c) => {
                let (paid, outstanding) = c.plan(e, q)?;
                (paid, Effect::Curve { outstanding })
            }
            Mechanism::Pool(p) => {
                let (paid, pool) = p.plan(e, q)?;
                (paid, Effect::Pool(pool))
            }
            Mechanism::Book(b) => {
                let (paid, taken) = b.plan(e, q)?;
                (paid, Effect::Book(taken))
            }
        };
        // A buyer's cost is the negated fill: it must negate.
        paid.neg()?;
        let fill = Fill {
            base_in: q,
            quote_out: paid,
        };
        let totals = Fill {
            base_in: self.base_in,
            quote_out: self.quote_out,
        }
        .add(fill)?;
        Ok(Trade {
            fill,
            totals,
            effect,
        })
    }

    /// Applies a trade this venue planned (and that nothing has changed
    /// since): plain assignments, which cannot fail.
    pub fn apply(&mut self, trade: &Trade) {
        self.base_in = trade.totals.base_in;
        self.quote_out = trade.totals.quote_out;
        match (&mut self.mechanism, &trade.effect) {
            (Mechanism::Curve(c), Effect::Curve { outstanding }) => c.outstanding = *outstanding,
            (Mechanism::Pool(p), Effect::Pool(pool)) => p.pool = *pool,
            (Mechanism::Book(b), Effect::Book(Some(taken))) => b.apply(taken),
            _ => {}
        }
    }

    /// Sells `qty >= 0` base into the venue; returns the proceeds, rounded
    /// down. On error the venue is unchanged.
    pub fn sell(&mut self, qty: Qty) -> Result<Value, VenueError> {
        if qty.is_negative() {
            return Err(ArithError::Domain.into());
        }
        let trade = self.plan(qty)?;
        self.apply(&trade);
        Ok(trade.fill.quote_out)
    }

    /// Buys `qty >= 0` base from the venue; returns the cost, rounded up.
    /// On error the venue is unchanged.
    pub fn buy(&mut self, qty: Qty) -> Result<Value, VenueError> {
        if qty.is_negative() {
            return Err(ArithError::Domain.into());
        }
        let trade = self.plan(qty.neg()?)?;
        // `plan` checked that the fill negates.
        let cost = trade.fill.quote_out.neg()?;
        self.apply(&trade);
        Ok(cost)
    }

    /// One round of recovery. Returns the fill of an outside arbitrageur
    /// (pools only; the others' recovery is impact decaying, with no
    /// trade), which the running totals count. On error nothing changes.
    pub fn recover(&mut self) -> Result<Fill, VenueError> {
        self.recover_or_rest().map(|(fill, _)| fill)
    }

    /// [`Venue::recover`], and whether it changed the venue's state (a
    /// venue at rest stays so until something trades in it).
    pub fn recover_or_rest(&mut self) -> Result<(Fill, bool), VenueError> {
        let settle_below = self.settle_below;
        match &mut self.mechanism {
            Mechanism::Quote => Ok((Fill::default(), false)),
            Mechanism::Curve(c) => {
                let next = c.recovered(settle_below)?;
                let moved = next != c.outstanding;
                c.outstanding = next;
                Ok((Fill::default(), moved))
            }
            Mechanism::Pool(p) => {
                let (next, fill) = p.recovered(self.exponent, settle_below)?;
                let totals = Fill {
                    base_in: self.base_in,
                    quote_out: self.quote_out,
                }
                .add(fill)?;
                // Without a trade only the outside price can have moved.
                let moved =
                    fill != Fill::default() || next.reference_mantissa != p.reference_mantissa;
                *p = next;
                self.base_in = totals.base_in;
                self.quote_out = totals.quote_out;
                Ok((fill, moved))
            }
            Mechanism::Book(b) => Ok((Fill::default(), b.recover(settle_below))),
        }
    }

    /// Moves the venue's price to `target` from outside (a shock): a curve
    /// or a book moves its reference (a linear curve shifts it, keeping its
    /// impact; the others scale it), refusing a target or a reference at or
    /// below the floor; a pool is arbitraged to the new price and its
    /// outside price moves by the same ratio. A move to the price the venue
    /// shows changes nothing. Returns the arbitrageur's fill (pools only),
    /// which the running totals count. `target` must have the venue's
    /// exponent. On error nothing changes.
    pub fn move_price(&mut self, target: Price) -> Result<Fill, VenueError> {
        if matches!(self.mechanism, Mechanism::Quote) {
            return Err(VenueError::Exhausted);
        }
        if target.exponent() != self.exponent {
            return Err(ArithError::Domain.into());
        }
        let now = self.price()?.mantissa();
        let target = target.mantissa();
        let totals = Fill {
            base_in: self.base_in,
            quote_out: self.quote_out,
        };
        match &mut self.mechanism {
            Mechanism::Quote => Err(VenueError::Exhausted),
            Mechanism::Curve(c) => {
                c.reference_mantissa = c.moved_reference(now, target)?;
                Ok(Fill::default())
            }
            Mechanism::Pool(p) => {
                let (next, fill) = p.moved(self.exponent, target)?;
                let totals = totals.add(fill)?;
                *p = next;
                self.base_in = totals.base_in;
                self.quote_out = totals.quote_out;
                Ok(fill)
            }
            Mechanism::Book(b) => {
                b.reference_mantissa = b.moved_reference(now, target)?;
                Ok(Fill::default())
            }
        }
    }
}

#[cfg(test)]
mod tests;

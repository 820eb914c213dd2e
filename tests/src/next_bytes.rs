//! Markets for the engine being rebuilt (`firesale-next`) from arbitrary
//! bytes, for the `next_cascade` fuzz target and its corpus replay. Every
//! byte string decodes to some market, most of them valid and most of
//! those liquidating: prices of 1-5,000 dollars an asset (9 decimals
//! against a 6-decimal quote, exponent 12), each of the five venues with
//! parameters in range, accounts whose debts are 30-120% of their
//! collateral's worth, shocks of every kind; a third of them under
//! containment (notional caps, keeper capital, an averaged and guarded
//! oracle, circuit breakers, the backstop vault).

use crate::bytes::Reader;
use firesale_next::engine::{
    AssetConfig, AssetLimits, AuctionCurve, AuctionRule, Backstop, Breaker, Containment,
    Deleveraging, KeeperCapital, OracleRule, Settlement, Shock, ShockKind, Weights,
};
use firesale_next::num::{Price, Qty, Ratio, Value};
use firesale_next::policy::Policy;
use firesale_next::venue::{Slope, VenueConfig};

/// Book levels a side the decoded markets may use.
pub const LEVELS: usize = 8;
/// Most assets.
pub const ASSETS: usize = 4;

/// A decoded market.
#[derive(Clone, Debug)]
pub struct Market {
    /// Assets, the quote first.
    pub assets: Vec<AssetConfig>,
    /// The policy.
    pub policy: Policy,
    /// Shocks, in round order.
    pub shocks: Vec<Shock>,
    /// Stored balances, `assets.len()` an account.
    pub balances: Vec<Qty>,
    /// The round cap.
    pub max_rounds: u32,
    /// The oracle lag.
    pub lag: u8,
    /// The insurance fund.
    pub insurance: Value,
    /// Accounts liquidated a round at most (0: no cap).
    pub max_accounts_per_round: u32,
    /// Auto-deleveraging.
    pub deleveraging: Option<Deleveraging>,
    /// Budgets to step the engine by.
    pub budgets: Vec<u32>,
    /// Containment, its per-asset limits apart.
    pub containment: Containment<'static>,
    /// Containment's limits per asset.
    pub per_asset: Vec<AssetLimits>,
}

/// Containment for `n` assets under an oracle lag of `lag`: a notional cap,
/// keepers, an oracle rule, and per asset a breaker and a cap, each drawn
/// or not.
fn containment(r: &mut Reader<'_>, n: usize, lag: u8) -> (Containment<'static>, Vec<AssetLimits>) {
    let maybe = |r: &mut Reader<'_>| r.u8() % 2 == 1;
    let value = |r: &mut Reader<'_>| Value(amount(r, 1_000_000, 100_000_000_000));
    let max_notional_per_round = maybe(r).then(|| value(r));
    let keepers = maybe(r).then(|| {
        let initial = value(r);
        KeeperCapital {
            initial,
            replenish_per_round: Value(initial.0 / 4),
            max: Value(initial.0.saturating_mul(2)),
        }
    });
    let history = 16 - lag;
    let oracle = OracleRule {
        twap_rounds: 1 + r.u8() % history.min(4),
        heartbeat_rounds: 1 + r.u8() % 6,
        deviation: ratio_bps(r, 0, 1_000),
        max_age_rounds: r.u8() % 4,
    };
    let per_asset = (0..n)
        .map(|asset| AssetLimits {
            breaker: maybe(r).then(|| Breaker {
                max_move: ratio_bps(r, 100, 3_000),
                window_rounds: 1 + r.u8() % 5,
                pause_rounds: 1 + r.u8() % 4,
            }),
            max_notional_per_round: maybe(r).then(|| value(r)),
            // Dutch auctions of a risky asset (they act under absorb).
            auction: (asset > 0 && maybe(r)).then(|| auction_rule(r)),
        })
        .collect();
    let backstop = maybe(r).then(|| Backstop {
        below: ratio_bps(r, 1_000, 10_000),
    });
    let c = Containment {
        max_notional_per_round,
        keepers,
        oracle,
        per_asset: &[],
        backstop,
        settlement: Settlement::Sequential,
    };
    (c, per_asset)
}

/// A Dutch-auction rule: a linear or stairstep curve, a tail, a cusp, a
/// penalty and incentives.
fn auction_rule(r: &mut Reader<'_>) -> AuctionRule {
    let curve = match r.u8() % 2 {
        0 => AuctionCurve::Linear {
            rounds: 1 + u32::from(r.u8() % 12),
        },
        _ => AuctionCurve::Stairstep {
            cut: ratio_bps(r, 5_000, 9_990),
            step_rounds: 1 + u32::from(r.u8() % 3),
        },
    };
    AuctionRule {
        buf: ratio_bps(r, 10_000, 13_000),
        curve,
        tail_rounds: 1 + u32::from(r.u8() % 20),
        cusp: ratio_bps(r, 0, 8_000),
        penalty: ratio_bps(r, 0, 2_000),
        tip: Value(i64::from(r.u16())),
        chip: ratio_bps(r, 0, 100),
    }
}

fn ratio_bps(r: &mut Reader<'_>, low: u32, high: u32) -> Ratio {
    Ratio::from_bps(low + u32::from(r.u16()) % (high - low + 1))
}

fn amount(r: &mut Reader<'_>, low: i64, high: i64) -> i64 {
    let span = (high - low) as f64;
    low + (span * f64::from(r.u16()) / f64::from(u16::MAX)) as i64
}

fn venue(r: &mut Reader<'_>, mantissa: u64) -> VenueConfig {
    let resilience = ratio_bps(r, 0, 10_000);
    let floor_mantissa = (mantissa / 100)
        .saturating_mul(1 + u64::from(r.u8() % 50))
        .max(1);
    let floor = Price::new(floor_mantissa, 12).unwrap_or(Price::ONE);
    match r.u8() % 5 {
        0 => VenueConfig::Linear {
            slope: Slope {
                mantissa: 1 + u64::from(r.u16()) % 1_000,
                exponent: r.u8() % 7,
            },
            resilience,
            floor,
        },
        1 => VenueConfig::Exponential {
            depth: Qty(amount(r, 1_000_000_000, 100_000_000_000_000)),
            resilience,
            floor,
        },
        2 => VenueConfig::SquareRoot {
            y_sigma: ratio_bps(r, 100, 20_000),
            volume: Qty(amount(r, 1_000_000_000, 100_000_000_000_000)),
            resilience,
            floor,
        },
        3 => VenueConfig::ConstantProduct {
            base_reserve: Qty(amount(r, 1_000_000_000, 1_000_000_000_000_000)),
            fee: ratio_bps(r, 0, 100),
            resilience,
        },
        _ => {
            let levels = 1 + r.u8() % LEVELS as u8;
            VenueConfig::OrderBook {
                levels,
                tick: ratio_bps(r, 10, 9_000 / u32::from(levels)),
                depth: Qty(amount(r, 100_000_000, 1_000_000_000_000)),
                resilience,
            }
        }
    }
}

fn risky(r: &mut Reader<'_>) -> AssetConfig {
    // 1-5,000 dollars: 10^9 mantissa units a dollar.
    let mantissa = 1_000_000_000 * (1 + u64::from(r.u16()) % 5_000);
    let maint = 5_000 + u32::from(r.u16()) % 4_600;
    let liq_end = maint - u32::from(r.u8()) % 500;
    let debt_maint = 10_000 + u32::from(r.u16()) % 5_000;
    // A bonus that keeps asset weight × (1 + bonus) at most one.
    let most_bonus = 10_000 * 10_000 / maint - 10_000;
    AssetConfig {
        price: Price::new(mantissa, 12).unwrap_or(Price::ONE),
        asset_weights: Weights {
            maint: Ratio::from_bps(maint),
            liq_end: Ratio::from_bps(liq_end),
        },
        liability_weights: Weights {
            maint: Ratio::from_bps(debt_maint),
            liq_end: Ratio::from_bps(debt_maint + u32::from(r.u8()) % 500),
        },
        liquidation_bonus: Ratio::from_bps(u32::from(r.u16()) % most_bonus.clamp(1, 2_000)),
        protocol_fee: ratio_bps(r, 0, 10_000),
        dust: Qty(amount(r, 0, 1_000_000)),
        venue: venue(r, mantissa),
    }
}

/// Decodes a market from `data`.
pub fn market(data: &[u8]) -> Market {
    let mut r = Reader::new(data);
    let n = 2 + usize::from(r.u8() % (ASSETS as u8 - 1));
    let mut assets = vec![AssetConfig {
        dust: Qty(1_000),
        ..AssetConfig::quote()
    }];
    assets.extend((1..n).map(|_| risky(&mut r)));
    let policy = match r.u8() % 3 {
        0 => Policy::Absorb,
        1 => Policy::ToTarget,
        _ => Policy::CloseFactor {
            close_factor: ratio_bps(&mut r, 1_000, 10_000),
            full_close_health_factor: ratio_bps(&mut r, 5_000, 10_000),
            full_close_debt_value: Value(amount(&mut r, 0, 10_000_000_000)),
        },
    };
    let mut round = 1;
    let shocks = (0..r.u8() % 7)
        .map(|_| {
            round += u32::from(r.u8() % 4);
            let asset = 1 + r.u8() % (n as u8 - 1);
            let kind = match r.u8() % 4 {
                0 => ShockKind::MovePrice(ratio_bps(&mut r, 5_000, 15_000)),
                1 => {
                    let m = 1_000_000_000 * (1 + u64::from(r.u16()) % 5_000);
                    ShockKind::SetPrice(Price::new(m, 12).unwrap_or(Price::ONE))
                }
                2 => ShockKind::Sell(Qty(amount(&mut r, 100_000_000, 1_000_000_000_000))),
                _ => ShockKind::Buy(Qty(amount(&mut r, 100_000_000, 1_000_000_000_000))),
            };
            Shock { round, asset, kind }
        })
        .collect();
    let accounts = 1 + usize::from(r.u8() % 40);
    let mut balances = vec![Qty::ZERO; accounts * n];
    for row in balances.chunks_exact_mut(n) {
        // A deposit in one asset, a debt in another, worth 30-120% of it.
        let (held, owed) = (usize::from(r.u8()) % n, usize::from(r.u8()) % n);
        let owed = if owed == held { (owed + 1) % n } else { owed };
        let worth = amount(&mut r, 1_000_000, 10_000_000_000_000);
        let debt = worth / 100 * (30 + i64::from(r.u8() % 91));
        let units = |asset: usize, value: i64| {
            let mantissa = assets[asset].price.mantissa().max(1);
            match asset {
                0 => value,
                _ => (i128::from(value) * 1_000_000_000_000 / i128::from(mantissa)) as i64,
            }
        };
        row[held] = Qty(units(held, worth));
        row[owed] = Qty(-units(owed, debt).max(1));
    }
    let budgets = (0..8).map(|_| 1 + u32::from(r.u8() % 16)).collect();
    Market {
        assets,
        policy,
        shocks,
        balances,
        max_rounds: 1 + u32::from(r.u8()),
        lag: r.u8() % 3,
        insurance: Value(amount(&mut r, 0, 1_000_000_000_000)),
        // A third of the markets capped at 1-8 accounts a round.
        max_accounts_per_round: match r.u8() % 3 {
            1 => 1 + u32::from(r.u8() % 8),
            _ => 0,
        },
        // A third of them deleveraging, pro rata or ranked (an input that
        // ends before this byte decodes to none, as before the draw was
        // added).
        deleveraging: match r.u8() % 6 {
            2 => Some(Deleveraging::ProRata),
            5 => Some(Deleveraging::Ranked),
            _ => None,
        },
        budgets,
        // A third of them under containment (an input that ends before
        // this byte decodes to none).
        containment: Containment::OFF,
        per_asset: Vec::new(),
    }
    .contained(&mut r)
}

impl Market {
    /// The market under containment drawn from `r`, a third of the time;
    /// else, a fifth of the time, under equilibrium settlement (plain: no
    /// lag, cap or deleveraging, and no account short a risky asset).
    fn contained(mut self, r: &mut Reader<'_>) -> Self {
        if r.u8() % 3 == 2 {
            (self.containment, self.per_asset) = containment(r, self.assets.len(), self.lag);
        } else if r.u8() % 5 == 4 {
            self.containment.settlement = Settlement::Equilibrium;
            (self.lag, self.max_accounts_per_round, self.deleveraging) = (0, 0, None);
            let n = self.assets.len();
            for row in self.balances.chunks_exact_mut(n) {
                row.iter_mut().skip(1).for_each(|b| b.0 = b.0.max(0));
            }
        }
        self
    }

    /// Builds the next engine over a copy of the market's balances and
    /// hands it to `f`; `None` if the engine refuses the configuration.
    pub fn with_engine<R>(
        &self,
        f: impl FnOnce(&mut firesale_next::engine::Engine<'_, ASSETS, LEVELS>) -> R,
    ) -> Option<R> {
        use firesale_next::engine::{Candidate, Engine, EngineConfig, RankNode, Snap, Storage};
        let n = self.assets.len();
        let accounts = self.balances.len() / n;
        let mut balances = self.balances.clone();
        let mut links = vec![0; Storage::link_words(accounts)];
        let mut queue = vec![Candidate::default(); Storage::queue_slots(accounts)];
        let mut snaps = vec![Snap::default(); Storage::snap_slots(accounts, n)];
        let mut ranks = vec![RankNode::default(); Storage::rank_slots(accounts)];
        let config = EngineConfig {
            assets: &self.assets,
            policy: self.policy,
            max_rounds: self.max_rounds,
            oracle_lag_rounds: self.lag,
            insurance_fund: self.insurance,
            shocks: &self.shocks,
            max_accounts_per_round: self.max_accounts_per_round,
            deleveraging: self.deleveraging,
            containment: Containment {
                per_asset: &self.per_asset,
                ..self.containment
            },
        };
        let storage = Storage {
            balances: &mut balances,
            links: &mut links,
            queue: &mut queue,
            snaps: &mut snaps,
            ranks: &mut ranks,
        };
        Engine::with(&config, storage, f).ok()
    }
}

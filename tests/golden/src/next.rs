//! The golden scenarios in the engine being rebuilt (`firesale-next`,
//! issue 21): the same markets, accounts and shocks as the kernel's, in
//! integers of base units (the quote in 6 decimals, risky assets in 9,
//! prices over exponent 12, so a dollar is `10^9` mantissa units). Their
//! digests differ from the kernel's (another representation); they must be
//! the same on every target (`tests/targets.sh`, `tests/miri.sh`) and equal
//! the committed `next-digests.txt`.

use firesale_next::engine::{
    AssetConfig, Candidate, ConfigError, Containment, Engine, EngineConfig, EventSink, Report,
    Shock, ShockKind, Storage, Termination, Weights,
};
use firesale_next::num::{Price, Qty, Ratio, Value};
use firesale_next::policy::Policy;
use firesale_next::venue::{Slope, VenueConfig};

use crate::{ACCOUNTS, COUNT, MAX_ASSETS, NAMES};

/// Book levels a side the scenarios' order books need.
pub const LEVELS: usize = 12;
/// Words of the watch's lists for [`ACCOUNTS`].
pub const LINK_WORDS: usize = Storage::link_words(ACCOUNTS);
/// Slots of the queue for [`ACCOUNTS`].
pub const QUEUE_SLOTS: usize = Storage::queue_slots(ACCOUNTS);

/// A whole unit of a risky asset (9 decimals).
const UNIT: i64 = 1_000_000_000;
/// A dollar of quote (6 decimals).
const DOLLAR: i64 = 1_000_000;
/// A dollar as a price mantissa over exponent 12 for a 9-decimal asset.
const DOLLAR_MANTISSA: u64 = 1_000_000_000;

/// Storage for one run, sized for any of them.
pub struct Buffers {
    /// Balances.
    pub balances: [Qty; ACCOUNTS * MAX_ASSETS],
    /// The watch's lists.
    pub links: [u32; LINK_WORDS],
    /// The round's candidates and the sort's spare.
    pub queue: [Candidate; QUEUE_SLOTS],
}

impl Default for Buffers {
    fn default() -> Self {
        Self {
            balances: [Qty::ZERO; ACCOUNTS * MAX_ASSETS],
            links: [0; LINK_WORDS],
            queue: [Candidate::default(); QUEUE_SLOTS],
        }
    }
}

/// What a run produced.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// The final digest.
    pub digest: u64,
    /// Why the run ended.
    pub termination: Termination,
    /// The report.
    pub report: Report,
}

fn pct(n: u32) -> Ratio {
    Ratio::from_bps(n * 100)
}

fn per_mille(n: u32) -> Ratio {
    Ratio::from_bps(n * 10)
}

fn dollars(p: u64) -> Price {
    // Every golden price is at least a dollar: the mantissa is positive.
    Price::new(p.saturating_mul(DOLLAR_MANTISSA), 12).unwrap_or(Price::ONE)
}

/// A risky asset, as the kernel's golden `risky`: asset weights
/// `[liq_end, maint]` in percent, liability weights mirrored around 1,
/// bonus in per mille, a 10% fee, dust of 4 base units (the kernel's
/// 2^-28 units).
fn risky(price: u64, [liq_end, maint]: [u32; 2], bonus: u32, venue: VenueConfig) -> AssetConfig {
    AssetConfig {
        price: dollars(price),
        asset_weights: Weights {
            maint: pct(maint),
            liq_end: pct(liq_end),
        },
        liability_weights: Weights {
            maint: pct(200 - maint),
            liq_end: pct(200 - liq_end),
        },
        liquidation_bonus: per_mille(bonus),
        protocol_fee: pct(10),
        dust: Qty(4),
        venue,
    }
}

struct Spec {
    assets: heapless::Vec<AssetConfig, MAX_ASSETS>,
    policy: Policy,
    lag: u8,
    shocks: heapless::Vec<Shock, 4>,
}

fn shock(round: u32, asset: u8, kind: ShockKind) -> Shock {
    Shock { round, asset, kind }
}

fn spec(index: usize) -> Option<Spec> {
    let mut assets = heapless::Vec::new();
    let mut shocks = heapless::Vec::new();
    assets.push(AssetConfig::quote()).ok()?;
    let (policy, lag) = match index {
        0 => {
            let pool = VenueConfig::ConstantProduct {
                base_reserve: Qty(400 * UNIT),
                fee: per_mille(3),
                resilience: pct(20),
            };
            assets.push(risky(2_000, [82, 85], 50, pool)).ok()?;
            shocks
                .push(shock(1, 1, ShockKind::MovePrice(pct(75))))
                .ok()?;
            let aave = Policy::CloseFactor {
                close_factor: pct(50),
                full_close_health_factor: pct(95),
                full_close_debt_value: Value(2_000 * DOLLAR),
            };
            (aave, 0)
        }
        1 => {
            let book = VenueConfig::OrderBook {
                levels: LEVELS as u8,
                tick: per_mille(5),
                depth: Qty(6 * UNIT),
                resilience: pct(30),
            };
            assets.push(risky(30_000, [85, 90], 40, book)).ok()?;
            shocks
                .push(shock(1, 1, ShockKind::MovePrice(pct(112))))
                .ok()?;
            (Policy::ToTarget, 0)
        }
        2 => {
            let exp = VenueConfig::Exponential {
                depth: Qty(3_000 * UNIT),
                resilience: pct(25),
                floor: dollars(1),
            };
            let sqrt = VenueConfig::SquareRoot {
                y_sigma: pct(80),
                volume: Qty(2_000 * UNIT),
                resilience: pct(25),
                floor: dollars(1),
            };
            assets.push(risky(100, [78, 82], 60, exp)).ok()?;
            assets.push(risky(50, [72, 75], 80, sqrt)).ok()?;
            shocks
                .push(shock(1, 1, ShockKind::MovePrice(pct(70))))
                .ok()?;
            shocks
                .push(shock(3, 2, ShockKind::SetPrice(dollars(40))))
                .ok()?;
            (Policy::Absorb, 0)
        }
        3 => {
            // λ = 0.05 dollars a unit per unit: 0.05 mantissa units a base
            // unit.
            let line = VenueConfig::Linear {
                slope: Slope {
                    mantissa: 5,
                    exponent: 2,
                },
                resilience: pct(40),
                floor: dollars(1),
            };
            assets.push(risky(150, [75, 80], 50, line)).ok()?;
            shocks
                .push(shock(1, 1, ShockKind::Sell(Qty(150 * UNIT))))
                .ok()?;
            shocks
                .push(shock(4, 1, ShockKind::Buy(Qty(400 * UNIT))))
                .ok()?;
            (Policy::ToTarget, 2)
        }
        _ => return None,
    };
    Some(Spec {
        assets,
        policy,
        lag,
        shocks,
    })
}

/// Each scenario's risky assets: price in dollars and maintenance asset
/// weight in percent (the quote's row unused).
fn risky_terms(index: usize) -> [(i64, i64); MAX_ASSETS] {
    match index {
        0 => [(1, 100), (2_000, 85), (0, 0)],
        1 => [(1, 100), (30_000, 90), (0, 0)],
        2 => [(1, 100), (100, 82), (50, 75)],
        _ => [(1, 100), (150, 80), (0, 0)],
    }
}

/// The kernel's golden accounts in base units: lenders first, then
/// borrowers whose leverage steps up 1% an account; in odd scenarios every
/// third borrower is short, in scenario 1 all of them; cross-margin
/// scenarios hold both risky assets. In `i64`: the largest product, a
/// short's debt, is under 10^14.
fn fill(index: usize, n: usize, balances: &mut [Qty]) {
    let terms = risky_terms(index);
    let term = |a: usize| terms.get(a).copied().unwrap_or((1, 0));
    for (id, row) in balances.chunks_exact_mut(n).enumerate() {
        row.iter_mut().for_each(|b| *b = Qty::ZERO);
        let id = id as i64;
        let size = 1 + (id * 7) % 5;
        // What `size` units of asset `a` are worth, in quote base units.
        let worth = |a: usize| size * term(a).0 * DOLLAR;
        if id < 4 {
            // Lenders of the quote and of every risky asset.
            for (a, b) in row.iter_mut().enumerate() {
                *b = Qty(match a {
                    0 => 200_000 * DOLLAR,
                    _ => 1_000_000 * UNIT / term(a).0.max(1),
                });
            }
            continue;
        }
        let short = index % 2 == 1 && id % 3 == 0 || index == 1;
        if let [quote, first, rest @ ..] = row {
            if short {
                // Short `size` of asset 1 against quote: health about 0.25
                // less the step, the debt weighted at 200% less the asset
                // weight.
                let owed = worth(1) * (200 - term(1).1) / 100;
                *quote = Qty(owed * (125 - id) / 100);
                *first = Qty(-size * UNIT);
            } else {
                // Debt just under the maintenance limit, closer each account.
                *first = Qty(size * UNIT);
                let mut weighted = worth(1) * term(1).1 / 100;
                for (k, b) in rest.iter_mut().enumerate() {
                    *b = Qty(size * UNIT);
                    weighted += worth(k + 2) * term(k + 2).1 / 100;
                }
                *quote = Qty(-(weighted * (384 - id) / 400));
            }
        }
    }
}

/// Runs next golden scenario `index` over `buffers`.
pub fn run(
    index: usize,
    buffers: &mut Buffers,
    sink: &mut impl EventSink,
) -> Result<Outcome, ConfigError> {
    let spec = spec(index).ok_or(ConfigError::Assets)?;
    let n = spec.assets.len();
    let balances = buffers
        .balances
        .get_mut(..ACCOUNTS * n)
        .ok_or(ConfigError::Storage)?;
    fill(index, n, balances);
    let config = EngineConfig {
        assets: &spec.assets,
        policy: spec.policy,
        max_rounds: 400,
        oracle_lag_rounds: spec.lag,
        insurance_fund: Value(20_000 * DOLLAR),
        shocks: &spec.shocks,
        max_accounts_per_round: 0,
        deleveraging: None,
        containment: Containment::OFF,
    };
    let storage = Storage {
        balances,
        links: &mut buffers.links,
        queue: &mut buffers.queue,
        snaps: &mut [],
        ranks: &mut [],
    };
    Engine::<'_, MAX_ASSETS, LEVELS>::with(&config, storage, |engine| {
        let termination = engine.run(sink);
        Outcome {
            digest: engine.digest(),
            termination,
            report: *engine.report(),
        }
    })
}

/// One line per scenario, the same on every target:
/// `next golden <index> <name> digest=<16 hex> rounds=<n> liquidations=<n> end=<reason>`.
pub fn line(index: usize, outcome: &Outcome, out: &mut impl core::fmt::Write) -> core::fmt::Result {
    let end = match outcome.termination {
        Termination::FixedPoint => "fixed-point",
        Termination::RoundCap => "round-cap",
        Termination::MarketBroken { .. } => "market-broken",
        Termination::Fault(_) => "failed",
    };
    write!(
        out,
        "next golden {index} {} digest={:016x} rounds={} liquidations={} end={end}",
        NAMES.get(index).copied().unwrap_or("?"),
        outcome.digest,
        outcome.report.rounds,
        outcome.report.liquidations,
    )
}

/// Runs every scenario and writes its line, one a line.
pub fn lines(buffers: &mut Buffers, out: &mut impl core::fmt::Write) -> core::fmt::Result {
    for index in 0..COUNT {
        let outcome = run(index, buffers, &mut ()).map_err(|_| core::fmt::Error)?;
        line(index, &outcome, out)?;
        out.write_char('\n')?;
    }
    Ok(())
}

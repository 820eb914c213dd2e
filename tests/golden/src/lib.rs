//! Golden scenarios: one source for every target.
//!
//! The host tests, the Cortex-M firmware (QEMU) and the wasm build (Node) all
//! run these and print their digests; CI fails if any differs from the host.
//! Built from integers only (no floats, no allocator), so the starting state
//! is bit-identical everywhere before the kernel even runs. Together they
//! cover every venue kind, every policy, long and short positions, cross
//! margin, oracle lag, and every shock kind.
#![no_std]

pub mod next;

use firesale_core::engine::{flag_words, Candidate, Checkpoint};
use firesale_core::num::Fx;
use firesale_core::{
    AssetConfig, Engine, EngineConfig, Error, EventSink, Policy, Price, Qty, Ratio, Report, Shock,
    ShockKind, Termination, Value, VenueConfig, Weights,
};

/// Number of golden scenarios.
pub const COUNT: usize = 4;
/// Accounts in each scenario.
pub const ACCOUNTS: usize = 24;
/// Most assets in a scenario (the quote included).
pub const MAX_ASSETS: usize = 3;
/// Words of liquidation flags for [`ACCOUNTS`].
pub const FLAG_WORDS: usize = flag_words(ACCOUNTS);

/// Names, in order.
pub const NAMES: [&str; COUNT] = [
    "lending-pool",
    "short-squeeze-book",
    "cross-margin-curves",
    "linear-lagged",
];

/// Storage for one golden run, sized for any of them.
pub struct Buffers {
    /// Balances.
    pub balances: [Qty; ACCOUNTS * MAX_ASSETS],
    /// Heap scratch.
    pub scratch: [Candidate; ACCOUNTS],
    /// Liquidation and queue flags.
    pub flags: [u32; FLAG_WORDS],
    /// Where each unit saves the engine's state.
    pub checkpoint: Checkpoint<MAX_ASSETS>,
}

impl Default for Buffers {
    fn default() -> Self {
        Self {
            balances: [Qty::ZERO; ACCOUNTS * MAX_ASSETS],
            scratch: [Candidate::default(); ACCOUNTS],
            flags: [0; FLAG_WORDS],
            checkpoint: Checkpoint::new(),
        }
    }
}

/// What a golden run produced.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// The final digest.
    pub digest: u64,
    /// Why the run ended.
    pub termination: Termination,
    /// The report.
    pub report: Report<MAX_ASSETS>,
}

fn pct(n: i32) -> Ratio {
    Ratio(Fx::from_num(n) / 100)
}

fn per_mille(n: i32) -> Ratio {
    Ratio(Fx::from_num(n) / 1000)
}

/// A risky asset: asset weights `[init, liq_end, maint]` in percent,
/// liability weights mirrored around 1, bonus in per mille.
fn risky(price: i32, weights: [i32; 3], bonus: i32, venue: VenueConfig) -> AssetConfig {
    let [init, liq_end, maint] = weights;
    AssetConfig {
        price: Price::from_int(price.into()),
        asset_weights: Weights {
            init: pct(init),
            liq_end: pct(liq_end),
            maint: pct(maint),
        },
        liability_weights: Weights {
            init: pct(200 - init),
            liq_end: pct(200 - liq_end),
            maint: pct(200 - maint),
        },
        liquidation_bonus: per_mille(bonus),
        protocol_fee: pct(10),
        dust: Qty(Fx::from_bits(1 << 20)),
        venue,
    }
}

struct Spec {
    assets: heapless::Vec<AssetConfig, MAX_ASSETS>,
    policy: Policy,
    lag: u8,
    shocks: heapless::Vec<Shock, 4>,
}

fn spec(index: usize) -> Option<Spec> {
    let mut assets = heapless::Vec::new();
    let mut shocks = heapless::Vec::new();
    assets.push(AssetConfig::quote()).ok()?;
    let (policy, lag) = match index {
        0 => {
            let pool = VenueConfig::ConstantProduct {
                base_reserve: Qty::from_int(400),
                fee: per_mille(3),
                resilience: pct(20),
            };
            assets.push(risky(2_000, [80, 82, 85], 50, pool)).ok()?;
            shocks
                .push(Shock {
                    round: 1,
                    asset: 1,
                    kind: ShockKind::MovePrice(pct(75)),
                })
                .ok()?;
            (Policy::aave_like(), 0)
        }
        1 => {
            let book = VenueConfig::OrderBook {
                levels: 12,
                tick: per_mille(5),
                depth: Qty::from_int(6),
                resilience: pct(30),
            };
            assets.push(risky(30_000, [80, 85, 90], 40, book)).ok()?;
            shocks
                .push(Shock {
                    round: 1,
                    asset: 1,
                    kind: ShockKind::MovePrice(pct(112)),
                })
                .ok()?;
            (Policy::ToTarget, 0)
        }
        2 => {
            let exp = VenueConfig::Exponential {
                depth: Qty::from_int(3_000),
                resilience: pct(25),
                floor: Price::from_int(1),
            };
            let sqrt = VenueConfig::SquareRoot {
                y_sigma: pct(80),
                volume: Qty::from_int(2_000),
                resilience: pct(25),
                floor: Price::from_int(1),
            };
            assets.push(risky(100, [75, 78, 82], 60, exp)).ok()?;
            assets.push(risky(50, [70, 72, 75], 80, sqrt)).ok()?;
            shocks
                .push(Shock {
                    round: 1,
                    asset: 1,
                    kind: ShockKind::MovePrice(pct(70)),
                })
                .ok()?;
            shocks
                .push(Shock {
                    round: 3,
                    asset: 2,
                    kind: ShockKind::SetPrice(Price::from_int(40)),
                })
                .ok()?;
            (Policy::Absorb, 0)
        }
        3 => {
            let line = VenueConfig::Linear {
                lambda: Fx::from_num(1) / 20,
                resilience: pct(40),
                floor: Price::from_int(1),
            };
            assets.push(risky(150, [70, 75, 80], 50, line)).ok()?;
            shocks
                .push(Shock {
                    round: 1,
                    asset: 1,
                    kind: ShockKind::Sell(Qty::from_int(150)),
                })
                .ok()?;
            shocks
                .push(Shock {
                    round: 4,
                    asset: 1,
                    kind: ShockKind::Buy(Qty::from_int(400)),
                })
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

/// Fills `balances` for scenario `index`: lenders first, then borrowers
/// whose leverage steps up account by account; in odd scenarios every third
/// borrower is short instead of long, and cross-margin scenarios hold both
/// risky assets.
fn fill(index: usize, assets: &[AssetConfig], balances: &mut [Qty]) {
    let n = assets.len();
    for (id, row) in balances.chunks_exact_mut(n).enumerate() {
        row.iter_mut().for_each(|b| *b = Qty::ZERO);
        let step = Fx::from_num(id) / 100; // leverage rises 1% per account
        let size = Fx::from_num(1 + (id * 7) % 5);
        let value_of = |asset: usize, units: Fx| units * assets[asset].price.0;
        if id < 4 {
            // Lenders of quote and of every risky asset.
            row[0] = Qty(Fx::from_num(200_000));
            for (asset, b) in row.iter_mut().enumerate().skip(1) {
                *b = Qty(Fx::from_num(1_000_000) / assets[asset].price.0);
            }
            continue;
        }
        let short = index % 2 == 1 && id % 3 == 0 || index == 1;
        if short {
            // Short `size` of asset 1 against quote: health ≈ 0.25 − step.
            let owed = value_of(1, size) * assets[1].liability_weights.maint.0;
            row[0] = Qty(owed * (Fx::from_num(125) / 100 - step));
            row[1] = Qty(-size);
        } else {
            let mut weighted = Fx::ZERO;
            for asset in 1..n {
                row[asset] = Qty(size);
                weighted += value_of(asset, size) * assets[asset].asset_weights.maint.0;
            }
            // Debt just under the maintenance limit, closer each account.
            row[0] = Qty(-(weighted * (Fx::from_num(96) / 100 - step / 4)));
        }
    }
}

/// Runs golden scenario `index` over `buffers`, sending events to `sink`.
pub fn run(
    index: usize,
    buffers: &mut Buffers,
    sink: &mut dyn EventSink,
) -> Result<Outcome, Error> {
    let spec = spec(index).ok_or(Error::Config(
        firesale_core::ConfigError::CapacityExceeded {
            what: firesale_core::error::Capacity::Assets,
            limit: COUNT,
            got: index,
        },
    ))?;
    let n = spec.assets.len();
    let balances = &mut buffers.balances[..ACCOUNTS * n];
    fill(index, &spec.assets, balances);
    let config = EngineConfig {
        assets: &spec.assets,
        policy: spec.policy,
        max_rounds: 400,
        oracle_lag_rounds: spec.lag,
        insurance_fund: Value::from_int(20_000),
        shocks: &spec.shocks,
        containment: firesale_core::Containment::OFF,
    };
    let storage = firesale_core::Storage {
        balances,
        scratch: &mut buffers.scratch,
        flags: &mut buffers.flags,
        checkpoint: &mut buffers.checkpoint,
    };
    let mut engine: Engine<'_, MAX_ASSETS> = Engine::new(&config, storage)?;
    let termination = engine.run(sink);
    Ok(Outcome {
        digest: engine.digest(),
        termination,
        report: *engine.report(),
    })
}

/// Builds golden scenario `index`'s engine over `buffers`, at its start,
/// and hands it to `f`: for callers that step it themselves (the wasm
/// module's metered workloads step to a scenario's first liquidation).
///
/// The same set-up as [`run`], which does not call it, behind a feature
/// that the firmware does not enable: through the closure, the firmware's
/// flash grew by 68 B, and beside `run` by 240 B (`spec` and `fill` no
/// longer inlined the same way).
#[cfg(feature = "stepping")]
pub fn with_engine<R>(
    index: usize,
    buffers: &mut Buffers,
    f: impl FnOnce(&mut Engine<'_, MAX_ASSETS>) -> R,
) -> Result<R, Error> {
    let spec = spec(index).ok_or(Error::Config(
        firesale_core::ConfigError::CapacityExceeded {
            what: firesale_core::error::Capacity::Assets,
            limit: COUNT,
            got: index,
        },
    ))?;
    let n = spec.assets.len();
    let balances = &mut buffers.balances[..ACCOUNTS * n];
    fill(index, &spec.assets, balances);
    let config = EngineConfig {
        assets: &spec.assets,
        policy: spec.policy,
        max_rounds: 400,
        oracle_lag_rounds: spec.lag,
        insurance_fund: Value::from_int(20_000),
        shocks: &spec.shocks,
        containment: firesale_core::Containment::OFF,
    };
    let storage = firesale_core::Storage {
        balances,
        scratch: &mut buffers.scratch,
        flags: &mut buffers.flags,
        checkpoint: &mut buffers.checkpoint,
    };
    let mut engine: Engine<'_, MAX_ASSETS> = Engine::new(&config, storage)?;
    Ok(f(&mut engine))
}

/// One line per scenario, the same on every target:
/// `golden <index> <name> digest=<16 hex> rounds=<n> liquidations=<n> end=<reason>`.
pub fn line(index: usize, outcome: &Outcome, out: &mut impl core::fmt::Write) -> core::fmt::Result {
    let end = match outcome.termination {
        Termination::FixedPoint => "fixed-point",
        Termination::RoundCap => "round-cap",
        Termination::MarketBroken { .. } => "market-broken",
        Termination::Failed(_) => "failed",
    };
    write!(
        out,
        "golden {index} {} digest={:016x} rounds={} liquidations={} end={end}",
        NAMES.get(index).copied().unwrap_or("?"),
        outcome.digest,
        outcome.report.rounds,
        outcome.report.liquidations,
    )
}

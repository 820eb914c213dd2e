//! What a run will meet, checked before it runs: the kernel's own
//! validation (of the market before any account is generated from it, then
//! of the whole scenario), a trade of one dust in each venue, the shocks
//! alone on the market, and each account's health at the highest prices
//! the shocks reach. A scenario that passes is one whose start and shocks
//! the kernel can compute; `check` and every command that runs go through
//! it, so they agree.

use crate::input::{fail, FileError};
use crate::run::{self, Buffers};
use crate::scenario::Scenario;
use firesale_core::account::{self, WeightedPrice};
use firesale_core::error::{AssetParam, Capacity, ConfigError, EngineParam, Magnitude};
use firesale_core::num::ArithError;
use firesale_core::venue::{Venue, VenueError};
use firesale_core::{Error, HealthTier, Price, Ratio, Termination};

/// Where a run of accounts came from in the file, to name one in an error.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// `[[accounts.list]]`, in order.
    List,
    /// The positions CSV; the label of each account, in order.
    Positions(Vec<u64>),
    /// A population, by its key.
    Population(String),
}

/// A run of accounts from one origin, from account `start` on.
#[derive(Clone, Debug)]
pub(crate) struct Segment {
    /// The first account of the run.
    pub start: usize,
    /// Where they came from.
    pub origin: Origin,
}

/// The market alone (a scenario with no accounts yet): the kernel's
/// validation of assets, venues, policy, engine settings, shocks and
/// containment, before any account is generated from those prices.
pub(crate) fn validate_market(s: &Scenario) -> Result<(), FileError> {
    kernel(s, &mut Buffers::new(s), &[])
}

/// The whole scenario: the kernel's validation, then what the first rounds
/// will compute.
pub(crate) fn validate(s: &mut Scenario, segments: &[Segment]) -> Result<(), FileError> {
    // Over the scenario's own balances, moved into the storage and back:
    // at 10^6 accounts a copy of them is 32 MB more at the peak.
    let mut storage = Buffers::over(std::mem::take(&mut s.balances), s.assets.len());
    let built = kernel(s, &mut storage, segments);
    s.balances = std::mem::take(&mut storage.balances);
    built?;
    venues(s)?;
    let highest = shocks_alone(s)?;
    healths(s, &highest, segments)?;
    // Last: the checks above name the key and the value where they can.
    engine_runs(s)
}

/// Whether the engine the CLI runs (issue 21's, through the bridge) runs
/// the market: what it does not run yet is named, under the key it comes
/// from.
fn engine_runs(s: &Scenario) -> Result<(), FileError> {
    use crate::next_bridge::{BridgeError, NextRun};
    use firesale_next::engine::ConfigError;
    match NextRun::check(s) {
        Ok(()) => Ok(()),
        Err(e @ BridgeError::Unsupported(what)) => {
            let key = match what.contains("policy") {
                true => "policy",
                false => "assets",
            };
            Err(fail(key, e.to_string()))
        }
        Err(BridgeError::Config(e)) => {
            let named = |asset: u8| {
                let i = usize::from(asset);
                format!("assets[{i}] ({})", s.asset_name(i))
            };
            let (key, what) = match e {
                ConfigError::Venue { asset } => (named(asset), "its venue's numbers"),
                ConfigError::Price { asset } => (named(asset), "its price"),
                ConfigError::Weights { asset } => (named(asset), "its weights"),
                ConfigError::Incentive { asset } => (named(asset), "its bonus and fee"),
                ConfigError::Dust { asset } => (named(asset), "its dust"),
                ConfigError::AssetLimits { asset } => (named(asset), "its limits"),
                ConfigError::Settlement => ("containment.settlement".into(), "its settlement"),
                ConfigError::Policy => ("policy".into(), "its parameters"),
                _ => ("assets".into(), "this market"),
            };
            Err(fail(
                key,
                format!("the engine cannot hold {what} in its base units ({e:?})"),
            ))
        }
    }
}

/// Builds the engine over `storage`, and names the file's key for its
/// error.
fn kernel(s: &Scenario, storage: &mut Buffers, segments: &[Segment]) -> Result<(), FileError> {
    match run::engine(s, storage) {
        Ok(_) => Ok(()),
        Err(Error::Config(ConfigError::AccountTooLarge { account })) => {
            let prices = s
                .asset_names
                .iter()
                .zip(&s.assets)
                .skip(1)
                .map(|(name, a)| format!("{name} at {}", show_number(a.price.to_f64())))
                .collect::<Vec<_>>()
                .join(", ");
            let (key, which) = account_key(segments, account as usize);
            Err(fail(
                key,
                format!(
                    "{which}: its balances' value overflows in the kernel's fixed point at the starting prices ({prices}): a balance too large for them"
                ),
            ))
        }
        Err(Error::Config(e)) => Err(explain(e, &s.asset_names)),
        Err(other) => Err(FileError {
            key: None,
            at: None,
            message: describe(&other),
        }),
    }
}

fn asset_key(s: &Scenario, a: usize) -> String {
    format!("assets[{a}] ({})", s.asset_name(a))
}

/// What went wrong in the kernel's arithmetic, in words.
fn arith(kind: ArithError) -> &'static str {
    match kind {
        ArithError::Overflow => "overflows",
        ArithError::Domain => "fails (a division by zero, or a root outside its domain)",
    }
}

/// A kernel error in words, for a message or a report.
pub fn describe(e: &Error) -> String {
    describe_named(e, &[])
}

/// [`describe`], naming assets by `names` (an asset without a name by its
/// index).
pub fn describe_named(e: &Error, names: &[String]) -> String {
    let asset_name = |a: u8| match names.get(usize::from(a)) {
        Some(name) => format!("{name} ({a})"),
        None => format!("{a}"),
    };
    match *e {
        Error::Config(c) => format!("invalid configuration: {c:?}"),
        Error::Arithmetic {
            round,
            account,
            asset,
            shock,
            kind,
        } => {
            let during = match round {
                0 => "before round 1".to_string(),
                r => format!("in round {r}"),
            };
            let whose = account.map_or(String::new(), |a| format!(", account {a}"));
            let market = match (shock, asset) {
                (Some(i), Some(a)) => {
                    format!(", applying shocks[{i}] to asset {}", asset_name(a))
                }
                (Some(i), None) => format!(", applying shocks[{i}]"),
                (None, Some(a)) => format!(", in the market of asset {}", asset_name(a)),
                (None, None) => String::new(),
            };
            format!(
                "the kernel's fixed-point arithmetic {} {during}{whose}{market}",
                arith(kind)
            )
        }
        Error::Invariant(i) => {
            format!("a kernel invariant failed: {i:?} (a bug: please report it)")
        }
    }
}

/// A trade of one dust each way in every venue, at the starting price: a
/// venue whose numbers are too large or too small for the fixed point
/// fails the first liquidation that trades in it.
fn venues(s: &Scenario) -> Result<(), FileError> {
    for (a, config) in s.assets.iter().enumerate().skip(1) {
        let key = format!("{}.venue", asset_key(s, a));
        let venue = Venue::new(&config.venue, config.price, config.dust).map_err(|e| {
            fail(
                &key,
                format!("the kernel's arithmetic {} setting it up", arith(e)),
            )
        })?;
        for (way, trade) in [("sale", true), ("purchase", false)] {
            let mut copy = venue;
            let result = match trade {
                true => copy.sell(config.dust),
                false => copy.buy(config.dust),
            };
            if let Err(VenueError::Arith(e)) = result {
                return Err(fail(
                    &key,
                    format!(
                        "a {way} of one dust ({}) {} in the kernel's arithmetic: a reserve, depth or price too large or too small for its fixed point (steps of 2^-48, below 2^79)",
                        config.dust,
                        arith(e)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Runs the shocks on the market with no accounts (what `run` does for
/// its amplification baseline) and gives each asset's highest price. An
/// arithmetic failure names the shock that was being applied.
fn shocks_alone(s: &Scenario) -> Result<Vec<Price>, FileError> {
    let alone = s.without_accounts();
    let outcome = run::run_scenario(&alone, &mut ()).map_err(|e| FileError {
        key: None,
        at: None,
        message: describe(&e),
    })?;
    if let Termination::Failed(Error::Arithmetic {
        round, shock, kind, ..
    }) = outcome.termination
    {
        // The kernel names the shock it was applying; a failure elsewhere
        // (a round's end) is put down to the last shock before it.
        let shock = shock
            .map(usize::from)
            .or_else(|| s.shocks.iter().rposition(|x| x.round <= round));
        return Err(match shock {
            Some(i) => {
                let x = s.shocks.get(i).copied();
                let asset = x.map_or(0, |x| usize::from(x.asset));
                fail(
                    format!("shocks[{i}]"),
                    format!(
                        "the kernel's arithmetic {} when this shock (round {}) moves the venue of {}, before any account acts: a value too large or too small for its fixed point, in the shock or in the venue",
                        arith(kind),
                        x.map_or(0, |x| x.round),
                        asset_key(s, asset),
                    ),
                )
            }
            None => fail(
                "assets",
                format!(
                    "the kernel's arithmetic {} in round {} with no accounts: a venue's numbers are too large or too small for its fixed point",
                    arith(kind),
                    round
                ),
            ),
        });
    }
    let report = &outcome.report;
    Ok(s.assets
        .iter()
        .enumerate()
        .map(|(a, config)| {
            report
                .per_asset
                .get(a)
                .map_or(config.price, |r| r.max_price.max(config.price))
        })
        .collect())
}

/// Each account's health at the highest price of every asset (collateral
/// at its full price, debts at the liquidation-end liability weight, the
/// largest the kernel uses): the largest numbers its health checks and
/// liquidations start from.
fn healths(s: &Scenario, highest: &[Price], segments: &[Segment]) -> Result<(), FileError> {
    let n = s.assets.len();
    let mut weighted = Vec::with_capacity(n);
    for (a, (config, &price)) in s.assets.iter().zip(highest).enumerate() {
        let liability = WeightedPrice::new(config, price, HealthTier::LiqEnd).map_err(|e| {
            fail(
                format!("{}.price", asset_key(s, a)),
                format!("at {}, the highest the shocks take it, price × liability weight {} in the kernel's fixed point", show_number(price.to_f64()), arith(e)),
            )
        })?;
        weighted.push(WeightedPrice {
            asset: price.0,
            liability: liability.liability,
        });
    }
    let index = vec![Ratio::ONE; n];
    for (id, row) in s.balances.chunks_exact(n.max(1)).enumerate() {
        if let Err(e) = account::health(row, &index, &weighted) {
            let prices = s
                .asset_names
                .iter()
                .zip(highest)
                .skip(1)
                .map(|(name, p)| format!("{name} at {}", show_number(p.to_f64())))
                .collect::<Vec<_>>()
                .join(", ");
            let (key, which) = account_key(segments, id);
            return Err(fail(
                key,
                format!(
                    "{which}: its balances' value {} in the kernel's fixed point at the highest prices the shocks reach ({prices}): a balance too large for them",
                    arith(e)
                ),
            ));
        }
    }
    Ok(())
}

/// A price for a message: plain, or in e-notation when very large or small.
fn show_number(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e9).contains(&x.abs()) {
        format!("{x:.4e}")
    } else {
        let plain = format!("{x:.6}");
        plain
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// The file's key for account `id`, and which account of it.
fn account_key(segments: &[Segment], id: usize) -> (String, String) {
    let Some(segment) = segments.iter().rev().find(|g| g.start <= id) else {
        return ("accounts".into(), format!("account {id}"));
    };
    let k = id - segment.start;
    match &segment.origin {
        Origin::List => (format!("accounts.list[{k}]"), "this account".into()),
        Origin::Positions(labels) => (
            "accounts.positions".into(),
            format!(
                "account {} of the CSV",
                labels.get(k).map_or(String::from("?"), u64::to_string)
            ),
        ),
        Origin::Population(key) => (key.clone(), format!("generated account {k}")),
    }
}

pub(crate) fn explain(e: ConfigError, names: &[String]) -> FileError {
    let asset_key = |a: u8| {
        format!(
            "assets[{a}] ({})",
            names.get(usize::from(a)).map_or("?", String::as_str)
        )
    };
    match e {
        ConfigError::Asset { asset, param } => {
            let (field, rule) = match param {
                AssetParam::Price => ("price", "must be above zero (and 1 for the quote)"),
                AssetParam::AssetWeights => ("weights", "need 0 <= init <= liq_end <= maint <= 1"),
                AssetParam::LiabilityWeights => ("liability_weights", "need 1 <= maint <= liq_end <= init"),
                AssetParam::LiquidationBonus => ("liquidation_bonus", "must be in [0, 1]"),
                AssetParam::ProtocolFee => ("protocol_fee", "must be in [0, 1]"),
                AssetParam::Dust => ("dust", "must be above zero"),
                AssetParam::VenueKind => ("venue", "only the quote asset has no venue"),
                AssetParam::VenueLiquidity => ("venue", "liquidity (depth, reserve, volume, lambda) must be above zero"),
                AssetParam::VenueResilience => ("venue.resilience", "must be in [0, 1]"),
                AssetParam::VenueFloor => ("venue.floor", "must be above zero"),
                AssetParam::VenueFee => ("venue.fee", "must be in [0, 1)"),
                AssetParam::VenueLevels => ("venue", "levels must be 1 to 16 and levels × tick below 1"),
                AssetParam::NotionalCap => ("max_notional_per_round", "must be above zero"),
                AssetParam::BreakerMove => ("breaker.max_move", "must be above zero"),
                AssetParam::BreakerWindow => ("breaker.window_rounds", "must be 1 to 15"),
                AssetParam::BreakerPause => ("breaker.pause_rounds", "must be at least 1"),
                AssetParam::Auction => ("auction", "need buf >= 1, a falling curve (rounds >= 1, or cut in (0, 1) and step_rounds >= 1), tail_rounds >= 1, cusp in [0, 1), penalty, tip, chip >= 0; not on the quote"),
            };
            fail(format!("{}.{field}", asset_key(asset)), rule)
        }
        ConfigError::BonusLowersHealth { collateral, liability } => fail(
            format!("{}.liquidation_bonus", asset_key(collateral)),
            format!("maint weight × (1 + bonus) must stay below the maint liability weight of {}, or a liquidation lowers health", asset_key(liability)),
        ),
        ConfigError::Engine(p) => {
            let (key, rule) = match p {
                EngineParam::CloseFactor => ("policy.close_factor", "must be in (0, 1]"),
                EngineParam::FullCloseHealthFactor => ("policy.full_close_health_factor", "must be in (0, 1]"),
                EngineParam::FullCloseDebtValue => ("policy.full_close_debt_value", "must be >= 0"),
                EngineParam::MaxRounds => ("max_rounds", "must be at least 1"),
                EngineParam::OracleLag => ("oracle_lag_rounds", "must be at most 15"),
                EngineParam::InsuranceFund => ("insurance_fund", "must be >= 0"),
                EngineParam::RateLimit => ("containment.max_notional_per_round", "must be above zero"),
                EngineParam::KeeperCapital => ("containment.keepers", "need initial, replenish_per_round >= 0 and max >= initial, max > 0"),
                EngineParam::OracleTwap => ("containment.oracle.twap_rounds", "must be at least 1, and oracle_lag_rounds + twap_rounds at most 16"),
                EngineParam::OracleHeartbeat => ("containment.oracle.heartbeat_rounds", "must be at least 1"),
                EngineParam::OracleDeviation => ("containment.oracle.deviation", "must be in [0, 1)"),
                EngineParam::AssetLimits => ("assets", "more per-asset limits than assets"),
                EngineParam::Backstop => ("containment.backstop.below", "must be in (0, 1]: a share of the maintenance margin"),
                EngineParam::Settlement => ("containment.settlement", "equilibrium needs oracle_lag_rounds = 0, the plain oracle, no other containment, and no account short a risky asset"),
            };
            fail(key, rule)
        }
        ConfigError::CapacityExceeded { what, limit, got } => {
            let key = match what {
                Capacity::Assets => "assets",
                Capacity::Accounts
                | Capacity::BalanceStorage
                | Capacity::ScratchStorage
                | Capacity::FlagStorage => "accounts",
            };
            fail(key, format!("{got} is more than the kernel holds ({limit})"))
        }
        ConfigError::TooLarge { asset, what } => {
            match what {
                Magnitude::Venue => fail(format!("{}.venue", asset_key(asset)), "a number is too large for the kernel's fixed point"),
                Magnitude::WeightedPrice => fail(format!("{}.price", asset_key(asset)), "price × weight is too large for the kernel's fixed point"),
                Magnitude::BalanceTotal => fail("accounts", format!("the accounts' balances of {} add up to more than the kernel's fixed point holds (below 2^79)", asset_key(asset))),
            }
        }
        ConfigError::Shock { index } => fail(
            format!("shocks[{index}]"),
            "shocks must be in round order from round 1, on a risky asset, with a positive price, ratio or quantity",
        ),
        ConfigError::AccountTooLarge { account } => fail(
            "accounts",
            format!("account {account}: its balances' value overflows in the kernel's fixed point at the starting prices: a balance too large for them"),
        ),
    }
}

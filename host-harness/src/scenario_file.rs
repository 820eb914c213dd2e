//! Scenario files: TOML in, a validated [`Scenario`] out, or an error that
//! names the key and the line and column (docs/scenario.md has the schema).

use crate::population::{Leverage, Margin, Population, Side, Size};
use crate::positions;
use crate::scenario::{Limits, Scenario};
use firesale_core::error::{AssetParam, Capacity, ConfigError, EngineParam, Magnitude};
use firesale_core::num::Fx;
use firesale_core::{
    AdlRanking, AssetConfig, AssetLimits, AuctionCurve, AuctionRule, Backstop, Breaker,
    KeeperCapital, OracleRule, Policy, Price, Qty, RateLimit, Ratio, Settlement, Shock, ShockKind,
    Value, VenueConfig, Weights,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: usize = 64 << 20;
/// Most accounts a file may list or generate.
pub const MAX_ACCOUNTS: u64 = 10_000_000;

/// A scenario file that could not be used: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The key path, such as `assets[1].venue.fee`, when known.
    pub key: Option<String>,
    /// Line and column (from 1), when known.
    pub at: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((line, column)) = self.at {
            write!(f, "line {line}, column {column}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

fn fail(key: impl Into<String>, message: impl Into<String>) -> FileError {
    FileError {
        key: Some(key.into()),
        at: None,
        message: message.into(),
    }
}

/// A number as TOML writes it, or as a decimal string for exact values.
#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Float(f64),
    #[serde(skip)]
    Exact(Fx),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(Number),
    Text(String),
}

fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
    match NumberOrText::deserialize(d)? {
        NumberOrText::Number(n) => Ok(n),
        NumberOrText::Text(t) => firesale_core::num::parse_decimal(&t)
            .map(Number::Exact)
            .ok_or_else(|| serde::de::Error::custom(format!("`{t}` is not a decimal number"))),
    }
}

fn opt_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Number>, D::Error> {
    number(d).map(Some)
}

impl Number {
    fn fx(self, key: &str) -> Result<Fx, FileError> {
        match self {
            Number::Int(i) => Ok(Fx::from_num(i)),
            Number::Exact(x) => Ok(x),
            Number::Float(x) if x.is_finite() && x.abs() < 1e23 => Ok(Fx::from_num(x)),
            Number::Float(x) => Err(fail(
                key,
                format!("{x} is out of range (at most 1e23 in magnitude)"),
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScenario {
    name: Option<String>,
    policy: FilePolicy,
    #[serde(default = "default_rounds")]
    max_rounds: u32,
    #[serde(default)]
    oracle_lag_rounds: u8,
    #[serde(deserialize_with = "number", default = "zero")]
    insurance_fund: Number,
    assets: Vec<FileAsset>,
    #[serde(default)]
    shocks: Vec<FileShock>,
    accounts: FileAccounts,
    containment: Option<FileContainment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContainment {
    #[serde(default)]
    max_accounts_per_round: u32,
    #[serde(default, deserialize_with = "opt_number")]
    max_notional_per_round: Option<Number>,
    keepers: Option<FileKeepers>,
    oracle: Option<FileOracle>,
    backstop: Option<FileBackstop>,
    deleveraging: Option<FileAdl>,
    #[serde(default)]
    settlement: FileSettlement,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum FileSettlement {
    #[default]
    Sequential,
    Equilibrium,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBackstop {
    #[serde(deserialize_with = "number")]
    below: Number,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum FileAdl {
    Ranked,
    ProRata,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKeepers {
    #[serde(deserialize_with = "number")]
    initial: Number,
    #[serde(deserialize_with = "number", default = "zero")]
    replenish_per_round: Number,
    #[serde(deserialize_with = "number")]
    max: Number,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOracle {
    #[serde(default = "one")]
    twap_rounds: u8,
    #[serde(default = "one")]
    heartbeat_rounds: u8,
    #[serde(deserialize_with = "number", default = "zero")]
    deviation: Number,
    #[serde(default)]
    max_age_rounds: u8,
}

fn one() -> u8 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBreaker {
    #[serde(deserialize_with = "number")]
    max_move: Number,
    window_rounds: u8,
    pause_rounds: u8,
}

fn default_rounds() -> u32 {
    500
}

fn zero() -> Number {
    Number::Int(0)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FilePolicy {
    Name(String),
    CloseFactor(FileCloseFactor),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCloseFactor {
    kind: String,
    #[serde(deserialize_with = "number")]
    close_factor: Number,
    #[serde(deserialize_with = "number")]
    full_close_health_factor: Number,
    #[serde(deserialize_with = "number")]
    full_close_debt_value: Number,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWeights {
    #[serde(deserialize_with = "number")]
    init: Number,
    #[serde(deserialize_with = "number")]
    liq_end: Number,
    #[serde(deserialize_with = "number")]
    maint: Number,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAsset {
    name: String,
    #[serde(default)]
    quote: bool,
    #[serde(default, deserialize_with = "opt_number")]
    price: Option<Number>,
    weights: Option<FileWeights>,
    liability_weights: Option<FileWeights>,
    #[serde(default, deserialize_with = "opt_number")]
    liquidation_bonus: Option<Number>,
    #[serde(default, deserialize_with = "opt_number")]
    protocol_fee: Option<Number>,
    #[serde(default, deserialize_with = "opt_number")]
    dust: Option<Number>,
    venue: Option<FileVenue>,
    breaker: Option<FileBreaker>,
    #[serde(default, deserialize_with = "opt_number")]
    max_notional_per_round: Option<Number>,
    auction: Option<FileAuction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuction {
    #[serde(deserialize_with = "number")]
    buf: Number,
    curve: FileCurve,
    /// Linear: rounds to zero.
    rounds: Option<u32>,
    /// Stairstep: factor per step and rounds per step.
    #[serde(default, deserialize_with = "opt_number")]
    cut: Option<Number>,
    step_rounds: Option<u32>,
    tail_rounds: u32,
    #[serde(deserialize_with = "number", default = "zero")]
    cusp: Number,
    #[serde(deserialize_with = "number", default = "zero")]
    penalty: Number,
    #[serde(deserialize_with = "number", default = "zero")]
    tip: Number,
    #[serde(deserialize_with = "number", default = "zero")]
    chip: Number,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum FileCurve {
    Linear,
    Stairstep,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum FileVenue {
    Linear {
        #[serde(deserialize_with = "number")]
        lambda: Number,
        #[serde(deserialize_with = "number")]
        resilience: Number,
        #[serde(deserialize_with = "number")]
        floor: Number,
    },
    Exponential {
        #[serde(deserialize_with = "number")]
        depth: Number,
        #[serde(deserialize_with = "number")]
        resilience: Number,
        #[serde(deserialize_with = "number")]
        floor: Number,
    },
    SquareRoot {
        #[serde(deserialize_with = "number")]
        y_sigma: Number,
        #[serde(deserialize_with = "number")]
        volume: Number,
        #[serde(deserialize_with = "number")]
        resilience: Number,
        #[serde(deserialize_with = "number")]
        floor: Number,
    },
    ConstantProduct {
        #[serde(deserialize_with = "number")]
        base_reserve: Number,
        #[serde(deserialize_with = "number")]
        fee: Number,
        #[serde(deserialize_with = "number")]
        resilience: Number,
    },
    OrderBook {
        levels: u8,
        #[serde(deserialize_with = "number")]
        tick: Number,
        #[serde(deserialize_with = "number")]
        depth: Number,
        #[serde(deserialize_with = "number")]
        resilience: Number,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShock {
    round: u32,
    asset: String,
    #[serde(default, deserialize_with = "opt_number")]
    set_price: Option<Number>,
    #[serde(default, deserialize_with = "opt_number")]
    move_price: Option<Number>,
    #[serde(default, deserialize_with = "opt_number")]
    sell: Option<Number>,
    #[serde(default, deserialize_with = "opt_number")]
    buy: Option<Number>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAccounts {
    #[serde(default)]
    list: Vec<FileAccount>,
    positions: Option<String>,
    population: Option<Populations>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAccount {
    balances: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePopulation {
    count: u64,
    seed: u64,
    #[serde(default)]
    side: FileSide,
    assets: OneOrMany,
    #[serde(default = "default_lender_share")]
    lenders: f64,
    size: Option<FileSize>,
    health_factor: Option<FileRange>,
    leverage: Option<FileRange>,
    #[serde(default)]
    margin: FileMargin,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum FileMargin {
    #[default]
    Cross,
    Isolated,
}

/// One `[accounts.population]` table, or several `[[accounts.population]]`.
enum Populations {
    One(FilePopulation),
    Many(Vec<FilePopulation>),
}

/// By hand rather than `untagged`, so a typo inside a population keeps its
/// own message (`unknown field ...`) instead of "no variant matched".
impl<'de> Deserialize<'de> for Populations {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Populations;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a population table or an array of them")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<Populations, M::Error> {
                FilePopulation::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Populations::One)
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                seq: S,
            ) -> Result<Populations, S::Error> {
                Vec::<FilePopulation>::deserialize(serde::de::value::SeqAccessDeserializer::new(
                    seq,
                ))
                .map(Populations::Many)
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum FileSide {
    #[default]
    Long,
    Short,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn default_lender_share() -> f64 {
    0.1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSize {
    min: f64,
    alpha: f64,
    max: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRange {
    min: f64,
    max: f64,
}

/// Line and column (from 1) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses and validates a scenario file's text (a file that names a
/// positions CSV needs [`load`], which knows where to look).
pub fn parse(text: &str) -> Result<Scenario, FileError> {
    parse_in(text, None, MAX_ACCOUNTS)
}

/// [`parse`], generating at most `max_accounts` accounts (the fuzz target
/// keeps runs small with it).
pub fn parse_with_limit(text: &str, max_accounts: u64) -> Result<Scenario, FileError> {
    parse_in(text, None, max_accounts)
}

/// Reads, parses and validates the scenario file at `path`; the error names
/// the file (and the CSV of positions, if that is where the problem is).
pub fn load(path: &Path) -> Result<Scenario, String> {
    let shown = path.display();
    let text = read_text(path)?;
    parse_in(&text, path.parent(), MAX_ACCOUNTS).map_err(|e| format!("{shown}: {e}"))
}

/// A file's text, refusing one too large to be a scenario or not UTF-8.
pub fn read_text(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(format!(
            "{shown}: the file is larger than {MAX_FILE_BYTES} bytes"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{shown}: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Parses `text`, resolving a positions CSV against `base`.
pub fn parse_in(text: &str, base: Option<&Path>, max_accounts: u64) -> Result<Scenario, FileError> {
    if text.trim().is_empty() {
        return Err(FileError {
            key: None,
            at: None,
            message: "the file is empty".into(),
        });
    }
    if text.len() > MAX_FILE_BYTES {
        return Err(FileError {
            key: None,
            at: None,
            message: format!("the file is larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    let file: FileScenario = toml::from_str(text).map_err(|e| FileError {
        key: None,
        at: e.span().map(|s| line_column(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    build(file, base, max_accounts).map_err(|mut e| {
        if e.at.is_none() {
            e.at = e
                .key
                .as_deref()
                .and_then(|key| locate(text, key))
                .map(|offset| line_column(text, offset));
        }
        e
    })
}

/// Parses a scenario already read into a TOML table: how sweeps build each
/// variant after editing one value. Errors name the key but no line.
pub fn parse_table(
    table: toml::Table,
    base: Option<&Path>,
    max_accounts: u64,
) -> Result<Scenario, FileError> {
    let file: FileScenario =
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| FileError {
                key: None,
                at: None,
                message: e.message().trim().to_string(),
            })?;
    build(file, base, max_accounts)
}

/// Byte offset of the deepest part of `key` (such as `assets[1] (ETH).venue.fee`)
/// present in the document: the value if it is there, else the nearest
/// enclosing table.
fn locate(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut at = None;
    let mut value: Option<&DeValue<'_>>;
    let mut table = Some(root.get_ref());
    for part in key.split('.') {
        let part = part.split(" (").next().unwrap_or(part);
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let entry = table?
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == name)
            .map(|(_, v)| v)?;
        at = Some(entry.span().start);
        value = Some(entry.get_ref());
        if let (Some(i), Some(DeValue::Array(items))) = (index, value) {
            let item = items.get(i)?;
            at = Some(item.span().start);
            value = Some(item.get_ref());
        }
        table = match value {
            Some(DeValue::Table(t)) => Some(t),
            _ => None,
        };
    }
    at
}

fn build(
    file: FileScenario,
    base: Option<&Path>,
    max_accounts: u64,
) -> Result<Scenario, FileError> {
    let names: Vec<String> = file.assets.iter().map(|a| a.name.clone()).collect();
    let index_of = |key: &str, name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            fail(
                key,
                format!("unknown asset `{name}` (assets: {})", names.join(", ")),
            )
        })
    };
    if file.assets.is_empty() {
        return Err(fail("assets", "at least the quote asset is required"));
    }
    let mut assets = Vec::with_capacity(file.assets.len());
    for (i, a) in file.assets.iter().enumerate() {
        let key = format!("assets[{i}]");
        if a.quote != (i == 0) {
            return Err(fail(
                &key,
                "the first asset, and only it, is the quote (`quote = true`)",
            ));
        }
        if names.iter().filter(|n| **n == a.name).count() > 1 {
            return Err(fail(
                format!("{key}.name"),
                format!("`{}` names two assets", a.name),
            ));
        }
        assets.push(if a.quote {
            quote_asset(a, &key)?
        } else {
            risky_asset(a, &key)?
        });
    }
    let policy = match &file.policy {
        FilePolicy::Name(n) if n == "absorb" => Policy::Absorb,
        FilePolicy::Name(n) if n == "to-target" => Policy::ToTarget,
        FilePolicy::Name(n) if n == "close-factor" => Policy::aave_like(),
        FilePolicy::Name(n) => {
            return Err(fail(
                "policy",
                format!("unknown policy `{n}` (absorb, close-factor, to-target)"),
            ))
        }
        FilePolicy::CloseFactor(c) if c.kind == "close-factor" => Policy::CloseFactor {
            close_factor: Ratio(c.close_factor.fx("policy.close_factor")?),
            full_close_health_factor: Ratio(
                c.full_close_health_factor
                    .fx("policy.full_close_health_factor")?,
            ),
            full_close_debt_value: Value(
                c.full_close_debt_value.fx("policy.full_close_debt_value")?,
            ),
        },
        FilePolicy::CloseFactor(c) => {
            return Err(fail(
                "policy.kind",
                format!("`{}`: only close-factor takes parameters", c.kind),
            ))
        }
    };
    let mut shocks = Vec::with_capacity(file.shocks.len());
    for (i, s) in file.shocks.iter().enumerate() {
        let key = format!("shocks[{i}]");
        let asset = index_of(&format!("{key}.asset"), &s.asset)?;
        let given = [s.set_price, s.move_price, s.sell, s.buy];
        let kind = match given {
            [Some(p), None, None, None] => {
                ShockKind::SetPrice(Price(p.fx(&format!("{key}.set_price"))?))
            }
            [None, Some(r), None, None] => {
                ShockKind::MovePrice(Ratio(r.fx(&format!("{key}.move_price"))?))
            }
            [None, None, Some(q), None] => ShockKind::Sell(Qty(q.fx(&format!("{key}.sell"))?)),
            [None, None, None, Some(q)] => ShockKind::Buy(Qty(q.fx(&format!("{key}.buy"))?)),
            _ => {
                return Err(fail(
                    &key,
                    "give exactly one of set_price, move_price, sell, buy",
                ))
            }
        };
        shocks.push(Shock {
            round: s.round,
            asset: u8::try_from(asset).unwrap_or(u8::MAX),
            kind,
        });
    }
    let n = assets.len();
    let mut balances = Vec::new();
    for (i, account) in file.accounts.list.iter().enumerate() {
        let mut row = vec![Qty::ZERO; n];
        for (name, value) in &account.balances {
            let key = format!("accounts.list[{i}].balances.{name}");
            let asset = index_of(&key, name)?;
            let value: Number = value
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| fail(&key, e.message().trim().to_string()))?;
            row[asset] = Qty(value.fx(&key)?);
        }
        balances.extend(row);
    }
    if let Some(path) = &file.accounts.positions {
        let rows =
            positions::load(path, base, n, &index_of).map_err(|e| fail("accounts.positions", e))?;
        balances.extend(rows);
    }
    let populations = match &file.accounts.population {
        None => &[][..],
        Some(Populations::One(p)) => std::slice::from_ref(p),
        Some(Populations::Many(list)) => list.as_slice(),
    };
    for (i, p) in populations.iter().enumerate() {
        let key = match file.accounts.population {
            Some(Populations::Many(_)) => format!("accounts.population[{i}]"),
            _ => "accounts.population".to_string(),
        };
        let population = population(p, &key, max_accounts, &index_of)?;
        balances.extend(population.generate(&assets));
    }
    if (balances.len() / n) as u64 > max_accounts {
        return Err(fail(
            "accounts",
            format!("more than {max_accounts} accounts"),
        ));
    }
    if balances.is_empty() {
        return Err(fail(
            "accounts",
            "no accounts: give accounts.list or accounts.population",
        ));
    }
    let limits = limits(&file)?;
    let scenario = Scenario {
        name: file.name.unwrap_or_else(|| "scenario".into()),
        asset_names: names.clone(),
        limits,
        assets,
        policy,
        max_rounds: file.max_rounds,
        oracle_lag_rounds: file.oracle_lag_rounds,
        insurance_fund: Value(file.insurance_fund.fx("insurance_fund")?),
        shocks,
        balances,
    };
    validate(&scenario, &names)?;
    Ok(scenario)
}

fn limits(file: &FileScenario) -> Result<Limits, FileError> {
    let mut limits = Limits::default();
    if let Some(c) = &file.containment {
        const KEY: &str = "containment";
        limits.rate_limit = RateLimit {
            max_accounts_per_round: c.max_accounts_per_round,
            max_notional_per_round: c
                .max_notional_per_round
                .map(|n| n.fx(&format!("{KEY}.max_notional_per_round")).map(Value))
                .transpose()?,
        };
        if let Some(k) = &c.keepers {
            let key = |field: &str| format!("{KEY}.keepers.{field}");
            limits.keepers = Some(KeeperCapital {
                initial: Value(k.initial.fx(&key("initial"))?),
                replenish_per_round: Value(k.replenish_per_round.fx(&key("replenish_per_round"))?),
                max: Value(k.max.fx(&key("max"))?),
            });
        }
        if let Some(b) = &c.backstop {
            limits.backstop = Some(Backstop {
                below: Ratio(b.below.fx(&format!("{KEY}.backstop.below"))?),
            });
        }
        limits.settlement = match c.settlement {
            FileSettlement::Sequential => Settlement::Sequential,
            FileSettlement::Equilibrium => Settlement::Equilibrium,
        };
        limits.deleveraging = c.deleveraging.map(|d| match d {
            FileAdl::Ranked => AdlRanking::Ranked,
            FileAdl::ProRata => AdlRanking::ProRata,
        });
        if let Some(o) = &c.oracle {
            limits.oracle = OracleRule {
                twap_rounds: o.twap_rounds,
                heartbeat_rounds: o.heartbeat_rounds,
                deviation: Ratio(o.deviation.fx(&format!("{KEY}.oracle.deviation"))?),
                max_age_rounds: o.max_age_rounds,
            };
        }
    }
    for (i, a) in file.assets.iter().enumerate() {
        let key = |field: &str| format!("assets[{i}].{field}");
        let breaker = match &a.breaker {
            Some(b) => Some(Breaker {
                max_move: Ratio(b.max_move.fx(&key("breaker.max_move"))?),
                window_rounds: b.window_rounds,
                pause_rounds: b.pause_rounds,
            }),
            None => None,
        };
        let cap = a
            .max_notional_per_round
            .map(|n| n.fx(&key("max_notional_per_round")).map(Value))
            .transpose()?;
        if a.quote && breaker.is_some() {
            return Err(fail(key("breaker"), "the quote asset has no venue to halt"));
        }
        let auction = match &a.auction {
            Some(x) => Some(auction(x, &key("auction"))?),
            None => None,
        };
        limits.per_asset.push(AssetLimits {
            breaker,
            max_notional_per_round: cap,
            auction,
        });
    }
    if limits
        .per_asset
        .iter()
        .all(|a| *a == AssetLimits::default())
    {
        limits.per_asset.clear();
    }
    Ok(limits)
}

fn auction(a: &FileAuction, key: &str) -> Result<AuctionRule, FileError> {
    let k = |field: &str| format!("{key}.{field}");
    let curve = match a.curve {
        FileCurve::Linear => AuctionCurve::Linear {
            rounds: a
                .rounds
                .ok_or_else(|| fail(k("rounds"), "a linear curve needs `rounds`"))?,
        },
        FileCurve::Stairstep => AuctionCurve::Stairstep {
            cut: Ratio(
                a.cut
                    .ok_or_else(|| fail(k("cut"), "a stairstep curve needs `cut`"))?
                    .fx(&k("cut"))?,
            ),
            step_rounds: a
                .step_rounds
                .ok_or_else(|| fail(k("step_rounds"), "a stairstep curve needs `step_rounds`"))?,
        },
    };
    Ok(AuctionRule {
        buf: Ratio(a.buf.fx(&k("buf"))?),
        curve,
        tail_rounds: a.tail_rounds,
        cusp: Ratio(a.cusp.fx(&k("cusp"))?),
        penalty: Ratio(a.penalty.fx(&k("penalty"))?),
        tip: Value(a.tip.fx(&k("tip"))?),
        chip: Ratio(a.chip.fx(&k("chip"))?),
    })
}

fn population(
    p: &FilePopulation,
    key: &str,
    max_accounts: u64,
    index_of: &dyn Fn(&str, &str) -> Result<usize, FileError>,
) -> Result<Population, FileError> {
    let key_of = |field: &str| format!("{key}.{field}");
    if p.count == 0 || p.count > max_accounts {
        return Err(fail(
            key_of("count"),
            format!("must be between 1 and {max_accounts}"),
        ));
    }
    let names = match &p.assets {
        OneOrMany::One(name) => std::slice::from_ref(name),
        OneOrMany::Many(names) => names.as_slice(),
    };
    let mut assets = Vec::with_capacity(names.len());
    for name in names {
        let asset = index_of(&key_of("assets"), name)?;
        if asset == 0 || assets.contains(&asset) {
            return Err(fail(
                key_of("assets"),
                format!("`{name}`: name distinct risky assets, not the quote"),
            ));
        }
        assets.push(asset);
    }
    let side = match p.side {
        FileSide::Long => Side::Long,
        FileSide::Short => Side::Short,
    };
    if assets.is_empty() || (side == Side::Short && assets.len() > 1) {
        return Err(fail(
            key_of("assets"),
            "name one or more assets held long, or exactly one shorted",
        ));
    }
    if !(0.0..1.0).contains(&p.lenders) || (p.lenders == 0.0 && p.count > 0) {
        return Err(fail(
            key_of("lenders"),
            "the lenders' share must be in (0, 1): someone lends what positions borrow",
        ));
    }
    let mut population = Population::lending(p.count as usize, p.seed, 0);
    population.side = side;
    population.assets = assets;
    population.lender_share = p.lenders;
    population.margin = match p.margin {
        FileMargin::Cross => Margin::Cross,
        FileMargin::Isolated => Margin::Isolated,
    };
    if let Some(size) = &p.size {
        let valid = size.min > 0.0 && size.alpha > 0.0 && size.max >= size.min;
        if !(valid && size.max.is_finite() && size.max < 1e15) {
            return Err(fail(
                key_of("size"),
                "need 0 < min <= max < 1e15 and alpha > 0",
            ));
        }
        population.size = Size {
            min: size.min,
            alpha: size.alpha,
            max: size.max,
        };
    }
    population.leverage = match (&p.health_factor, &p.leverage) {
        (Some(_), Some(_)) => {
            return Err(fail(key, "give health_factor or leverage, not both"));
        }
        (Some(h), None) if h.min > 1.0 && h.max >= h.min && h.max < 1e6 => Leverage::HealthFactor {
            min: h.min,
            max: h.max,
        },
        (Some(_), None) => {
            return Err(fail(
                key_of("health_factor"),
                "need 1 < min <= max < 1e6 (below 1 the account starts liquidatable)",
            ));
        }
        (None, Some(l)) if l.min > 1.0 && l.max >= l.min && l.max < 1e6 => Leverage::Notional {
            min: l.min,
            max: l.max,
        },
        (None, Some(_)) => {
            return Err(fail(key_of("leverage"), "need 1 < min <= max < 1e6"));
        }
        (None, None) => population.leverage,
    };
    Ok(population)
}

fn quote_asset(a: &FileAsset, key: &str) -> Result<AssetConfig, FileError> {
    if a.venue.is_some() || a.price.is_some() {
        return Err(fail(key, "the quote asset has price 1 and no venue"));
    }
    let mut quote = AssetConfig::quote();
    if let Some(w) = &a.weights {
        quote.asset_weights = weights(w, &format!("{key}.weights"))?;
    }
    if let Some(d) = a.dust {
        quote.dust = Qty(d.fx(&format!("{key}.dust"))?);
    }
    if let Some(b) = a.liquidation_bonus {
        quote.liquidation_bonus = Ratio(b.fx(&format!("{key}.liquidation_bonus"))?);
    }
    if let Some(f) = a.protocol_fee {
        quote.protocol_fee = Ratio(f.fx(&format!("{key}.protocol_fee"))?);
    }
    Ok(quote)
}

fn weights(w: &FileWeights, key: &str) -> Result<Weights, FileError> {
    Ok(Weights {
        init: Ratio(w.init.fx(&format!("{key}.init"))?),
        liq_end: Ratio(w.liq_end.fx(&format!("{key}.liq_end"))?),
        maint: Ratio(w.maint.fx(&format!("{key}.maint"))?),
    })
}

fn required(value: Option<Number>, key: &str) -> Result<Fx, FileError> {
    value.ok_or_else(|| fail(key, "missing"))?.fx(key)
}

fn risky_asset(a: &FileAsset, key: &str) -> Result<AssetConfig, FileError> {
    let k = |field: &str| format!("{key}.{field}");
    let asset_weights = weights(
        a.weights
            .as_ref()
            .ok_or_else(|| fail(k("weights"), "missing"))?,
        &k("weights"),
    )?;
    let mirror = |w: Ratio| Ratio(Fx::from_num(2) - w.0.min(Fx::from_num(2)));
    let liability_weights = match &a.liability_weights {
        Some(w) => weights(w, &k("liability_weights"))?,
        None => Weights {
            init: mirror(asset_weights.init),
            liq_end: mirror(asset_weights.liq_end),
            maint: mirror(asset_weights.maint),
        },
    };
    let r = |x: Fx| Ratio(x);
    let venue = match a
        .venue
        .as_ref()
        .ok_or_else(|| fail(k("venue"), "missing"))?
    {
        FileVenue::Linear {
            lambda,
            resilience,
            floor,
        } => VenueConfig::Linear {
            lambda: lambda.fx(&k("venue.lambda"))?,
            resilience: r(resilience.fx(&k("venue.resilience"))?),
            floor: Price(floor.fx(&k("venue.floor"))?),
        },
        FileVenue::Exponential {
            depth,
            resilience,
            floor,
        } => VenueConfig::Exponential {
            depth: Qty(depth.fx(&k("venue.depth"))?),
            resilience: r(resilience.fx(&k("venue.resilience"))?),
            floor: Price(floor.fx(&k("venue.floor"))?),
        },
        FileVenue::SquareRoot {
            y_sigma,
            volume,
            resilience,
            floor,
        } => VenueConfig::SquareRoot {
            y_sigma: r(y_sigma.fx(&k("venue.y_sigma"))?),
            volume: Qty(volume.fx(&k("venue.volume"))?),
            resilience: r(resilience.fx(&k("venue.resilience"))?),
            floor: Price(floor.fx(&k("venue.floor"))?),
        },
        FileVenue::ConstantProduct {
            base_reserve,
            fee,
            resilience,
        } => VenueConfig::ConstantProduct {
            base_reserve: Qty(base_reserve.fx(&k("venue.base_reserve"))?),
            fee: r(fee.fx(&k("venue.fee"))?),
            resilience: r(resilience.fx(&k("venue.resilience"))?),
        },
        FileVenue::OrderBook {
            levels,
            tick,
            depth,
            resilience,
        } => VenueConfig::OrderBook {
            levels: *levels,
            tick: r(tick.fx(&k("venue.tick"))?),
            depth: Qty(depth.fx(&k("venue.depth"))?),
            resilience: r(resilience.fx(&k("venue.resilience"))?),
        },
    };
    Ok(AssetConfig {
        price: Price(required(a.price, &k("price"))?),
        asset_weights,
        liability_weights,
        liquidation_bonus: r(a
            .liquidation_bonus
            .map_or(Ok(Fx::ZERO), |b| b.fx(&k("liquidation_bonus")))?),
        protocol_fee: r(a
            .protocol_fee
            .map_or(Ok(Fx::ZERO), |f| f.fx(&k("protocol_fee")))?),
        dust: Qty(a
            .dust
            .map_or(Ok(Fx::from_num(1) / 1_000_000), |d| d.fx(&k("dust")))?),
        venue,
    })
}

/// Runs the kernel's own validation and names the file's key for its error.
fn validate(s: &Scenario, names: &[String]) -> Result<(), FileError> {
    let mut buffers = crate::run::Buffers::new(s);
    match crate::run::engine(s, &mut buffers) {
        Ok(_) => Ok(()),
        Err(firesale_core::Error::Config(e)) => Err(explain(e, names)),
        Err(other) => Err(FileError {
            key: None,
            at: None,
            message: format!("{other:?}"),
        }),
    }
}

fn explain(e: ConfigError, names: &[String]) -> FileError {
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
            let part = match what {
                Magnitude::Venue => "venue",
                Magnitude::WeightedPrice => "price",
                Magnitude::BalanceTotal => "balances",
            };
            fail(format!("{}.{part}", asset_key(asset)), "a number is too large for the kernel's fixed point")
        }
        ConfigError::Shock { index } => fail(
            format!("shocks[{index}]"),
            "shocks must be in round order from round 1, on a risky asset, with a positive price, ratio or quantity",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/example.toml"
        ))
        .unwrap()
    }

    #[test]
    fn the_example_parses_into_what_it_says() {
        let s = parse(&example()).unwrap();
        assert_eq!(s.assets.len(), 3);
        assert_eq!(s.accounts(), 503);
        assert_eq!(s.oracle_lag_rounds, 1);
        assert_eq!(s.shocks.len(), 2);
        assert_eq!(
            s.balances[3 + 1],
            Qty::from_int(10),
            "the second listed account holds 10 ETH"
        );
        assert_eq!(s.assets[1].dust, Qty::parse("0.000001").unwrap());
    }

    fn error_of(edit: impl Fn(String) -> String) -> FileError {
        parse(&edit(example())).unwrap_err()
    }

    #[test]
    fn containment_parses_and_bad_settings_name_their_key() {
        let with = |block: &str, asset: &str| {
            let text = example()
                .replace("name = \"ETH\"\n", &format!("name = \"ETH\"\n{asset}\n"))
                .replace(
                    "[accounts.population]",
                    &format!("{block}\n\n[accounts.population]"),
                );
            parse(&text)
        };
        let s = with(
            "[containment]\nmax_accounts_per_round = 7\nkeepers = { initial = 10, max = 20 }\noracle = { twap_rounds = 3 }",
            "breaker = { max_move = 0.1, window_rounds = 2, pause_rounds = 3 }",
        )
        .unwrap();
        assert_eq!(s.limits.rate_limit.max_accounts_per_round, 7);
        assert_eq!(s.limits.oracle.twap_rounds, 3);
        assert_eq!(
            s.limits.oracle.heartbeat_rounds, 1,
            "defaults fill the rest"
        );
        assert_eq!(s.limits.keepers.unwrap().max, Value::from_int(20));
        assert_eq!(s.limits.per_asset[1].breaker.unwrap().pause_rounds, 3);
        assert!(s.limits.per_asset[2].breaker.is_none());

        let adl = with(
            "[containment]\ndeleveraging = \"pro-rata\"\nbackstop = { below = 0.5 }",
            "",
        )
        .unwrap();
        assert_eq!(adl.limits.deleveraging, Some(AdlRanking::ProRata));
        assert_eq!(adl.limits.backstop.unwrap().below, Ratio::from_f64(0.5));
        let auctioned = with(
            "",
            "auction = { buf = 1.2, curve = \"stairstep\", cut = 0.99, step_rounds = 2, tail_rounds = 30 }",
        )
        .unwrap();
        let rule = auctioned.limits.per_asset[1].auction.unwrap();
        assert_eq!(
            rule.curve,
            AuctionCurve::Stairstep {
                cut: Ratio::from_f64(0.99),
                step_rounds: 2
            }
        );
        let no_rounds = with(
            "",
            "auction = { buf = 1.2, curve = \"linear\", tail_rounds = 30 }",
        )
        .unwrap_err();
        assert_eq!(
            no_rounds.key.as_deref(),
            Some("assets[1].auction.rounds"),
            "{no_rounds}"
        );
        let low_buf = with(
            "",
            "auction = { buf = 0.9, curve = \"linear\", rounds = 5, tail_rounds = 30 }",
        )
        .unwrap_err();
        assert_eq!(
            low_buf.key.as_deref(),
            Some("assets[1] (ETH).auction"),
            "{low_buf}"
        );
        let backstop = with("[containment]\nbackstop = { below = 1.5 }", "").unwrap_err();
        assert_eq!(
            backstop.key.as_deref(),
            Some("containment.backstop.below"),
            "{backstop}"
        );
        let ranking = with("[containment]\ndeleveraging = \"random\"", "").unwrap_err();
        assert!(
            ranking.message.contains("unknown variant `random`"),
            "{ranking}"
        );
        let twap = with("[containment]\noracle = { twap_rounds = 16 }", "").unwrap_err();
        assert_eq!(
            twap.key.as_deref(),
            Some("containment.oracle.twap_rounds"),
            "{twap}"
        );
        assert!(twap.at.is_some(), "{twap}");
        let window = with(
            "",
            "breaker = { max_move = 0.1, window_rounds = 0, pause_rounds = 3 }",
        )
        .unwrap_err();
        assert_eq!(
            window.key.as_deref(),
            Some("assets[1] (ETH).breaker.window_rounds"),
            "{window}"
        );
        let unknown = with("[containment]\nmax_acounts_per_round = 3", "").unwrap_err();
        assert!(
            unknown
                .message
                .contains("unknown field `max_acounts_per_round`"),
            "{unknown}"
        );
    }

    #[test]
    fn malformed_files_name_the_key_and_the_place() {
        let unknown =
            error_of(|t| t.replace("protocol_fee = 0.10             #", "protocol_feee = 0.1 #"));
        assert!(
            unknown.message.contains("unknown field `protocol_feee`"),
            "{unknown}"
        );
        assert_eq!(unknown.at.map(|a| a.0), Some(26), "{unknown}");

        let wrong_type = error_of(|t| t.replace("max_rounds = 300", "max_rounds = \"many\""));
        assert!(
            wrong_type.at.is_some() && wrong_type.message.contains("invalid type"),
            "{wrong_type}"
        );

        let missing = error_of(|t| t.replace("name = \"BTC\"\nprice = 60000", "name = \"BTC\""));
        assert_eq!(missing.key.as_deref(), Some("assets[2].price"), "{missing}");

        let impossible = error_of(|t| t.replace("price = 2000", "price = -2000"));
        assert_eq!(
            impossible.at,
            Some((22, 9)),
            "the value's line and column: {impossible}"
        );
        assert_eq!(
            impossible.key.as_deref(),
            Some("assets[1] (ETH).price"),
            "{impossible}"
        );

        let bonus = error_of(|t| t.replace("liquidation_bonus = 0.05", "liquidation_bonus = 0.5"));
        assert_eq!(
            bonus.key.as_deref(),
            Some("assets[1] (ETH).liquidation_bonus"),
            "{bonus}"
        );

        let asset = error_of(|t| t.replace("asset = \"ETH\"", "asset = \"SOL\""));
        assert!(asset.message.contains("unknown asset `SOL`"), "{asset}");
        assert_eq!(
            asset.at,
            Some((46, 9)),
            "the value's line and column: {asset}"
        );

        let two = error_of(|t| t.replace("move_price = 0.75", "move_price = 0.75\nsell = 3"));
        assert_eq!(two.key.as_deref(), Some("shocks[0]"), "{two}");

        assert_eq!(parse("   \n").unwrap_err().message, "the file is empty");
        let syntax = parse("name = \n").unwrap_err();
        assert_eq!(syntax.at, Some((1, 8)), "{syntax}");
    }
}

//! Scenario files: TOML in, a validated [`Scenario`] out, or an error that
//! names the key and the line and column (docs/scenario.md has the schema).

use crate::bounds::{self, show_bytes, Bounds};
use crate::population::{Leverage, Margin, Population, Side, Size};
use crate::positions;
use crate::preflight::{self, Origin};
use crate::scenario::{Limits, Scenario};
use firesale_core::num::Fx;
use firesale_core::{
    AdlRanking, AssetConfig, AssetLimits, AuctionCurve, AuctionRule, Backstop, Breaker,
    KeeperCapital, OracleRule, Policy, Price, Qty, RateLimit, Ratio, Settlement, Shock, ShockKind,
    Value, VenueConfig, Weights,
};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::Path;

pub use crate::bounds::MAX_ACCOUNTS;
pub(crate) use crate::input::fail;
pub use crate::input::{open_input, read_text, FileError, MAX_FILE_BYTES};

/// Longest asset name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A number as TOML writes it, or as a decimal string for exact values.
#[derive(Clone, Copy, Debug)]
enum Number {
    Int(i64),
    Float(f64),
    /// A decimal string read exactly; `underflow` when it has a non-zero
    /// digit but rounds to zero.
    Exact {
        value: Fx,
        underflow: bool,
    },
}

/// What a number field accepts, for messages.
const A_NUMBER: &str = "a number (an integer, a float, or a decimal in a string such as \"0.1\")";

struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = Number;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(A_NUMBER)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(i64::try_from(v).map_or(Number::Float(v as f64), Number::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
        Ok(Number::Float(v))
    }
    fn visit_str<E: de::Error>(self, t: &str) -> Result<Number, E> {
        decimal(t).map_err(E::custom)
    }
}

/// A decimal string as an exact number.
fn decimal(t: &str) -> Result<Number, String> {
    let value = firesale_core::num::parse_decimal(t.trim()).ok_or_else(|| {
        format!("`{t}` is not a decimal number (digits with an optional sign and point, such as \"-0.25\"; at most 38 digits each side of the point, below 2^79)")
    })?;
    let underflow = value == Fx::ZERO && t.bytes().any(|b| (b'1'..=b'9').contains(&b));
    Ok(Number::Exact { value, underflow })
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
    d.deserialize_any(NumberVisitor)
}

fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Number>, D::Error> {
    number(d).map(Some)
}

/// A number the harness uses as a float (population parameters): an
/// integer, a float, or a decimal string, which is read as the float
/// nearest to it, as TOML reads a float.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Real(f64);

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RealVisitor;
        impl Visitor<'_> for RealVisitor {
            type Value = Real;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(A_NUMBER)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Real, E> {
                Ok(Real(v))
            }
            fn visit_str<E: de::Error>(self, t: &str) -> Result<Real, E> {
                // The decimal grammar first, then Rust's float parser, which
                // reads the string to the nearest float as TOML reads 0.1.
                decimal(t).map_err(E::custom)?;
                t.trim()
                    .trim_start_matches('+')
                    .parse()
                    .map(Real)
                    .map_err(|_| E::custom(format!("`{t}` is not a decimal number")))
            }
        }
        d.deserialize_any(RealVisitor)
    }
}

/// A number field, as its own type (a balance in a map of them).
#[derive(Clone, Copy, Debug)]
struct NumberField(Number);

impl<'de> Deserialize<'de> for NumberField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        number(d).map(NumberField)
    }
}

/// The smallest step of the kernel's fixed point, for messages.
const RESOLUTION: &str = "2^-48, about 3.6e-15";
/// The largest float accepted.
const MAX_FLOAT: f64 = 1e23;

impl Number {
    fn fx(self, key: &str) -> Result<Fx, FileError> {
        let too_small = |shown: String| {
            fail(
                key,
                format!("{shown} is too small for the kernel's fixed point (its smallest step is {RESOLUTION}): it would be 0"),
            )
        };
        match self {
            Number::Int(i) => Ok(Fx::from_num(i)),
            Number::Exact {
                underflow: true, ..
            } => Err(too_small("the decimal".into())),
            Number::Exact { value, .. } => Ok(value),
            Number::Float(x) if !x.is_finite() => {
                Err(fail(key, format!("{x} is not a finite number")))
            }
            Number::Float(x) if x.abs() >= MAX_FLOAT => Err(fail(
                key,
                format!("{x:e} is out of range (at most 1e23 in magnitude)"),
            )),
            Number::Float(x) => {
                let value = Fx::from_num(x);
                match value == Fx::ZERO && x != 0.0 {
                    true => Err(too_small(format!("{x:e}"))),
                    false => Ok(value),
                }
            }
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

enum FilePolicy {
    Name(String),
    CloseFactor(FileCloseFactor),
}

/// By hand rather than `untagged`, so that a wrong type says what a policy
/// is, and a typo inside the table keeps its own message.
impl<'de> Deserialize<'de> for FilePolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = FilePolicy;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a policy: \"absorb\", \"close-factor\", \"to-target\", or a table { kind = \"close-factor\", close_factor, full_close_health_factor, full_close_debt_value }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FilePolicy, E> {
                Ok(FilePolicy::Name(v.to_string()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<FilePolicy, M::Error> {
                FileCloseFactor::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(FilePolicy::CloseFactor)
            }
        }
        d.deserialize_any(Visit)
    }
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
    balances: Balances,
}

/// An account's balances, in the file's order: a list of pairs rather than
/// a map, which would take a tree node per account (a file of a million
/// listed accounts holds a million of these).
struct Balances(Vec<(Box<str>, Number)>);

impl<'de> Deserialize<'de> for Balances {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Balances;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of balances such as { USDC = -1000, ETH = 2.5 }")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Balances, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(16));
                while let Some((name, NumberField(n))) = map.next_entry::<String, NumberField>()? {
                    pairs.push((name.into_boxed_str(), n));
                }
                Ok(Balances(pairs))
            }
        }
        d.deserialize_map(Visit)
    }
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
    lenders: Real,
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

enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an asset name or a list of names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> Result<OneOrMany, S::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }
        d.deserialize_any(Visit)
    }
}

fn default_lender_share() -> Real {
    Real(0.1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSize {
    min: Real,
    alpha: Real,
    max: Real,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRange {
    min: Real,
    max: Real,
}

impl FileRange {
    /// `1 < min <= max < 1e6`.
    fn valid(&self) -> bool {
        let (min, max) = (self.min.0, self.max.0);
        min > 1.0 && max >= min && max < 1e6
    }
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
    parse_with(text, None, &Bounds::default())
}

/// [`parse`], generating at most `max_accounts` accounts (the fuzz target
/// keeps runs small with it).
pub fn parse_with_limit(text: &str, max_accounts: u64) -> Result<Scenario, FileError> {
    let bounds = Bounds {
        max_accounts,
        ..Bounds::default()
    };
    parse_with(text, None, &bounds)
}

/// Reads, parses and validates the scenario file at `path`; the error names
/// the file (and the CSV of positions, if that is where the problem is).
pub fn load(path: &Path) -> Result<Scenario, String> {
    let shown = path.display();
    let text = read_text(path)?;
    parse_with(&text, path.parent(), &Bounds::default()).map_err(|e| format!("{shown}: {e}"))
}

/// Parses `text`, resolving a positions CSV against `base`.
pub fn parse_in(text: &str, base: Option<&Path>, max_accounts: u64) -> Result<Scenario, FileError> {
    let bounds = Bounds {
        max_accounts,
        ..Bounds::default()
    };
    parse_with(text, base, &bounds)
}

/// Parses `text` under `bounds`, resolving a positions CSV against `base`.
pub fn parse_with(text: &str, base: Option<&Path>, bounds: &Bounds) -> Result<Scenario, FileError> {
    parse_with_positions(text, base, bounds, None)
}

/// [`parse_with`], with the positions CSV given as text (`positions`, read
/// as the file `accounts.positions` names would be, in its place): how the
/// Python module passes a DataFrame's positions without a file.
pub fn parse_with_positions(
    text: &str,
    base: Option<&Path>,
    bounds: &Bounds,
    positions: Option<&str>,
) -> Result<Scenario, FileError> {
    let whole = |message: String| FileError {
        key: None,
        at: None,
        message,
    };
    if text.trim().is_empty() {
        return Err(whole("the file is empty".into()));
    }
    if text.len() > MAX_FILE_BYTES {
        return Err(whole(format!(
            "the file is larger than {MAX_FILE_BYTES} bytes"
        )));
    }
    let parsing = parse_bytes(text.len());
    if parsing > bounds.memory {
        return Err(whole(format!(
            "reading a file of {} takes up to {} ({}× its size at worst, for many small tables), more than {}; list many accounts in a positions CSV instead",
            show_bytes(text.len() as u64),
            show_bytes(parsing),
            bounds::TOML_BYTES_PER_BYTE,
            bounds.budget_text()
        )));
    }
    let file: FileScenario = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    build(file, base, bounds, text.len(), positions).map_err(|mut e| {
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

/// The most memory the TOML parser takes for a file of `len` bytes.
fn parse_bytes(len: usize) -> u64 {
    bounds::toml_bytes(len)
}

/// A TOML error as a [`FileError`]: the parser's line and column, and a
/// message in the schema's words rather than Rust's.
fn toml_error(text: &str, e: &toml::de::Error) -> FileError {
    let message = readable(e.message().trim());
    match e.span() {
        Some(span) => FileError {
            key: None,
            at: Some(line_column(text, span.start)),
            message,
        },
        // The parser gives no place for a key of too many parts: find it.
        None if message.contains("recursion limit") => FileError {
            key: None,
            at: deep_key(text).map(|line| (line, 1)),
            message: format!("a key of more than {TOML_DEPTH} parts (`a.b.c...`): a scenario's keys have at most 5"),
        },
        None => FileError {
            key: None,
            at: None,
            message,
        },
    }
}

/// How deep the TOML parser nests keys and values before it refuses.
const TOML_DEPTH: usize = 80;

/// The first line whose key (before `=`, or in a `[table]` header) has
/// [`TOML_DEPTH`] or more dotted parts.
fn deep_key(text: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let key = match line.strip_prefix('[') {
                Some(header) => header.split(']').next().unwrap_or(""),
                None => line.split('=').next().unwrap_or(""),
            };
            key.matches('.').count() + 1 >= TOML_DEPTH
        })
        .map(|i| i + 1)
}

/// A serde or TOML message in the schema's words: the integer types by
/// their ranges, the recursion guard as what it means.
fn readable(message: &str) -> String {
    const WORDS: [(&str, &str); 7] = [
        ("expected u8", "expected an integer from 0 to 255"),
        ("expected u16", "expected an integer from 0 to 65535"),
        ("expected u32", "expected an integer from 0 to 4294967295"),
        (
            "expected u64",
            "expected an integer from 0 to 18446744073709551615",
        ),
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        (
            "cannot recurse further; max recursion depth met",
            "nested more than 80 levels deep (a scenario nests at most 5)",
        ),
    ];
    let mut out = message.to_string();
    for (from, to) in WORDS {
        out = out.replace(from, to);
    }
    out
}

/// Parses a scenario already read into a TOML table: how sweeps build each
/// variant after editing one value (`source_bytes`: the size of the file it
/// came from, which each point's copy of the table takes again), with
/// `positions` (CSV text) in place of the file `accounts.positions` names,
/// as [`parse_with_positions`]. Errors name the key but no line.
pub fn parse_table(
    table: toml::Table,
    base: Option<&Path>,
    bounds: &Bounds,
    source_bytes: usize,
    positions: Option<&str>,
) -> Result<Scenario, FileError> {
    let file: FileScenario =
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| FileError {
                key: None,
                at: None,
                message: readable(e.message().trim()),
            })?;
    build(file, base, bounds, source_bytes, positions)
}

/// Byte offset of the deepest part of `key` (such as `assets[1] (ETH).venue.fee`)
/// present in the document: the value if it is there, else the nearest
/// enclosing table.
fn locate(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut at = None;
    let mut table = Some(root.get_ref());
    for part in key.split('.') {
        let part = part.split(" (").next().unwrap_or(part);
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some(entry) = table.and_then(|t| {
            t.iter()
                .find(|(k, _)| k.get_ref().as_ref() == name)
                .map(|(_, v)| v)
        }) else {
            break;
        };
        at = Some(entry.span().start);
        let mut value = entry.get_ref();
        if let (Some(i), DeValue::Array(items)) = (index, value) {
            let Some(item) = items.get(i) else {
                break;
            };
            at = Some(item.span().start);
            value = item.get_ref();
        }
        table = match value {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    at
}

/// Text that names something (the scenario, an asset): shown in reports,
/// and an asset's name in CSV headers and plot labels. No control
/// characters; an asset's name is also not empty, has no comma or double
/// quote, and no space at either end.
fn check_name(key: &str, text: &str, asset: bool) -> Result<(), FileError> {
    if text.chars().any(char::is_control) {
        return Err(fail(
            key,
            "has a control character (a newline, a tab...): names are one line of text",
        ));
    }
    if !asset {
        return Ok(());
    }
    if text.is_empty() {
        return Err(fail(key, "an asset's name cannot be empty"));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(fail(
            key,
            format!("an asset's name is at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if text.contains([',', '"']) {
        return Err(fail(
            key,
            format!("`{text}`: an asset's name cannot hold a comma or a double quote (it heads CSV columns)"),
        ));
    }
    if text.trim() != text {
        return Err(fail(
            key,
            format!("`{text}`: an asset's name cannot start or end with a space"),
        ));
    }
    Ok(())
}

fn build(
    file: FileScenario,
    base: Option<&Path>,
    bounds: &Bounds,
    source_bytes: usize,
    positions_text: Option<&str>,
) -> Result<Scenario, FileError> {
    if let Some(name) = &file.name {
        check_name("name", name, false)?;
    }
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
        check_name(&format!("{key}.name"), &a.name, true)?;
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
    if file.max_rounds > bounds.round_limit {
        return Err(fail(
            "max_rounds",
            format!(
                "{} rounds is more than the round limit of {} (--round-limit raises it): the kernel runs every round to the last shock and on to a fixed point, empty rounds too",
                file.max_rounds, bounds.round_limit
            ),
        ));
    }
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
        if s.round > file.max_rounds {
            return Err(fail(
                format!("{key}.round"),
                format!(
                    "round {} is after the round cap (max_rounds = {}): the shock would never be applied",
                    s.round, file.max_rounds
                ),
            ));
        }
        shocks.push(Shock {
            round: s.round,
            asset: u8::try_from(asset).unwrap_or(u8::MAX),
            kind,
        });
    }
    let limits = limits(&file)?;
    let n = assets.len();
    let mut scenario = Scenario {
        name: file.name.clone().unwrap_or_else(|| "scenario".into()),
        asset_names: names.clone(),
        limits,
        assets,
        policy,
        max_rounds: file.max_rounds,
        oracle_lag_rounds: file.oracle_lag_rounds,
        insurance_fund: Value(file.insurance_fund.fx("insurance_fund")?),
        shocks,
        balances: Vec::new(),
    };
    // The market on its own first: a price of zero is named here, before
    // any account is generated from it.
    preflight::validate_market(&scenario)?;

    // Count every account, and what they will take, before allocating any.
    let book = match (positions_text, &file.accounts.positions) {
        (Some(text), _) => Some(
            positions::read_text(text, n, &index_of, bounds)
                .map_err(|e| fail("accounts.positions", e))?,
        ),
        (None, Some(path)) => Some(
            positions::read(path, base, n, &index_of, bounds)
                .map_err(|e| fail("accounts.positions", e))?,
        ),
        (None, None) => None,
    };
    let populations: Vec<(String, Population)> = match &file.accounts.population {
        None => Vec::new(),
        Some(Populations::One(p)) => {
            let key = "accounts.population".to_string();
            vec![(key.clone(), population(p, &key, &index_of)?)]
        }
        Some(Populations::Many(list)) => list
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let key = format!("accounts.population[{i}]");
                population(p, &key, &index_of).map(|p| (key, p))
            })
            .collect::<Result<_, _>>()?,
    };
    let mut parts: Vec<(String, u64)> = Vec::new();
    if !file.accounts.list.is_empty() {
        parts.push(("accounts.list".into(), file.accounts.list.len() as u64));
    }
    if let Some(book) = &book {
        parts.push(("accounts.positions".into(), book.accounts()));
    }
    for (key, p) in &populations {
        parts.push((key.clone(), p.accounts()));
    }
    let total = parts.iter().fold(0u64, |t, (_, c)| t.saturating_add(*c));
    if total == 0 {
        return Err(fail(
            "accounts",
            "no accounts: give accounts.list, accounts.positions or accounts.population",
        ));
    }
    let listing = || {
        parts
            .iter()
            .map(|(key, count)| format!("{key}: {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if total > bounds.max_accounts {
        return Err(fail(
            "accounts",
            format!(
                "{total} accounts in all ({}) is more than the limit of {}",
                listing(),
                bounds.max_accounts
            ),
        ));
    }
    let needed = bounds::run_bytes(total, n as u64, u64::from(file.max_rounds), bounds.timeline)
        .saturating_add(parse_bytes(source_bytes))
        .saturating_add(book.as_ref().map_or(0, positions::Book::bytes));
    if needed > bounds.memory {
        return Err(fail(
            "accounts",
            format!(
                "this scenario may take {} ({total} accounts of {n} assets: {}; up to {} rounds{}), more than {}",
                show_bytes(needed),
                listing(),
                file.max_rounds,
                if bounds.timeline { " of timeline" } else { "" },
                bounds.budget_text()
            ),
        ));
    }
    let width = usize::try_from(total)
        .ok()
        .and_then(|t| t.checked_mul(n))
        .unwrap_or(usize::MAX);
    let mut balances: Vec<Qty> = Vec::new();
    balances.try_reserve_exact(width).map_err(|_| {
        fail(
            "accounts",
            format!("cannot allocate {} for the balances", show_bytes(needed)),
        )
    })?;
    let mut segments = Vec::new();
    if !file.accounts.list.is_empty() {
        segments.push(preflight::Segment {
            start: 0,
            origin: Origin::List,
        });
    }
    for (i, account) in file.accounts.list.iter().enumerate() {
        let start = balances.len();
        balances.resize(start + n, Qty::ZERO);
        for (name, value) in &account.balances.0 {
            let key = format!("accounts.list[{i}].balances.{name}");
            let asset = index_of(&key, name)?;
            if let Some(slot) = balances.get_mut(start + asset) {
                *slot = Qty(value.fx(&key)?);
            }
        }
    }
    if let Some(book) = book {
        let start = balances.len() / n;
        let labels = book.fill(&mut balances);
        segments.push(preflight::Segment {
            start,
            origin: Origin::Positions(labels),
        });
    }
    for (key, population) in populations {
        let start = balances.len() / n;
        population
            .generate_into(&scenario.assets, &mut balances)
            .map_err(|e| fail(&key, e))?;
        segments.push(preflight::Segment {
            start,
            origin: Origin::Population(key),
        });
    }
    scenario.balances = balances;
    preflight::validate(&mut scenario, &segments)?;
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
    index_of: &dyn Fn(&str, &str) -> Result<usize, FileError>,
) -> Result<Population, FileError> {
    let key_of = |field: &str| format!("{key}.{field}");
    if p.count == 0 || p.count > MAX_ACCOUNTS {
        return Err(fail(
            key_of("count"),
            format!("must be between 1 and {MAX_ACCOUNTS}"),
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
    let share = p.lenders.0;
    if !(share > 0.0 && share < 1.0) {
        return Err(fail(
            key_of("lenders"),
            "the lenders' share must be in (0, 1): someone lends what positions borrow",
        ));
    }
    let mut population = Population::lending(p.count as usize, p.seed, 0);
    population.lender_share = share;
    match population.lenders() {
        0 => {
            return Err(fail(
                key_of("lenders"),
                format!("{share} of {} accounts rounds to no lender: nobody would lend what the positions borrow", p.count),
            ))
        }
        l if l >= population.count => {
            return Err(fail(
                key_of("lenders"),
                format!("{share} of {} accounts rounds to {l} lenders and no position", p.count),
            ))
        }
        _ => {}
    }
    population.side = side;
    population.assets = assets;
    population.margin = match p.margin {
        FileMargin::Cross => Margin::Cross,
        FileMargin::Isolated => Margin::Isolated,
    };
    if let Some(size) = &p.size {
        let (min, alpha, max) = (size.min.0, size.alpha.0, size.max.0);
        let valid = min > 0.0 && alpha > 0.0 && max >= min;
        if !(valid && max.is_finite() && alpha.is_finite() && max < 1e15) {
            return Err(fail(
                key_of("size"),
                "need 0 < min <= max < 1e15 and alpha > 0",
            ));
        }
        population.size = Size { min, alpha, max };
    }
    population.leverage = match (&p.health_factor, &p.leverage) {
        (Some(_), Some(_)) => {
            return Err(fail(key, "give health_factor or leverage, not both"));
        }
        (Some(h), None) if h.valid() => Leverage::HealthFactor {
            min: h.min.0,
            max: h.max.0,
        },
        (Some(_), None) => {
            return Err(fail(
                key_of("health_factor"),
                "need 1 < min <= max < 1e6 (below 1 the account starts liquidatable)",
            ));
        }
        (None, Some(l)) if l.valid() => Leverage::Notional {
            min: l.min.0,
            max: l.max.0,
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
        // Auctions act under absorb: the engine refuses them under another
        // policy (`preflight::engine_runs`).
        let auctioned = parse(
            &example()
                .replace("policy = \"to-target\"", "policy = \"absorb\"")
                .replace(
                    "name = \"ETH\"\n",
                    "name = \"ETH\"\nauction = { buf = 1.2, curve = \"stairstep\", cut = 0.99, step_rounds = 2, tail_rounds = 30 }\n",
                ),
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

//! Scenarios from arbitrary bytes, for fuzzing and for replaying the fuzz
//! corpus in stable tests. Every byte string decodes to some scenario (short
//! input reads as zeros), so a fuzzer explores markets rather than a parser.

use firesale_core::num::Fx;
use firesale_core::{
    AdlRanking, AssetConfig, AssetLimits, AuctionCurve, AuctionRule, Backstop, Breaker,
    KeeperCapital, OracleRule, Policy, Price, Qty, Ratio, Shock, ShockKind, Value, VenueConfig,
};
use firesale_harness::scenario::{risky, Limits};
use firesale_harness::Scenario;

/// Reads numbers off a byte string through `arbitrary`'s `Unstructured`,
/// zeros past its end.
pub struct Reader<'a> {
    bytes: arbitrary::Unstructured<'a>,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            bytes: arbitrary::Unstructured::new(data),
        }
    }
    /// The next byte.
    pub fn u8(&mut self) -> u8 {
        self.bytes.arbitrary().unwrap_or(0)
    }
    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    /// A value in `[low, high]` from two bytes.
    pub fn unit(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * f64::from(self.u16()) / f64::from(u16::MAX)
    }
}

fn venue(r: &mut Reader<'_>, price: f64) -> VenueConfig {
    let resilience = Ratio::from_f64(r.unit(0.0, 1.0));
    let floor = Price::from_f64(price * r.unit(0.001, 0.5));
    match r.u8() % 5 {
        0 => VenueConfig::Linear {
            lambda: Fx::from_num(price * r.unit(1e-5, 0.05)),
            resilience,
            floor,
        },
        1 => VenueConfig::Exponential {
            depth: Qty::from_f64(r.unit(10.0, 50_000.0)),
            resilience,
            floor,
        },
        2 => VenueConfig::SquareRoot {
            y_sigma: Ratio::from_f64(r.unit(0.01, 2.0)),
            volume: Qty::from_f64(r.unit(10.0, 100_000.0)),
            resilience,
            floor,
        },
        3 => VenueConfig::ConstantProduct {
            base_reserve: Qty::from_f64(r.unit(10.0, 50_000.0)),
            fee: Ratio::from_f64(r.unit(0.0, 0.05)),
            resilience,
        },
        _ => {
            let levels = 1 + r.u8() % 16;
            VenueConfig::OrderBook {
                levels,
                tick: Ratio::from_f64(r.unit(0.0005, 0.9 / f64::from(levels))),
                depth: Qty::from_f64(r.unit(0.5, 5_000.0)),
                resilience,
            }
        }
    }
}

/// Decodes a scenario: 1 to 3 risky assets of any venue kind, any policy,
/// 1 to 16 accounts long and short, up to 8 shocks of either sign.
pub fn scenario(data: &[u8]) -> (Scenario, Vec<u32>) {
    let mut r = Reader::new(data);
    let risky_assets = 1 + usize::from(r.u8() % 3);
    let mut assets = vec![AssetConfig::quote()];
    for _ in 0..risky_assets {
        let price = r.unit(0.01, 10_000.0);
        let maint = r.unit(0.3, 0.95);
        let liq_end = maint * r.unit(0.8, 1.0);
        let init = liq_end * r.unit(0.8, 1.0);
        // Keep maint·(1 + bonus) below 1 (the engine refuses more).
        let bonus = (1.0 / maint - 1.0) * r.unit(0.0, 0.95);
        let venue = venue(&mut r, price);
        let mut asset = risky(price, [init, liq_end, maint], bonus.min(0.5), venue);
        asset.protocol_fee = Ratio::from_f64(r.unit(0.0, 1.0));
        asset.dust = Qty::from_f64(r.unit(1e-9, 1.0));
        assets.push(asset);
    }
    let policy = match r.u8() % 3 {
        0 => Policy::Absorb,
        1 => Policy::CloseFactor {
            close_factor: Ratio::from_f64(r.unit(0.01, 1.0)),
            full_close_health_factor: Ratio::from_f64(r.unit(0.01, 1.0)),
            full_close_debt_value: Value::from_f64(r.unit(0.0, 10_000.0)),
        },
        _ => Policy::ToTarget,
    };
    let accounts = 1 + usize::from(r.u8() % 16);
    let mut balances = Vec::with_capacity(accounts * assets.len());
    for _ in 0..accounts {
        for asset in &assets {
            let scale = 1_000.0 / asset.price.to_f64();
            balances.push(Qty::from_f64(r.unit(-scale, scale)));
        }
    }
    let mut shocks = Vec::new();
    let mut round = 1;
    for _ in 0..(r.u8() % 9) {
        round += u32::from(r.u8() % 4);
        let asset = 1 + r.u8() % risky_assets as u8;
        let price = assets[usize::from(asset)].price.to_f64();
        let kind = match r.u8() % 4 {
            0 => ShockKind::MovePrice(Ratio::from_f64(r.unit(0.01, 3.0))),
            1 => ShockKind::SetPrice(Price::from_f64(price * r.unit(0.01, 3.0))),
            2 => ShockKind::Sell(Qty::from_f64(r.unit(0.001, 1_000.0 / price.max(0.01)))),
            _ => ShockKind::Buy(Qty::from_f64(r.unit(0.001, 1_000.0 / price.max(0.01)))),
        };
        shocks.push(Shock { round, asset, kind });
    }
    let budgets = (0..4).map(|_| 1 + u32::from(r.u8() % 8)).collect();
    let mut scenario = Scenario {
        asset_names: Vec::new(),
        limits: Default::default(),
        name: "fuzz".into(),
        assets,
        policy,
        max_rounds: 1 + u32::from(r.u8()),
        oracle_lag_rounds: r.u8() % 4,
        insurance_fund: Value::from_f64(r.unit(0.0, 5_000.0)),
        shocks,
        balances,
    };
    // Read last, so inputs that end before it (the older corpus) decode to
    // the plain engine.
    scenario.limits = limits(&mut r, scenario.assets.len());
    (scenario, budgets)
}

fn auction(r: &mut Reader<'_>) -> AuctionRule {
    let curve = if r.u8().is_multiple_of(2) {
        AuctionCurve::Linear {
            rounds: 1 + u32::from(r.u8() % 20),
        }
    } else {
        AuctionCurve::Stairstep {
            cut: Ratio::from_f64(r.unit(0.3, 0.99)),
            step_rounds: 1 + u32::from(r.u8() % 4),
        }
    };
    AuctionRule {
        buf: Ratio::from_f64(r.unit(1.0, 1.5)),
        curve,
        tail_rounds: 1 + u32::from(r.u8() % 30),
        cusp: Ratio::from_f64(r.unit(0.0, 0.9)),
        penalty: Ratio::from_f64(r.unit(0.0, 0.2)),
        tip: Value::from_f64(r.unit(0.0, 50.0)),
        chip: Ratio::from_f64(r.unit(0.0, 0.01)),
    }
}

/// Containment from the bytes: the first byte's bits switch mechanisms on.
fn limits(r: &mut Reader<'_>, assets: usize) -> Limits {
    let on = r.u8();
    let mut limits = Limits::default();
    if on & 1 != 0 {
        limits.rate_limit.max_accounts_per_round = 1 + u32::from(r.u8() % 8);
    }
    if on & 2 != 0 {
        limits.rate_limit.max_notional_per_round = Some(Value::from_f64(r.unit(1.0, 5_000.0)));
    }
    if on & 4 != 0 {
        let initial = Value::from_f64(r.unit(0.0, 5_000.0));
        limits.keepers = Some(KeeperCapital {
            initial,
            replenish_per_round: Value::from_f64(r.unit(0.0, 1_000.0)),
            max: initial
                .add(Value::from_f64(r.unit(1.0, 5_000.0)))
                .unwrap_or(initial),
        });
    }
    if on & 8 != 0 {
        limits.oracle = OracleRule {
            twap_rounds: 1 + r.u8() % 8,
            heartbeat_rounds: 1 + r.u8() % 6,
            deviation: Ratio::from_f64(r.unit(0.0, 0.5)),
            max_age_rounds: r.u8() % 5,
        };
    }
    if on & 32 != 0 {
        limits.backstop = Some(Backstop {
            below: Ratio::from_f64(r.unit(0.05, 1.0)),
        });
    }
    if on & 64 != 0 {
        limits.deleveraging = Some(if r.u8().is_multiple_of(2) {
            AdlRanking::Ranked
        } else {
            AdlRanking::ProRata
        });
    }
    if on & 16 != 0 {
        limits.per_asset = (0..assets)
            .map(|asset| AssetLimits {
                breaker: (asset > 0 && r.u8() % 2 == 1).then(|| Breaker {
                    max_move: Ratio::from_f64(r.unit(0.01, 0.6)),
                    window_rounds: 1 + r.u8() % 6,
                    pause_rounds: 1 + r.u8() % 6,
                }),
                max_notional_per_round: (r.u8() % 2 == 1)
                    .then(|| Value::from_f64(r.unit(1.0, 3_000.0))),
                auction: (asset > 0 && r.u8() % 2 == 1).then(|| auction(r)),
            })
            .collect();
    }
    limits
}

/// A raw fixed-point number: any bit pattern.
fn raw(r: &mut Reader<'_>) -> Fx {
    let mut bytes = [0u8; 16];
    for b in bytes.iter_mut() {
        *b = r.u8();
    }
    // Mostly plausible magnitudes, sometimes anything at all.
    let bits = i128::from_le_bytes(bytes);
    match r.u8() % 4 {
        0 => Fx::from_bits(bits),
        1 => Fx::from_bits(bits >> 60),
        2 => Fx::from_bits(bits >> 80),
        _ => Fx::from_bits((bits >> 100).abs() << 40),
    }
}

/// A configuration with every parameter an arbitrary number, valid or not:
/// for the validation fuzz target. Asset 0 is sometimes not the quote.
pub fn raw_scenario(data: &[u8]) -> Scenario {
    let mut r = Reader::new(data);
    let assets_count = 1 + usize::from(r.u8() % 5);
    let mut assets = Vec::new();
    for i in 0..assets_count {
        let weights = |r: &mut Reader<'_>| firesale_core::Weights {
            init: Ratio(raw(r)),
            liq_end: Ratio(raw(r)),
            maint: Ratio(raw(r)),
        };
        let venue = match r.u8() % 7 {
            0 => VenueConfig::Quote,
            1 => VenueConfig::Linear {
                lambda: raw(&mut r),
                resilience: Ratio(raw(&mut r)),
                floor: Price(raw(&mut r)),
            },
            2 => VenueConfig::Exponential {
                depth: Qty(raw(&mut r)),
                resilience: Ratio(raw(&mut r)),
                floor: Price(raw(&mut r)),
            },
            3 => VenueConfig::SquareRoot {
                y_sigma: Ratio(raw(&mut r)),
                volume: Qty(raw(&mut r)),
                resilience: Ratio(raw(&mut r)),
                floor: Price(raw(&mut r)),
            },
            4 => VenueConfig::ConstantProduct {
                base_reserve: Qty(raw(&mut r)),
                fee: Ratio(raw(&mut r)),
                resilience: Ratio(raw(&mut r)),
            },
            5 => VenueConfig::OrderBook {
                levels: r.u8(),
                tick: Ratio(raw(&mut r)),
                depth: Qty(raw(&mut r)),
                resilience: Ratio(raw(&mut r)),
            },
            _ if i == 0 => VenueConfig::Quote,
            _ => VenueConfig::Linear {
                lambda: Fx::ONE,
                resilience: Ratio::ZERO,
                floor: Price::ONE,
            },
        };
        assets.push(AssetConfig {
            price: Price(raw(&mut r)),
            asset_weights: weights(&mut r),
            liability_weights: weights(&mut r),
            liquidation_bonus: Ratio(raw(&mut r)),
            protocol_fee: Ratio(raw(&mut r)),
            dust: Qty(raw(&mut r)),
            venue,
        });
    }
    let policy = match r.u8() % 3 {
        0 => Policy::Absorb,
        1 => Policy::ToTarget,
        _ => Policy::CloseFactor {
            close_factor: Ratio(raw(&mut r)),
            full_close_health_factor: Ratio(raw(&mut r)),
            full_close_debt_value: Value(raw(&mut r)),
        },
    };
    let accounts = usize::from(r.u8() % 6);
    let balances = (0..accounts * assets_count + usize::from(r.u8() % 2))
        .map(|_| Qty(raw(&mut r)))
        .collect();
    let shocks = (0..r.u8() % 4)
        .map(|_| Shock {
            round: u32::from(r.u8() % 5),
            asset: r.u8() % 6,
            kind: match r.u8() % 4 {
                0 => ShockKind::SetPrice(Price(raw(&mut r))),
                1 => ShockKind::MovePrice(Ratio(raw(&mut r))),
                2 => ShockKind::Sell(Qty(raw(&mut r))),
                _ => ShockKind::Buy(Qty(raw(&mut r))),
            },
        })
        .collect();
    Scenario {
        asset_names: Vec::new(),
        limits: Default::default(),
        name: "raw".into(),
        assets,
        policy,
        max_rounds: u32::from(r.u8() % 20),
        oracle_lag_rounds: r.u8() % 20,
        insurance_fund: Value(raw(&mut r)),
        shocks,
        balances,
    }
}

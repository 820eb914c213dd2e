//! Link-time proof that the kernel, and the engine being rebuilt
//! (`firesale-next`), have no reachable panic.
//!
//! The panic handler calls `firesale_panic_is_reachable`, a symbol nothing
//! defines. `_start` calls every public entry point of the kernel with inputs
//! the optimiser cannot see through (`core::hint::black_box`). After LTO, any
//! panic path still reachable from `_start` references the undefined symbol
//! and the link fails, naming the function that can panic. A panic the
//! optimiser proved unreachable is removed, and only those are allowed.
//!
//! Build (release: the proof is about the optimised code):
//! `cd tests/panic-free && cargo build --release --target-dir ../../target/panic-free`
#![no_std]
#![no_main]

use core::hint::black_box;
use firesale_core::account::{self, WeightedPrice};
use firesale_core::digest::Digest;
use firesale_core::engine::{flag_words, Candidate, Checkpoint};
use firesale_core::ledger::{Book, Ledger};
use firesale_core::num::{self, Fx, Round};
use firesale_core::venue::{Venue, VenueConfig};
use firesale_core::{
    AdlRanking, AssetConfig, AssetLimits, AuctionCurve, AuctionRule, Backstop, Breaker,
    Containment, Engine, EngineConfig, HealthTier, KeeperCapital, OracleRule, Policy, Price, Qty,
    RateLimit, Ratio, Settlement, Shock, ShockKind, Storage, Value, Weights,
};

extern "C" {
    /// Defined nowhere: referencing it is what fails the link.
    fn firesale_panic_is_reachable() -> !;
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: never runs; the link fails first if this is reachable.
    unsafe { firesale_panic_is_reachable() }
}

const ASSETS: usize = 4;
const ACCOUNTS: usize = 8;

fn fx() -> Fx {
    black_box(Fx::from_bits(black_box(0x1234_5678_9abc_def0_i128)))
}

fn ratio() -> Ratio {
    Ratio(fx())
}

fn qty() -> Qty {
    Qty(fx())
}

fn price() -> Price {
    Price(fx())
}

fn venue_config(kind: u8) -> VenueConfig {
    match black_box(kind) % 6 {
        0 => VenueConfig::Quote,
        1 => VenueConfig::Linear {
            lambda: fx(),
            resilience: ratio(),
            floor: price(),
        },
        2 => VenueConfig::Exponential {
            depth: qty(),
            resilience: ratio(),
            floor: price(),
        },
        3 => VenueConfig::SquareRoot {
            y_sigma: ratio(),
            volume: qty(),
            resilience: ratio(),
            floor: price(),
        },
        4 => VenueConfig::ConstantProduct {
            base_reserve: qty(),
            fee: ratio(),
            resilience: ratio(),
        },
        _ => VenueConfig::OrderBook {
            levels: black_box(7),
            tick: ratio(),
            depth: qty(),
            resilience: ratio(),
        },
    }
}

fn asset(kind: u8) -> AssetConfig {
    let w = Weights {
        init: ratio(),
        liq_end: ratio(),
        maint: ratio(),
    };
    AssetConfig {
        price: price(),
        asset_weights: w,
        liability_weights: w,
        liquidation_bonus: ratio(),
        protocol_fee: ratio(),
        dust: qty(),
        venue: venue_config(kind),
    }
}

fn policy() -> Policy {
    match black_box(0u8) {
        0 => Policy::Absorb,
        1 => Policy::ToTarget,
        _ => Policy::CloseFactor {
            close_factor: ratio(),
            full_close_health_factor: ratio(),
            full_close_debt_value: Value(fx()),
        },
    }
}

fn shock() -> Shock {
    let kind = match black_box(0u8) {
        0 => ShockKind::SetPrice(price()),
        1 => ShockKind::MovePrice(ratio()),
        2 => ShockKind::Sell(qty()),
        _ => ShockKind::Buy(qty()),
    };
    Shock {
        round: black_box(1),
        asset: black_box(1),
        kind,
    }
}

fn numbers() {
    let round = if black_box(true) {
        Round::Down
    } else {
        Round::Up
    };
    let _ = black_box(num::mul(fx(), fx(), round));
    let _ = black_box(num::div(fx(), fx(), round));
    let _ = black_box(num::mul_div(fx(), fx(), fx(), round));
    let _ = black_box(num::sqrt(fx(), round));
    let _ = black_box(num::exp(fx()));
    let _ = black_box(qty().value_at(price(), round));
    let _ = black_box(Value(fx()).qty_at(price(), round));
    let _ = black_box(qty().scale(ratio(), round));
    let _ = black_box(qty().ratio_to(qty(), round));
    let _ = black_box((qty().add(qty()), qty().sub(qty()), qty().abs(), qty().neg()));
    let _ = black_box(Qty::parse(black_box("12.5")));
}

fn venues() {
    for kind in 0..6u8 {
        let config = venue_config(black_box(kind));
        let _ = black_box(asset(kind).validate(black_box(kind)));
        if let Ok(mut v) = Venue::new(&config, price(), qty()) {
            let _ = black_box(v.price());
            let _ = black_box(v.sell(qty()));
            let _ = black_box(v.buy(qty()));
            let _ = black_box(v.quote_buy(qty()));
            let _ = black_box(v.recover());
            let _ = black_box(v.move_price(price()));
            v.for_each_number(|x| {
                black_box(x);
            });
            black_box(&v);
        }
    }
}

fn accounts() {
    let a = asset(1);
    let stored = [qty(), qty(), qty()];
    let index = [ratio(), ratio(), ratio()];
    let tier = match black_box(0u8) {
        0 => HealthTier::Init,
        1 => HealthTier::LiqEnd,
        _ => HealthTier::Maint,
    };
    let w = WeightedPrice::new(&a, price(), tier).unwrap_or_default();
    let weighted = [w, w, w];
    if let Ok(h) = account::health(black_box(&stored), black_box(&index), black_box(&weighted)) {
        let _ = black_box((h.net(), h.factor()));
    }
    let _ = black_box(account::effective(qty(), ratio()));
    let _ = black_box(account::credit(qty(), qty(), ratio()));
    let _ = black_box(account::debit(qty(), qty(), ratio()));
}

fn books() {
    let mut ledger: Ledger = Ledger::default();
    let _ = black_box(ledger.transfer(black_box(3), Book::Accounts, Book::Venue, qty()));
    let _ = black_box(ledger.add_slack(black_box(3), fx()));
    let _ = black_box((
        ledger.balance(black_box(2), Book::BadDebt),
        ledger.sum(black_box(1)),
        ledger.slack(1),
    ));
    ledger.for_each_number(black_box(4), |x| {
        black_box(x);
    });
    let mut digest = Digest::default();
    digest.bytes(black_box(b"firesale"));
    digest.fx(fx());
    digest.u32(black_box(7));
    digest.u64(black_box(9));
    black_box(digest.finish());
    let _ = black_box(firesale_core::shock::validate_schedule(
        black_box(&[shock(), shock()]),
        black_box(3),
    ));
    let _ = black_box(policy().validate());
}

fn engine() {
    let assets: [AssetConfig; ASSETS] = [asset(0), asset(1), asset(4), asset(5)];
    let shocks = [shock(), shock(), shock()];
    let breaker = Breaker {
        max_move: Ratio(fx()),
        window_rounds: black_box(2),
        pause_rounds: black_box(3),
    };
    let limits = [AssetLimits {
        breaker: Some(breaker),
        max_notional_per_round: Some(Value(fx())),
        auction: Some(AuctionRule {
            buf: Ratio(fx()),
            curve: if black_box(true) {
                AuctionCurve::Linear {
                    rounds: black_box(5),
                }
            } else {
                AuctionCurve::Stairstep {
                    cut: Ratio(fx()),
                    step_rounds: black_box(2),
                }
            },
            tail_rounds: black_box(9),
            cusp: Ratio(fx()),
            penalty: Ratio(fx()),
            tip: Value(fx()),
            chip: Ratio(fx()),
        }),
    }; ASSETS];
    let containment = Containment {
        rate_limit: RateLimit {
            max_accounts_per_round: black_box(3),
            max_notional_per_round: Some(Value(fx())),
        },
        keepers: Some(KeeperCapital {
            initial: Value(fx()),
            replenish_per_round: Value(fx()),
            max: Value(fx()),
        }),
        oracle: OracleRule {
            twap_rounds: black_box(2),
            heartbeat_rounds: black_box(2),
            deviation: Ratio(fx()),
            max_age_rounds: black_box(1),
        },
        per_asset: black_box(&limits),
        backstop: Some(Backstop { below: Ratio(fx()) }),
        deleveraging: Some(if black_box(true) {
            AdlRanking::Ranked
        } else {
            AdlRanking::ProRata
        }),
        settlement: if black_box(true) {
            Settlement::Equilibrium
        } else {
            Settlement::Sequential
        },
    };
    let config = EngineConfig {
        assets: black_box(&assets),
        policy: policy(),
        max_rounds: black_box(100),
        oracle_lag_rounds: black_box(2),
        insurance_fund: Value(fx()),
        shocks: black_box(&shocks),
        containment: black_box(containment),
    };
    let mut balances = [Qty::ZERO; ACCOUNTS * ASSETS];
    balances.iter_mut().for_each(|b| *b = qty());
    let mut scratch = [Candidate::default(); ACCOUNTS];
    let mut flags = [0u32; flag_words(ACCOUNTS)];
    let mut checkpoint = Checkpoint::new();
    let storage = Storage {
        balances: black_box(&mut balances[..]),
        scratch: black_box(&mut scratch[..]),
        flags: black_box(&mut flags[..]),
        checkpoint: black_box(&mut checkpoint),
    };
    let Ok(mut engine) = Engine::<'_, ASSETS>::new(&config, storage) else {
        return;
    };
    let id = black_box(3usize);
    let _ = black_box(engine.step(black_box(17), &mut ()));
    let _ = black_box(engine.audit());
    let _ = black_box(engine.run(&mut ()));
    let _ = black_box((
        engine.digest(),
        engine.report().rounds,
        engine.ledger().sum(1),
    ));
    let _ = black_box((
        engine.health(id, HealthTier::Maint),
        engine.balance(id, 1),
        engine.stored_balances(id),
    ));
    let _ = black_box((
        engine.oracle_price(1),
        engine.venue(2).map(|v| v.base_in),
        engine.deposit_index(1),
    ));
    let _ = black_box((
        engine.termination(),
        engine.next_liquidation(),
        engine.insurance_fund(),
    ));
    let _ = black_box((engine.round(), engine.asset_count(), engine.account_count()));
}

/// The engine being rebuilt (`firesale-next`, issue 21): every venue kind,
/// policy and shock kind through `Engine::new`, `step`, `run`, the audit and
/// the digest, and the pieces it is built from.
mod next {
    use core::hint::black_box;
    use firesale_next::account::{self, Terms};
    use firesale_next::engine::{
        AssetConfig, AssetLimits, AuctionCurve, AuctionRule, Backstop, Breaker, Candidate,
        Containment, Deleveraging, Engine, EngineConfig, KeeperCapital, OracleRule, RankNode,
        Settlement, Shock, ShockKind, Snap, Storage, Weights,
    };
    use firesale_next::num::{Index, Price, Qty, Ratio, Value};
    use firesale_next::policy::Policy;
    use firesale_next::venue::{Slope, Venue, VenueConfig};

    const ASSETS: usize = 4;
    const ACCOUNTS: usize = 8;

    fn int() -> u64 {
        black_box(black_box(0x1234_5678_9abc_def0_u64))
    }

    fn ratio() -> Ratio {
        Ratio(int())
    }

    fn qty() -> Qty {
        Qty(int() as i64)
    }

    fn price() -> Price {
        Price::new(int(), black_box(12)).unwrap_or(Price::ONE)
    }

    fn venue(kind: u8) -> VenueConfig {
        match black_box(kind) % 6 {
            0 => VenueConfig::Quote,
            1 => VenueConfig::Linear {
                slope: Slope {
                    mantissa: int(),
                    exponent: black_box(3),
                },
                resilience: ratio(),
                floor: price(),
            },
            2 => VenueConfig::Exponential {
                depth: qty(),
                resilience: ratio(),
                floor: price(),
            },
            3 => VenueConfig::SquareRoot {
                y_sigma: ratio(),
                volume: qty(),
                resilience: ratio(),
                floor: price(),
            },
            4 => VenueConfig::ConstantProduct {
                base_reserve: qty(),
                fee: ratio(),
                resilience: ratio(),
            },
            _ => VenueConfig::OrderBook {
                levels: black_box(7),
                tick: ratio(),
                depth: qty(),
                resilience: ratio(),
            },
        }
    }

    fn asset(kind: u8) -> AssetConfig {
        let w = Weights {
            maint: ratio(),
            liq_end: ratio(),
        };
        AssetConfig {
            price: price(),
            asset_weights: w,
            liability_weights: w,
            liquidation_bonus: ratio(),
            protocol_fee: ratio(),
            dust: qty(),
            venue: venue(kind),
        }
    }

    fn shock() -> Shock {
        let kind = match black_box(0u8) {
            0 => ShockKind::SetPrice(price()),
            1 => ShockKind::MovePrice(ratio()),
            2 => ShockKind::Sell(qty()),
            _ => ShockKind::Buy(qty()),
        };
        Shock {
            round: black_box(1),
            asset: black_box(1),
            kind,
        }
    }

    pub fn all() {
        for kind in 0..6u8 {
            if let Ok(mut v) = Venue::<7>::new(&venue(kind), price(), qty()) {
                let _ = black_box((v.sell(qty()), v.buy(qty()), v.recover()));
                let _ = black_box((v.move_price(price()), v.price()));
            }
        }
        let terms = [Terms::new(price(), Index(int()), ratio(), ratio()).unwrap_or_else(|_| {
            Terms::new(Price::ONE, Index::ONE, Ratio::ONE, Ratio::ONE).unwrap_or_else(|_| loop {})
        }); 3];
        let row = [qty(), qty(), qty()];
        let _ = black_box(account::health(black_box(&row), black_box(&terms)));
        let assets: [AssetConfig; ASSETS] = [asset(0), asset(1), asset(4), asset(5)];
        let shocks = [shock(), shock(), shock()];
        let policy = match black_box(0u8) {
            0 => Policy::Absorb,
            1 => Policy::ToTarget,
            _ => Policy::CloseFactor {
                close_factor: ratio(),
                full_close_health_factor: ratio(),
                full_close_debt_value: Value(int() as i64),
            },
        };
        let limits = [AssetLimits {
            breaker: Some(Breaker {
                max_move: ratio(),
                window_rounds: int() as u8,
                pause_rounds: int() as u8,
            }),
            max_notional_per_round: Some(Value(int() as i64)),
            auction: Some(AuctionRule {
                buf: ratio(),
                curve: match black_box(int() % 2 == 0) {
                    true => AuctionCurve::Linear {
                        rounds: int() as u32,
                    },
                    false => AuctionCurve::Stairstep {
                        cut: ratio(),
                        step_rounds: int() as u32,
                    },
                },
                tail_rounds: int() as u32,
                cusp: ratio(),
                penalty: ratio(),
                tip: Value(int() as i64),
                chip: ratio(),
            })
            .filter(|_| int() != 0),
        }; 2];
        let config = EngineConfig {
            assets: black_box(&assets),
            policy,
            max_rounds: black_box(100),
            oracle_lag_rounds: black_box(2),
            insurance_fund: Value(int() as i64),
            shocks: black_box(&shocks),
            max_accounts_per_round: black_box(int() as u32),
            deleveraging: Some(match black_box(int() % 2 == 0) {
                true => Deleveraging::ProRata,
                false => Deleveraging::Ranked,
            })
            .filter(|_| int() != 0),
            containment: black_box(Containment {
                max_notional_per_round: Some(Value(int() as i64)).filter(|_| int() != 0),
                keepers: Some(KeeperCapital {
                    initial: Value(int() as i64),
                    replenish_per_round: Value(int() as i64),
                    max: Value(int() as i64),
                })
                .filter(|_| int() != 0),
                oracle: OracleRule {
                    twap_rounds: int() as u8,
                    heartbeat_rounds: int() as u8,
                    deviation: ratio(),
                    max_age_rounds: int() as u8,
                },
                per_asset: black_box(&limits),
                backstop: Some(Backstop { below: ratio() }).filter(|_| int() != 0),
                settlement: match black_box(int() % 2 == 0) {
                    true => Settlement::Sequential,
                    false => Settlement::Equilibrium,
                },
            }),
        };
        let mut balances = [Qty::ZERO; ACCOUNTS * ASSETS];
        balances.iter_mut().for_each(|b| *b = qty());
        let mut links = [0u32; Storage::link_words(ACCOUNTS)];
        let mut queue = [Candidate::default(); Storage::queue_slots(ACCOUNTS)];
        let mut snaps = [Snap::default(); Storage::snap_slots(ACCOUNTS, ASSETS)];
        let mut ranks = [RankNode::default(); Storage::rank_slots(ACCOUNTS)];
        let storage = Storage {
            balances: black_box(&mut balances[..]),
            links: black_box(&mut links[..]),
            queue: black_box(&mut queue[..]),
            snaps: black_box(&mut snaps[..]),
            ranks: black_box(&mut ranks[..]),
        };
        let _ = black_box(Engine::<'_, ASSETS, 7>::with(&config, storage, |e| {
            let _ = black_box(e.step(black_box(17), &mut ()));
            let _ = black_box(e.audit());
            let _ = black_box(e.run(&mut ()));
            let id = black_box(3usize);
            let _ = black_box((e.digest(), e.report().rounds, e.health(id), e.row(id)));
            let _ = black_box(e.balances_now(id));
            let _ = black_box((e.queued().count(), e.termination(), e.insurance_fund()));
        }));
    }
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    // PANIC_FREE_ONLY=<group> narrows the proof to one group, to find which
    // one a panic comes from.
    let only = option_env!("PANIC_FREE_ONLY");
    let run = |group: &str| only.is_none() || only == Some(group);
    if run("numbers") {
        numbers();
    }
    if run("venues") {
        venues();
    }
    if run("accounts") {
        accounts();
    }
    if run("books") {
        books();
    }
    if run("engine") {
        engine();
    }
    if run("next") {
        next::all();
    }
    loop {
        black_box(());
    }
}

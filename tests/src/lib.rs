//! Shared fixtures: generated markets that mix every venue kind, long and
//! short and cross-margined accounts, and shocks in both directions; and a
//! driver that steps a run and checks the kernel's invariants after each step.

pub mod bytes;
pub mod fuzzing;
pub mod next_bytes;
pub mod oracle;
pub mod scans;
pub mod strategies;

use firesale_core::account::Health;
use firesale_core::{
    Engine, Event, EventSink, HealthTier, Policy, Price, Qty, Ratio, Shock, ShockKind, StepOutcome,
    Termination, Value, VenueConfig,
};
use firesale_harness::rng::SplitMix64;
use firesale_harness::scenario::risky;
use firesale_harness::Scenario;

/// One venue of each kind, sized for a market of a few hundred accounts.
pub fn venue_kinds() -> Vec<(&'static str, VenueConfig)> {
    let r = |x| Ratio::from_f64(x);
    vec![
        (
            "linear",
            VenueConfig::Linear {
                lambda: firesale_core::num::Fx::from_num(0.02),
                resilience: r(0.3),
                floor: Price::from_f64(0.5),
            },
        ),
        (
            "exponential",
            VenueConfig::Exponential {
                depth: Qty::from_int(4_000),
                resilience: r(0.3),
                floor: Price::from_f64(0.5),
            },
        ),
        (
            "square-root",
            VenueConfig::SquareRoot {
                y_sigma: r(0.6),
                volume: Qty::from_int(20_000),
                resilience: r(0.3),
                floor: Price::from_f64(0.5),
            },
        ),
        (
            "constant-product",
            VenueConfig::ConstantProduct {
                base_reserve: Qty::from_int(3_000),
                fee: r(0.003),
                resilience: r(0.3),
            },
        ),
        (
            "order-book",
            VenueConfig::OrderBook {
                levels: 16,
                tick: r(0.01),
                depth: Qty::from_int(60),
                resilience: r(0.3),
            },
        ),
    ]
}

/// The three policies.
pub fn policies() -> Vec<(&'static str, Policy)> {
    vec![
        ("absorb", Policy::Absorb),
        ("close-factor", Policy::aave_like()),
        ("to-target", Policy::ToTarget),
    ]
}

/// Quote, ETH (at 100, on `eth_venue`) and BTC (at 50, on `btc_venue`), with
/// `n` accounts: a tenth lenders of every asset, then longs, shorts and
/// cross-margined accounts with leverage near their limits. ETH falls 25% in
/// round 1; BTC jumps 30% in round 3; an outside seller dumps ETH in round 5.
pub fn mixed_market(
    seed: u64,
    n: usize,
    eth_venue: VenueConfig,
    btc_venue: VenueConfig,
    policy: Policy,
) -> Scenario {
    let eth = risky(100.0, [0.75, 0.8, 0.85], 0.05, eth_venue);
    let btc = risky(50.0, [0.7, 0.75, 0.8], 0.08, btc_venue);
    let mut rng = SplitMix64::new(seed);
    let mut balances = Vec::with_capacity(n * 3);
    for i in 0..n {
        let size = rng.pareto(1.0, 1.5).min(60.0);
        let hf = rng.range(1.02, 1.6);
        let row = match i % 10 {
            0 => [10_000.0, 100.0, 200.0],
            1..=4 => [-(size * 100.0 * 0.85 / hf), size, 0.0],
            5..=6 => [
                size * 50.0 * 1.0,
                0.0,
                -(size * 50.0 / (1.2 * 50.0 * hf)) * 50.0 / 50.0,
            ],
            7 => [size * 100.0, -(size * 100.0 / (1.15 * 100.0 * hf)), 0.0],
            _ => [
                -(size * (100.0 * 0.85 + 2.0 * 50.0 * 0.8) / hf),
                size,
                2.0 * size,
            ],
        };
        balances.extend(row.map(Qty::from_f64));
    }
    Scenario {
        asset_names: Vec::new(),
        limits: Default::default(),
        name: format!("mixed-{seed}"),
        assets: vec![firesale_core::AssetConfig::quote(), eth, btc],
        policy,
        max_rounds: 300,
        oracle_lag_rounds: (seed % 3) as u8,
        insurance_fund: Value::from_int(5_000),
        shocks: vec![
            Shock {
                round: 1,
                asset: 1,
                kind: ShockKind::MovePrice(Ratio::from_f64(0.75)),
            },
            Shock {
                round: 3,
                asset: 2,
                kind: ShockKind::MovePrice(Ratio::from_f64(1.3)),
            },
            Shock {
                round: 5,
                asset: 1,
                kind: ShockKind::Sell(Qty::from_int(40)),
            },
        ],
        balances,
    }
}

/// Records every event.
#[derive(Default, Debug)]
pub struct Log(pub Vec<Event>);

impl EventSink for Log {
    fn emit(&mut self, e: &Event) {
        self.0.push(*e);
    }
}

pub use firesale_harness::run::{config, engine, Buffers};

/// What a checked run saw.
#[derive(Debug)]
pub struct Checked {
    /// Why it ended.
    pub termination: Termination,
    /// Final digest.
    pub digest: u64,
    /// Every event.
    pub events: Vec<Event>,
    /// Steps taken.
    pub steps: u64,
    /// The report.
    pub report: firesale_core::Report,
}

fn maint(e: &Engine<'_>, id: usize) -> Value {
    // Health that overflows is a failed run the engine reports itself;
    // read it as the most negative value so the checks stay meaningful.
    let h: Option<Health> = e.health(id, HealthTier::Maint);
    h.and_then(|h| h.net().ok())
        .unwrap_or(Value(firesale_core::num::Fx::MIN))
}

/// [`try_run_checked`] on a scenario known to be valid.
pub fn run_checked(s: &Scenario, budgets: &[u32]) -> Checked {
    try_run_checked(s, budgets).expect("fixture scenarios are valid")
}

/// Runs with budgets from `budgets` (cycled, none zero), and after every step
/// checks: the conservation audit; that no liquidated account's maintenance
/// health fell; that no invariant error ended the run; and at a fixed point,
/// that no account is left liquidatable. Panics on a violation; returns the
/// configuration error of an invalid scenario.
pub fn try_run_checked(s: &Scenario, budgets: &[u32]) -> Result<Checked, firesale_core::Error> {
    let mut buffers = Buffers::new(s);
    let mut e = engine(s, &mut buffers)?;
    let mut log = Log::default();
    let mut steps = 0u64;
    let mut at = 0usize;
    loop {
        let budget = budgets[at % budgets.len()].max(1);
        at += 1;
        let seen = log.0.len();
        // With a budget of one, the unit is one account's liquidation.
        let watched = if budget == 1 {
            e.next_liquidation()
        } else {
            None
        };
        let health_before = watched.map(|id| maint(&e, id as usize));
        let outcome = e.step(budget, &mut log);
        steps += 1;
        if let Err(err) = e.audit() {
            panic!("audit failed after step {steps}: {err:?}");
        }
        if let (Some(id), Some(before)) = (watched, health_before) {
            let after = maint(&e, id as usize);
            assert!(after >= before, "account {id}: health {before} -> {after}");
            for ev in &log.0[seen..] {
                if let Event::Liquidation { account, .. } | Event::Bankruptcy { account, .. } = ev {
                    assert_eq!(*account, id, "one unit liquidates one account");
                }
            }
        }
        if let StepOutcome::Done(termination) = outcome {
            if let Termination::Failed(firesale_core::Error::Invariant(broken)) = termination {
                panic!("the kernel reported a broken invariant: {broken:?}");
            }
            if termination == Termination::FixedPoint {
                for id in 0..e.account_count() {
                    assert!(
                        !maint(&e, id).is_negative(),
                        "account {id} is liquidatable at the fixed point"
                    );
                }
            }
            let report = *e.report();
            return Ok(Checked {
                termination,
                digest: e.digest(),
                events: log.0,
                steps,
                report,
            });
        }
        assert!(steps < 10_000_000, "the run does not end");
    }
}

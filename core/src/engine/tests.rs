//! Hand-computed cases for each policy, the waterfall and the engine loop.

use super::*;
use crate::asset::Weights;
use crate::error::Invariant;
use crate::event::Event;
use crate::num::Fx;
use crate::venue::VenueConfig;

/// USDC (quote) and ETH at 100 on a linear venue with λ = 0.1.
fn market(lambda: f64, resilience: f64) -> [AssetConfig; 2] {
    let eth = AssetConfig {
        price: Price::from_int(100),
        asset_weights: Weights {
            init: Ratio::from_f64(0.6),
            liq_end: Ratio::from_f64(0.7),
            maint: Ratio::from_f64(0.8),
        },
        liability_weights: Weights {
            init: Ratio::from_f64(1.4),
            liq_end: Ratio::from_f64(1.3),
            maint: Ratio::from_f64(1.2),
        },
        liquidation_bonus: Ratio::from_f64(0.05),
        protocol_fee: Ratio::ZERO,
        dust: Qty::from_f64(0.000_001),
        venue: VenueConfig::Linear {
            lambda: Fx::from_num(lambda),
            resilience: Ratio::from_f64(resilience),
            floor: Price::from_f64(0.01),
        },
    };
    [AssetConfig::quote(), eth]
}

#[derive(Default)]
struct Log(std::vec::Vec<Event>);

impl EventSink for Log {
    fn emit(&mut self, e: &Event) {
        self.0.push(*e);
    }
}

extern crate std;

/// A configuration without containment or oracle lag.
fn plain_config<'a>(
    assets: &'a [AssetConfig],
    policy: Policy,
    insurance: Value,
    shocks: &'a [Shock],
    max_rounds: u32,
) -> EngineConfig<'a> {
    EngineConfig {
        assets,
        policy,
        max_rounds,
        oracle_lag_rounds: 0,
        insurance_fund: insurance,
        shocks,
        containment: crate::Containment::OFF,
    }
}

/// Caller storage for an engine of capacity `A`, sized as an embedder
/// sizes it for `balances`, `assets` to an account.
struct Buffers<const A: usize> {
    balances: std::vec::Vec<Qty>,
    scratch: std::vec::Vec<Candidate>,
    flags: std::vec::Vec<u32>,
    checkpoint: Checkpoint<A>,
}

impl<const A: usize> Buffers<A> {
    fn new(balances: &[Qty], assets: usize) -> Self {
        let accounts = balances.len() / assets;
        Self {
            balances: balances.to_vec(),
            scratch: std::vec![Candidate::default(); accounts],
            flags: std::vec![0u32; flag_words(accounts)],
            checkpoint: Checkpoint::new(),
        }
    }

    fn storage(&mut self) -> Storage<'_, A> {
        Storage {
            balances: &mut self.balances,
            scratch: &mut self.scratch,
            flags: &mut self.flags,
            checkpoint: &mut self.checkpoint,
        }
    }
}

struct Run {
    termination: Termination,
    report: Report,
    events: std::vec::Vec<Event>,
    balances: std::vec::Vec<Qty>,
}

fn run(
    assets: &[AssetConfig],
    policy: Policy,
    insurance: i64,
    shocks: &[Shock],
    balances: &[Qty],
) -> Run {
    let mut buffers = Buffers::<MAX_ASSETS>::new(balances, assets.len());
    let config = plain_config(assets, policy, Value::from_int(insurance), shocks, 50);
    let mut engine = Engine::new(&config, buffers.storage()).unwrap();
    let mut log = Log::default();
    loop {
        let outcome = engine.step(1, &mut log);
        engine.audit().unwrap();
        if let StepOutcome::Done(termination) = outcome {
            let report = *engine.report();
            drop(engine);
            return Run {
                termination,
                report,
                events: log.0,
                balances: buffers.balances,
            };
        }
    }
}

fn drop_to(ratio: f64) -> [Shock; 1] {
    [fall(1, ratio)]
}

fn liquidations(events: &[Event]) -> std::vec::Vec<(u32, Qty, Qty)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Liquidation {
                account,
                repaid,
                seized,
                ..
            } => Some((*account, *repaid, *seized)),
            _ => None,
        })
        .collect()
}

fn close(a: Qty, b: f64) -> bool {
    (a.to_f64() - b).abs() < 1e-9
}

#[test]
fn to_target_repays_the_least_that_restores_liquidation_end_health() {
    // 10 ETH, 790 USDC debt. ETH 100 → 90: maint 720 − 790 < 0.
    // Liq-end health 0.7·900 − 790 = −160; each USDC repaid gains
    // 1 − 1.05·0.7 = 0.265, so r = 160 / 0.265 and s = r·1.05 / 90.
    let r = run(
        &market(0.1, 0.0),
        Policy::ToTarget,
        0,
        &drop_to(0.9),
        &[Qty::from_int(-790), Qty::from_int(10)],
    );
    let steps = liquidations(&r.events);
    assert_eq!(steps.len(), 1);
    let (_, repaid, seized) = steps[0];
    let want_r = 160.0 / 0.265;
    assert!(close(repaid, want_r), "repaid {repaid}");
    assert!(close(seized, want_r * 1.05 / 90.0), "seized {seized}");
    let eth_left = 10.0 - seized.to_f64();
    let debt_left = 790.0 - want_r;
    assert!(
        (0.7 * eth_left * 90.0 - debt_left).abs() < 1e-6,
        "liquidation-end health restored to zero"
    );
    assert_eq!(r.termination, Termination::FixedPoint);
    assert_eq!(
        r.report.rounds, 2,
        "round 2 finds nothing and nothing moves"
    );
}

#[test]
fn close_factor_repays_half_above_the_full_close_threshold_and_all_below() {
    let policy = Policy::CloseFactor {
        close_factor: Ratio::from_f64(0.5),
        full_close_health_factor: Ratio::from_f64(0.95),
        full_close_debt_value: Value::from_int(100),
    };
    // HF = 0.8·900 / 745 = 0.966 > 0.95: half of 745.
    let half = run(
        &market(0.1, 0.0),
        policy,
        0,
        &drop_to(0.9),
        &[Qty::from_int(-745), Qty::from_int(10)],
    );
    let (_, repaid, seized) = liquidations(&half.events)[0];
    assert!(close(repaid, 372.5));
    assert!(close(seized, 372.5 * 1.05 / 90.0));
    // HF = 720 / 790 = 0.911 <= 0.95: the whole debt.
    let full = run(
        &market(0.1, 0.0),
        policy,
        0,
        &drop_to(0.9),
        &[Qty::from_int(-790), Qty::from_int(10)],
    );
    let (_, repaid, seized) = liquidations(&full.events)[0];
    assert!(close(repaid, 790.0));
    assert!(close(seized, 790.0 * 1.05 / 90.0));
}

#[test]
fn absorb_takes_all_collateral_and_the_waterfall_covers_the_rest() {
    // ETH 100 → 50: 10 ETH cover 500 / 1.05 = 476.19 of 950 debt.
    // The rest, 473.81, is bad debt: the fund pays 100, the lender of
    // 10,000 USDC absorbs 373.81 through the deposit index.
    let balances = [
        Qty::from_int(-950),
        Qty::from_int(10),
        Qty::from_int(10_000),
        Qty::ZERO,
    ];
    let r = run(
        &market(0.1, 0.0),
        Policy::Absorb,
        100,
        &drop_to(0.5),
        &balances,
    );
    let (account, repaid, seized) = liquidations(&r.events)[0];
    assert_eq!(account, 0);
    assert!(close(seized, 10.0));
    assert!(close(repaid, 500.0 / 1.05));
    let bad = 950.0 - 500.0 / 1.05;
    assert!((r.report.bad_debt.to_f64() - bad).abs() < 1e-6);
    assert!((r.report.insurance_used.to_f64() - 100.0).abs() < 1e-9);
    assert!((r.report.socialized.to_f64() - (bad - 100.0)).abs() < 1e-6);
    assert_eq!(r.report.unrecovered, Value::ZERO);
    let index = r.report.per_asset[0].deposit_index.to_f64();
    assert!((index - (10_000.0 - (bad - 100.0)) / 10_000.0).abs() < 1e-9);
    assert_eq!(r.balances[0], Qty::ZERO, "the debt was written off");
}

#[test]
fn a_short_squeeze_buys_back_and_pushes_the_price_up() {
    // Short 50 ETH against 10,000 USDC. At 190: 10,000 − 50·190·1.2 < 0.
    let balances = [Qty::from_int(10_000), Qty::from_int(-50)];
    let r = run(
        &market(0.5, 0.0),
        Policy::ToTarget,
        0,
        &drop_to(1.7),
        &balances,
    );
    let steps = liquidations(&r.events);
    assert!(!steps.is_empty());
    let eth = r.report.per_asset[1];
    assert!(eth.bought.is_positive() && eth.sold == Qty::ZERO);
    assert!(
        eth.max_price > Price::from_int(170),
        "buy-backs lifted the price above the shock"
    );
    assert!(r.balances[1] > Qty::from_int(-50), "the short was reduced");
}

#[test]
fn a_cascade_spreads_over_rounds_and_ends_at_a_fixed_point() {
    // Ten borrowers, each a little more leveraged than the last; a thin venue.
    let mut balances = std::vec::Vec::new();
    for i in 0..10 {
        balances.push(Qty::from_f64(-(700.0 + 10.0 * f64::from(i))));
        balances.push(Qty::from_int(10));
    }
    balances.extend([Qty::from_int(100_000), Qty::ZERO]);
    let r = run(
        &market(0.3, 0.0),
        Policy::ToTarget,
        0,
        &drop_to(0.95),
        &balances,
    );
    let per_round: std::vec::Vec<u32> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::RoundEnded { liquidations, .. } => Some(*liquidations),
            _ => None,
        })
        .collect();
    std::println!("liquidations per round: {per_round:?}");
    let rounds_with_liquidations = per_round.iter().filter(|&&n| n > 0).count();
    assert!(
        rounds_with_liquidations >= 3,
        "{rounds_with_liquidations} rounds liquidated"
    );
    assert!(
        r.report.per_asset[1].min_price < Price::from_int(95),
        "sales pushed below the shock"
    );
    assert_eq!(r.termination, Termination::FixedPoint);
}

#[test]
fn within_a_round_the_lowest_health_goes_first() {
    let balances = [
        Qty::from_int(-760),
        Qty::from_int(10),
        Qty::from_int(-790),
        Qty::from_int(10),
    ];
    let r = run(
        &market(0.0001, 0.0),
        Policy::ToTarget,
        0,
        &drop_to(0.9),
        &balances,
    );
    let order: std::vec::Vec<u32> = liquidations(&r.events).iter().map(|s| s.0).collect();
    assert_eq!(order.first(), Some(&1), "account 1 is less healthy");
}

#[test]
fn a_sale_the_venue_cannot_absorb_breaks_the_market() {
    // λ = 10: selling 9 ETH would take the price below zero.
    let r = run(
        &market(10.0, 0.0),
        Policy::Absorb,
        0,
        &drop_to(0.9),
        &[Qty::from_int(-790), Qty::from_int(10)],
    );
    assert_eq!(r.termination, Termination::MarketBroken { asset: 1 });
}

#[test]
fn invalid_configurations_are_named_errors() {
    // One account of two assets, whatever the configuration asks.
    let mut buffers = Buffers::<MAX_ASSETS>::new(&[Qty::ZERO; 2], 2);
    let mut try_new = |assets: &[AssetConfig], policy: Policy, shocks: &[Shock]| {
        let config = plain_config(assets, policy, Value::ZERO, shocks, 10);
        Engine::new(&config, buffers.storage()).err()
    };
    let mut generous = market(0.1, 0.0);
    generous[1].liquidation_bonus = Ratio::from_f64(0.3);
    assert_eq!(
        try_new(&generous, Policy::ToTarget, &[]),
        Some(Error::Config(ConfigError::BonusLowersHealth {
            collateral: 1,
            liability: 0
        }))
    );
    let mut zero_price = market(0.1, 0.0);
    zero_price[1].price = Price::ZERO;
    assert_eq!(
        try_new(&zero_price, Policy::ToTarget, &[]),
        Some(Error::Config(ConfigError::Asset {
            asset: 1,
            param: crate::error::AssetParam::Price
        }))
    );
    let bad_shock = [Shock {
        round: 1,
        asset: 5,
        kind: ShockKind::MovePrice(Ratio::ONE),
    }];
    assert_eq!(
        try_new(&market(0.1, 0.0), Policy::ToTarget, &bad_shock),
        Some(Error::Config(ConfigError::Shock { index: 0 }))
    );
    let three = [
        AssetConfig::quote(),
        market(0.1, 0.0)[1],
        market(0.1, 0.0)[1],
    ];
    assert!(matches!(
        try_new(&three, Policy::ToTarget, &[]),
        Some(Error::Config(ConfigError::CapacityExceeded {
            what: Capacity::BalanceStorage,
            ..
        }))
    ));
}

/// Storage too short for the accounts is named: the scratch, then the
/// flags (sized for two planes, as before the sweep's third).
#[test]
fn short_storage_is_a_named_error() {
    let assets = market(0.1, 0.0);
    let accounts = 40;
    let config = plain_config(&assets, Policy::ToTarget, Value::ZERO, &[], 10);
    let try_with = |scratch_len: usize, flag_len: usize| {
        let mut buffers = Buffers::<2>::new(&std::vec![Qty::ZERO; accounts * 2], 2);
        buffers.scratch.truncate(scratch_len);
        buffers.flags.truncate(flag_len);
        Engine::new(&config, buffers.storage()).err()
    };
    let capacity = |what, limit, got| {
        Some(Error::Config(ConfigError::CapacityExceeded {
            what,
            limit,
            got,
        }))
    };
    let words = flag_words(accounts);
    assert_eq!(words, 6, "three planes of two words");
    assert_eq!(
        try_with(accounts - 1, words),
        capacity(Capacity::ScratchStorage, accounts, accounts - 1)
    );
    assert_eq!(
        try_with(accounts, 4),
        capacity(Capacity::FlagStorage, words, 4)
    );
    assert_eq!(try_with(accounts, words), None);
}

/// A unit that writes another account's row and then fails leaves that row
/// as it was; one that took a savepoint keeps what came before it. Either
/// way the books balance.
#[test]
fn a_failed_unit_restores_other_rows_up_to_its_last_savepoint() {
    let assets = market(0.1, 0.5);
    let balances = std::vec![
        Qty::from_int(10),
        Qty::from_int(1),
        Qty::from_int(20),
        Qty::from_int(2),
        Qty::from_int(30),
        Qty::from_int(3),
    ];
    let original = balances.clone();
    let mut buffers = Buffers::<2>::new(&balances, 2);
    let config = plain_config(&assets, Policy::Absorb, Value::ZERO, &[], 5);
    let mut engine = Engine::new(&config, buffers.storage()).unwrap();
    let overflow = StepFault::Arith(ArithError::Overflow);
    // Move one quote unit from account 1 to account 2 with the books
    // unchanged (accounts to accounts), then fail.
    fn transfer(
        e: &mut Engine<'_, 2>,
        sink: &mut UnitSink<'_, 2>,
        to: u32,
        amount: i64,
    ) -> Result<(), StepFault> {
        e.journal(sink, to)?;
        let b = e.load(to as usize);
        e.store(to as usize, 0, b[0].add(Qty::from_int(amount))?)
    }
    let mut log = Log::default();
    let failed = engine.atomically(Some(1), &mut log, |e, sink| {
        transfer(e, sink, 1, -1)?;
        transfer(e, sink, 2, 1)?;
        sink.emit(&Event::RoundStarted { round: 0 });
        Err::<(), _>(overflow)
    });
    assert_eq!(failed, Err((overflow, Some(1))));
    assert_eq!(engine.load(1)[0], original[2]);
    assert_eq!(engine.load(2)[0], original[4]);
    assert_eq!(engine.audit(), Ok(()));
    assert_eq!(
        log.0.last(),
        Some(&Event::RolledBack {
            round: 0,
            events: 1
        })
    );

    // With a savepoint after the first pair, only the second is undone.
    let mut log = Log::default();
    let failed = engine.atomically(Some(1), &mut log, |e, sink| {
        transfer(e, sink, 1, -1)?;
        transfer(e, sink, 2, 1)?;
        sink.emit(&Event::RoundStarted { round: 0 });
        e.savepoint(sink);
        transfer(e, sink, 1, -1)?;
        transfer(e, sink, 0, 1)?;
        Err::<(), _>(overflow)
    });
    assert_eq!(failed, Err((overflow, Some(1))));
    assert_eq!(engine.load(1)[0], Qty::from_int(19));
    assert_eq!(engine.load(2)[0], Qty::from_int(31));
    assert_eq!(engine.load(0)[0], original[0]);
    assert_eq!(engine.audit(), Ok(()));
    assert_eq!(log.0.len(), 1, "nothing after the savepoint was emitted");

    // Two other rows before a savepoint are refused, not silently lost.
    let mut log = Log::default();
    let failed = engine.atomically(None, &mut log, |e, sink| {
        transfer(e, sink, 0, 1)?;
        transfer(e, sink, 2, -1)
    });
    assert_eq!(
        failed,
        Err((StepFault::Invariant(Invariant::UndoJournalFull), None))
    );
    assert_eq!(engine.load(0)[0], original[0]);
}

/// The report's low, high and final prices of a pool are the same whether
/// the engine records them after every unit (a budget of one) or catches
/// up after a run of sales (one unbounded step), around the insurance
/// fund's purchase too: a long sells into the pool (the round's low), a
/// short without collateral goes bankrupt and the fund buys its debt from
/// the pool (a purchase the report does not record), and two small longs
/// then sell into it (the first sale is the round's high).
#[test]
fn a_pools_report_prices_do_not_depend_on_the_budget() {
    let mut assets = market(0.0, 0.0);
    assets[1].venue = VenueConfig::ConstantProduct {
        base_reserve: Qty::from_int(1_000),
        fee: Ratio::ZERO,
        resilience: Ratio::ZERO,
    };
    let balances = [
        // Health 80 − 580: liquidated first.
        Qty::from_int(-580),
        Qty::from_int(1),
        // Owes 2 ETH and holds nothing: bankrupt.
        Qty::ZERO,
        Qty::from_int(-2),
        // Two small longs, liquidated last.
        Qty::from_f64(-17.5),
        Qty::from_f64(0.2),
        Qty::from_int(-17),
        Qty::from_f64(0.2),
    ];
    let config = plain_config(&assets, Policy::ToTarget, Value::from_int(100_000), &[], 1);
    let report_at = |budget: u32| {
        let mut buffers = Buffers::<2>::new(&balances, 2);
        let mut engine = Engine::new(&config, buffers.storage()).unwrap();
        let mut log = Log::default();
        while engine.step(budget, &mut log) == StepOutcome::Pending {}
        (*engine.report(), log.0)
    };
    let (each_unit, events) = report_at(1);
    let (caught_up, _) = report_at(u32::MAX);
    assert_eq!(caught_up, each_unit);
    let mut sellers: std::vec::Vec<u32> = liquidations(&events)
        .iter()
        .map(|(account, _, _)| *account)
        .collect();
    sellers.dedup();
    assert_eq!(sellers, [0, 2, 3], "the deep long, then the small ones");
    let eth = each_unit.per_asset[1];
    assert!(eth.covered.is_positive(), "the fund bought ETH");
    assert!(eth.min_price < Price::from_int(100) && eth.min_price < eth.final_price);
    assert!(eth.max_price > eth.final_price && eth.max_price > Price::from_int(100));
}

/// 3,000 accounts at leverages spread evenly, one ETH each.
fn spread_leverage(accounts: usize) -> std::vec::Vec<Qty> {
    let mut balances = std::vec::Vec::new();
    for id in 0..accounts {
        // Debt from 20 to 79.99 against 1 ETH (80 of maintenance value).
        let debt = 20.0 + 60.0 * ((id * 7 % accounts) as f64) / accounts as f64;
        balances.extend([Qty::from_f64(-debt), Qty::from_int(1)]);
    }
    balances
}

/// ETH's price moves by `ratio` at the start of `round`.
fn fall(round: u32, ratio: f64) -> Shock {
    Shock {
        round,
        asset: 1,
        kind: ShockKind::MovePrice(Ratio::from_f64(ratio)),
    }
}

/// ETH drops 15% in each of `rounds`.
fn drops<const N: usize>(rounds: [u32; N]) -> [Shock; N] {
    rounds.map(|round| fall(round, 0.85))
}

/// Repay-to-target liquidations over `spread_leverage`, with a fund that
/// covers any loss.
fn spread_config<'a>(assets: &'a [AssetConfig], shocks: &'a [Shock]) -> EngineConfig<'a> {
    plain_config(
        assets,
        Policy::ToTarget,
        Value::from_int(1_000_000),
        shocks,
        20,
    )
}

/// Two drops over `spread_leverage`: the second round's drift reaches a
/// large part of the watch list, which is swept. Outside a sweep no
/// account is marked; the first pass moves at most `VISITS_PER_UNIT`
/// entries on and takes out at most one a unit; the second pass only
/// moves forward, at most `WORDS_PER_UNIT` words a unit, reading the next
/// marked account's row ahead.
#[test]
fn a_sweep_evaluates_what_it_reached_in_id_order_and_clears_its_marks() {
    let assets = market(0.000_01, 0.0);
    let accounts: usize = 3_000;
    let balances = spread_leverage(accounts);
    let shocks = drops([1, 2]);
    let config = spread_config(&assets, &shocks);
    let mut buffers = Buffers::<2>::new(&balances, 2);
    let mut engine = Engine::new(&config, buffers.storage()).unwrap();
    let (mut marked_most, mut reached_units, mut last) = (0, 0, None);
    let (mut read_ahead, mut windows) = (0, 0);
    loop {
        let marked: u32 = (0..accounts)
            .map(|id| u32::from(engine.flag(FLAG_PLANE_REACHED, id)))
            .sum();
        let (phase, listed) = (engine.state.phase, engine.scan.watch_len);
        match phase {
            Phase::Sweep { .. } => marked_most = marked_most.max(marked),
            Phase::Reached { from } => {
                reached_units += 1;
                // The row read ahead is the next marked account's, if it
                // is in this word of the plane or the next.
                let mut marks = (from..accounts).filter(|&id| engine.flag(FLAG_PLANE_REACHED, id));
                if let Some(id) = marks.next() {
                    let ahead = marks.next().filter(|next| next / 32 <= id / 32 + 1);
                    assert_eq!(engine.next_reached(id), ahead.map(|a| a as u32));
                    read_ahead += usize::from(ahead.is_some());
                }
                if let Some(before) = last {
                    let most = before + 32 * sweep::WORDS_PER_UNIT;
                    assert!(from > before && from <= most, "{before} → {from}");
                }
                last = Some(from);
            }
            _ => {
                assert_eq!(marked, 0, "marks left in {:?}", engine.state.phase);
                last = None;
            }
        }
        if let StepOutcome::Done(_) = engine.step(1, &mut ()) {
            break;
        }
        // A sweep unit moves at most a window on, and takes out one entry
        // at most, which the next unit then starts from.
        if let (Phase::Sweep { next }, Phase::Sweep { next: after }) = (phase, engine.state.phase) {
            let taken = listed - engine.scan.watch_len;
            assert!(after >= next && after - next <= sweep::VISITS_PER_UNIT);
            assert!(taken <= 1 && (taken == 1 || after - next == sweep::VISITS_PER_UNIT));
            windows += usize::from(taken == 0);
        }
    }
    assert!(windows > 10, "{windows} units that took nothing out");
    assert!(marked_most > 300, "a sweep marked {marked_most} accounts");
    assert!(reached_units >= marked_most, "{reached_units} units");
    assert!(read_ahead > 300, "{read_ahead} rows read ahead");
}

/// The accounts a liquidation phase watches again are appended out of
/// order; with sweeps off, every round that pops the list first orders
/// them, so each pop starts from a whole heap.
#[test]
fn a_round_orders_the_appended_entries_before_it_pops_the_watch_list() {
    let assets = market(0.000_01, 0.0);
    let balances = spread_leverage(3_000);
    let shocks = drops([1, 2, 3, 4]);
    let config = spread_config(&assets, &shocks);
    let mut buffers = Buffers::<2>::new(&balances, 2);
    let mut engine = Engine::new(&config, buffers.storage()).unwrap();
    engine.sweep_when_cheaper(false);
    let (mut ordering_units, mut most_appended, mut pops) = (0, 0, 0);
    loop {
        match engine.state.phase {
            Phase::OrderAppended => ordering_units += 1,
            Phase::Watch => {
                pops += 1;
                assert_eq!(engine.scan.appended, 0);
                assert!(engine.watch().is_ordered(), "a pop from a broken heap");
            }
            Phase::Liquidate => most_appended = most_appended.max(engine.scan.appended),
            _ => {}
        }
        if let StepOutcome::Done(_) = engine.step(1, &mut ()) {
            break;
        }
    }
    assert!(most_appended > 100, "{most_appended} appended at most");
    assert!(
        ordering_units > most_appended,
        "{ordering_units} ordering units"
    );
    assert!(pops > 100, "{pops} watch-list units");
}

/// A rate limit cuts short a round that sorts its candidates as a batch:
/// the sorted remainder is reversed, in bounded units, into the heap they
/// wait in, and the run is the heap's throughout, event for event.
#[test]
fn a_batch_cut_short_waits_in_a_heap_and_the_run_does_not_change() {
    struct Queued {
        termination: Termination,
        events: std::vec::Vec<Event>,
        digest: u64,
        reversing_units: u32,
        rounds_cut_short: u32,
    }
    let assets = market(0.000_01, 0.0);
    let balances = spread_leverage(10_000);
    let shocks = drops([1, 2]);
    let mut config = spread_config(&assets, &shocks);
    config.containment.rate_limit.max_accounts_per_round = 40;
    let run = |rounds: batch::BatchRounds| {
        let mut buffers = Buffers::<2>::new(&balances, 2);
        let mut engine = Engine::new(&config, buffers.storage()).unwrap();
        engine.batch_rounds = rounds;
        let mut log = Log::default();
        let (mut reversing_units, mut rounds_cut_short) = (0, 0);
        let termination = loop {
            let reversing = matches!(engine.batch, batch::Batch::Reversing { .. });
            reversing_units += u32::from(reversing);
            let outcome = engine.step(1, &mut log);
            if matches!(engine.state.phase, Phase::EndRound) && engine.heap_len > 0 {
                rounds_cut_short += 1;
                assert_eq!(engine.batch, batch::Batch::Heap);
                assert!(engine.candidates().is_ordered(), "a queue out of order");
            }
            if let StepOutcome::Done(termination) = outcome {
                break termination;
            }
        };
        Queued {
            termination,
            events: log.0,
            digest: engine.digest(),
            reversing_units,
            rounds_cut_short,
        }
    };
    let heap = run(batch::BatchRounds::Never);
    let sorted = run(batch::BatchRounds::Always);
    assert_eq!(sorted.termination, heap.termination);
    assert_eq!(sorted.events, heap.events);
    assert_eq!(sorted.digest, heap.digest);
    assert!(
        heap.rounds_cut_short > 10,
        "{} rounds cut short",
        heap.rounds_cut_short
    );
    assert_eq!(heap.reversing_units, 0);
    // Round 1 leaves about 2,000 accounts waiting: a reversal of several
    // units.
    assert!(
        sorted.reversing_units > 4,
        "{} reversing units",
        sorted.reversing_units
    );
}

/// A falling price reaches an account that owes only the quote in the
/// round it becomes liquidatable, not rounds before: its trigger is exact
/// in the drift, whose rounds multiply up to the whole fall. ETH falls 2%
/// a round for 12 rounds over `spread_leverage` (quote borrowers only) on
/// a venue too deep to move; with sweeps off, every watched account
/// evaluated is a pop, and nearly every pop finds an account to liquidate.
#[test]
fn a_falling_price_reaches_a_quote_borrower_when_it_is_liquidatable() {
    let assets = market(0.000_000_01, 0.0);
    let balances = spread_leverage(3_000);
    let shocks: [Shock; 12] = core::array::from_fn(|i| fall(i as u32 + 1, 0.98));
    let config = plain_config(
        &assets,
        Policy::CloseFactor {
            close_factor: Ratio::from_f64(0.5),
            full_close_health_factor: Ratio::from_f64(0.5),
            full_close_debt_value: Value::ZERO,
        },
        Value::from_int(1_000_000),
        &shocks,
        20,
    );
    let mut buffers = Buffers::<2>::new(&balances, 2);
    let mut engine = Engine::new(&config, buffers.storage()).unwrap();
    engine.sweep_when_cheaper(false);
    let mut log = Log::default();
    let (mut pops, mut pop_rounds, mut watching) = (0u32, 0u32, false);
    loop {
        match engine.state.phase {
            Phase::Watch => {
                pops += 1;
                pop_rounds += u32::from(!watching);
                watching = true;
            }
            _ => watching = false,
        }
        if let StepOutcome::Done(_) = engine.step(1, &mut log) {
            break;
        }
    }
    // Each round's last watch unit finds nothing due and ends the scan.
    let evaluated = pops - pop_rounds;
    let found = log
        .0
        .iter()
        .filter(|e| matches!(e, Event::Liquidation { round, .. } if *round > 1))
        .count() as u32;
    assert!(found > 1_000, "{found} liquidations after the first round");
    assert!(
        evaluated <= found + found / 50,
        "{evaluated} watched accounts evaluated for {found} liquidations"
    );
}

/// A sweep leaves the watch list out of heap order, and only a round that
/// pops it restores the order first: two large drops sweep (the second
/// without restoring what the first left), a small one pops, from a whole
/// heap. Every restore runs straight into the pops.
#[test]
fn a_sweep_leaves_the_order_to_the_next_round_that_pops() {
    let assets = market(0.000_01, 0.0);
    let balances = spread_leverage(3_000);
    let shocks = [fall(1, 0.85), fall(2, 0.85), fall(3, 0.85), fall(5, 0.99)];
    let config = spread_config(&assets, &shocks);
    let mut buffers = Buffers::<2>::new(&balances, 2);
    let mut engine = Engine::new(&config, buffers.storage()).unwrap();
    let (mut sweeps, mut restores, mut pops, mut last) = (0, 0, 0, None);
    loop {
        let phase = engine.state.phase;
        match phase {
            Phase::Sweep { .. } => {
                sweeps += u32::from(!matches!(last, Some(Phase::Sweep { .. })));
                assert!(!matches!(last, Some(Phase::Order { .. })));
            }
            Phase::Order { remaining } => {
                assert!(engine.scan.unordered, "a restore of an ordered list");
                restores += u32::from(matches!(last, Some(p) if !matches!(p, Phase::Order { .. })));
                assert!(remaining <= engine.watch().parents());
            }
            Phase::Watch => {
                pops += 1;
                assert!(!engine.scan.unordered && engine.scan.appended == 0);
                assert!(engine.watch().is_ordered(), "a pop from a broken heap");
            }
            _ => {}
        }
        if let (Some(Phase::Order { .. }), false) = (last, matches!(phase, Phase::Order { .. })) {
            assert_eq!(phase, Phase::Watch, "a restore that no pop follows");
        }
        last = Some(phase);
        if let StepOutcome::Done(_) = engine.step(1, &mut ()) {
            break;
        }
    }
    assert!(sweeps >= 2, "{sweeps} sweeps");
    assert!(
        restores >= 1 && restores < sweeps,
        "{restores} restores, {sweeps} sweeps"
    );
    assert!(pops > 10, "{pops} pops");
}

/// An overflow while a shock moves a venue names the shock, its asset and
/// the round it was scheduled in (the round's start is undone, its number
/// with it, but the error gives the round that was starting).
#[test]
fn an_arithmetic_failure_names_the_shock_asset_and_round() {
    let mut assets = market(0.1, 0.5);
    assets[1].price = Price::from_int(1i64 << 60);
    let shocks = [
        Shock {
            round: 2,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_f64(0.9)),
        },
        Shock {
            round: 3,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_int(1 << 20)),
        },
    ];
    let balances = [Qty::from_int(10), Qty::ZERO];
    let r = run(&assets, Policy::Absorb, 0, &shocks, &balances);
    assert_eq!(
        r.termination,
        Termination::Failed(Error::Arithmetic {
            round: 3,
            account: None,
            asset: Some(1),
            shock: Some(1),
            kind: ArithError::Overflow,
        })
    );
}

/// An account whose health overflows at the starting prices is named at
/// construction; it used to be accepted and fail the first scan with an
/// arithmetic error.
#[test]
fn construction_refuses_what_round_one_would_overflow_on() {
    let assets = market(0.1, 0.5);
    let huge = [Qty::from_int(1), Qty::from_f64(1e22)];
    let mut buffers = Buffers::<2>::new(&huge, 2);
    let config = plain_config(&assets, Policy::Absorb, Value::ZERO, &[], 5);
    assert_eq!(
        Engine::new(&config, buffers.storage()).err(),
        Some(Error::Config(ConfigError::AccountTooLarge { account: 0 }))
    );
    // A row that fits is accepted beside it.
    let fine = [Qty::from_int(1), Qty::from_int(1_000)];
    let mut buffers = Buffers::<2>::new(&fine, 2);
    assert!(Engine::new(&config, buffers.storage()).is_ok());
}

/// Runs `shocks` on the two-asset market with borrowers near their limits,
/// one unit at a time with the audit after each, skipping empty rounds or
/// not; gives the run, its digest and the units it took.
fn run_skipping(shocks: &[Shock], max_rounds: u32, skip: bool) -> (Run, u64, u64) {
    let assets = market(0.01, 0.3);
    let balances = [
        Qty::from_int(-7_000),
        Qty::from_int(100),
        Qty::from_int(-6_000),
        Qty::from_int(100),
        Qty::from_int(5_000),
        Qty::from_int(10),
    ];
    let mut buffers = Buffers::<2>::new(&balances, 2);
    let config = plain_config(
        &assets,
        Policy::ToTarget,
        Value::from_int(100),
        shocks,
        max_rounds,
    );
    let mut engine = Engine::new(&config, buffers.storage()).unwrap();
    engine.skip_empty_rounds(skip);
    let mut log = Log::default();
    let mut units = 0u64;
    loop {
        let outcome = engine.step(1, &mut log);
        units += 1;
        engine.audit().unwrap();
        if let StepOutcome::Done(termination) = outcome {
            let (report, digest) = (*engine.report(), engine.digest());
            drop(engine);
            let run = Run {
                termination,
                report: widen(report),
                events: log.0,
                balances: buffers.balances,
            };
            return (run, digest, units);
        }
    }
}

fn widen(r: Report<2>) -> Report {
    let mut per_asset = [AssetReport::default(); MAX_ASSETS];
    per_asset[..2].copy_from_slice(&r.per_asset);
    Report {
        rounds: r.rounds,
        liquidations: r.liquidations,
        accounts_liquidated: r.accounts_liquidated,
        bankruptcies: r.bankruptcies,
        deferred: r.deferred,
        backstopped: r.backstopped,
        backstop_assets: r.backstop_assets,
        backstop_liabilities: r.backstop_liabilities,
        backstop_equity: r.backstop_equity,
        backstop_negative_equity: r.backstop_negative_equity,
        backstop_pnl: r.backstop_pnl,
        auctions: r.auctions,
        zero_bid_takes: r.zero_bid_takes,
        deleveraged: r.deleveraged,
        bad_debt: r.bad_debt,
        insurance_used: r.insurance_used,
        socialized: r.socialized,
        unrecovered: r.unrecovered,
        fees: r.fees,
        keeper_pnl: r.keeper_pnl,
        insurance_fund: r.insurance_fund,
        per_asset,
        assets: r.assets,
        termination: r.termination,
    }
}

/// The rounds of `events` in which something other than the round's start
/// and end happened.
fn busy_rounds(events: &[Event]) -> std::collections::BTreeSet<u32> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::RoundStarted { .. }
            | Event::RoundEnded {
                liquidations: 0, ..
            } => None,
            Event::RoundEnded { round, .. }
            | Event::ShockApplied { round, .. }
            | Event::Liquidation { round, .. }
            | Event::Bankruptcy { round, .. } => Some(round),
            _ => None,
        })
        .collect()
}

/// Rounds in which nothing can move are skipped to the next shock: the same
/// state, report, digest and ending as running them one by one, and the
/// same events but the skipped rounds' starts and ends.
#[test]
fn empty_rounds_are_skipped_with_the_same_results() {
    let cases: [(std::vec::Vec<Shock>, u32); 4] = [
        (
            std::vec![fall(1, 0.9), fall(300, 0.85), fall(2_000, 0.9)],
            3_000,
        ),
        (std::vec![fall(40, 0.8)], 100),
        // The next shock lies past the cap: the skip ends at the cap.
        (std::vec![fall(1, 0.9), fall(900, 0.5)], 500),
        (
            std::vec![fall(2, 0.95), fall(3, 0.95), fall(700, 0.95)],
            700,
        ),
    ];
    let mut liquidated = false;
    for (shocks, cap) in cases {
        let (skipped, digest, units) = run_skipping(&shocks, cap, true);
        let (every, every_digest, every_units) = run_skipping(&shocks, cap, false);
        assert_eq!(digest, every_digest, "{shocks:?}");
        assert_eq!(skipped.termination, every.termination, "{shocks:?}");
        assert_eq!(skipped.report, every.report, "{shocks:?}");
        assert_eq!(skipped.balances, every.balances, "{shocks:?}");
        assert!(units < every_units, "{units} units against {every_units}");
        // The events, but those of the rounds skipped (their start and end).
        let busy = busy_rounds(&every.events);
        let round_of = |e: &Event| match *e {
            Event::RoundStarted { round } | Event::RoundEnded { round, .. } => Some(round),
            _ => None,
        };
        let kept: std::vec::Vec<Event> = every
            .events
            .iter()
            .filter(|e| {
                round_of(e).is_none_or(|r| {
                    busy.contains(&r) || skipped.events.iter().any(|s| round_of(s) == Some(r))
                })
            })
            .copied()
            .collect();
        assert_eq!(skipped.events, kept, "{shocks:?}");
        assert!(skipped.events.len() < every.events.len());
        liquidated |= skipped.report.liquidations > 0;
    }
    assert!(liquidated, "the cases cascade");
}

/// A shock at round 10^7 under a cap of 2·10^7 costs a few units, not
/// 10^7 rounds of them.
#[test]
fn a_shock_ten_million_rounds_away_costs_nothing() {
    let shocks = [fall(1, 0.9), fall(10_000_000, 0.8)];
    let (run, _, units) = run_skipping(&shocks, 20_000_000, true);
    assert!(units < 2_000, "{units} units");
    assert!(run.report.rounds >= 10_000_000);
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::ShockApplied {
            round: 10_000_000,
            index: 1
        }
    )));
    assert_eq!(run.termination, Termination::FixedPoint);
}

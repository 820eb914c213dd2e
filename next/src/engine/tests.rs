use super::*;
use crate::num::Ratio;
use crate::venue::{Slope, VenueConfig};
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const ETH: u64 = 2_000_000_000_000; // 2,000 USDC (6 dp) per ETH (9 dp), exponent 12

pub(super) fn usdc() -> AssetConfig {
    AssetConfig {
        dust: Qty(1_000_000),
        ..AssetConfig::quote()
    }
}

pub(super) fn eth(venue: VenueConfig) -> AssetConfig {
    AssetConfig {
        price: Price::new(ETH, 12).unwrap(),
        asset_weights: Weights {
            maint: Ratio::from_bps(8_300),
            liq_end: Ratio::from_bps(8_000),
        },
        liability_weights: Weights {
            maint: Ratio::from_bps(10_500),
            liq_end: Ratio::from_bps(11_000),
        },
        liquidation_bonus: Ratio::from_bps(500),
        protocol_fee: Ratio::from_bps(1_000),
        dust: Qty(1_000_000),
        venue,
    }
}

pub(super) fn pool(base_reserve: i64) -> VenueConfig {
    VenueConfig::ConstantProduct {
        base_reserve: Qty(base_reserve),
        fee: Ratio::from_bps(30),
        resilience: Ratio::from_bps(1_000),
    }
}

pub(super) fn aave() -> Policy {
    Policy::CloseFactor {
        close_factor: Ratio::from_bps(5_000),
        full_close_health_factor: Ratio::from_bps(9_500),
        full_close_debt_value: Value(2_000_000_000),
    }
}

/// Draws below `m` from a xorshift generator seeded with `seed`.
pub(super) fn draws(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed | 1;
    move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    }
}

/// `accounts` accounts holding 1-10 ETH against USDC debts of 60-82% of
/// it, and a few shorts of ETH against USDC; drawn from `seed`.
fn balances(accounts: usize, seed: u64) -> Vec<Qty> {
    let mut draw = draws(seed);
    let mut rows = Vec::new();
    for _ in 0..accounts {
        let held = 1_000_000_000 + draw(9_000_000_000) as i64;
        if draw(10) == 0 {
            // A short: 0.5-0.8 of a USDC deposit's worth in ETH owed.
            let deposit = held * 2;
            let owed = held * (50 + draw(30) as i64) / 100;
            rows.extend([Qty(deposit), Qty(-owed)]);
        } else {
            let debt = held * 2 * (60 + draw(22) as i64) / 100;
            rows.extend([Qty(-debt), Qty(held)]);
        }
    }
    rows
}

pub(super) struct Run {
    balances: Vec<Qty>,
    links: Vec<u32>,
    queue: Vec<Candidate>,
    snaps: Vec<Snap>,
    ranks: Vec<RankNode>,
}

impl Run {
    pub(super) fn new(balances: Vec<Qty>, assets: usize) -> Self {
        let accounts = balances.len() / assets;
        Self {
            balances,
            links: vec![0; Storage::link_words(accounts)],
            queue: vec![Candidate::default(); Storage::queue_slots(accounts)],
            snaps: vec![Snap::default(); Storage::snap_slots(accounts, assets)],
            ranks: vec![RankNode::default(); Storage::rank_slots(accounts)],
        }
    }
    pub(super) fn engine<'s>(&'s mut self, config: &EngineConfig<'s>) -> Engine<'s, 4, 4> {
        let storage = Storage {
            balances: &mut self.balances,
            links: &mut self.links,
            queue: &mut self.queue,
            snaps: &mut self.snaps,
            ranks: &mut self.ranks,
        };
        Engine::new(config, storage).unwrap()
    }
}

pub(super) fn decline(rounds: u32, bps: u32) -> Vec<Shock> {
    (1..=rounds)
        .map(|round| Shock {
            round,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_bps(bps)),
        })
        .collect()
}

pub(super) fn config<'c>(
    assets: &'c [AssetConfig],
    shocks: &'c [Shock],
    policy: Policy,
) -> EngineConfig<'c> {
    EngineConfig {
        assets,
        policy,
        max_rounds: 500,
        oracle_lag_rounds: 0,
        insurance_fund: Value(50_000_000_000),
        shocks,
        max_accounts_per_round: 0,
        deleveraging: None,
        containment: Containment::OFF,
    }
}

/// Every event, for comparing runs.
#[derive(Default)]
pub(super) struct Log(pub(super) Vec<Event>);

impl EventSink for Log {
    fn emit(&mut self, e: &Event) {
        self.0.push(*e);
    }
}

#[test]
fn a_decline_liquidates_runs_to_a_fixed_point_and_conserves_every_asset() {
    let assets = [usdc(), eth(pool(2_000_000_000_000))];
    let shocks = decline(12, 9_700);
    let mut run = Run::new(balances(400, 7), 2);
    let cfg = config(&assets, &shocks, aave());
    let mut e = run.engine(&cfg);
    let (end, _) = audited(&mut e);
    assert_eq!(end, Termination::FixedPoint);
    let r = *e.report();
    assert!(r.liquidations > 50, "{r:?}");
    // The pool took every seizure: its price fell past the shocks' 30%.
    let price = e.markets()[1].state.venue.unwrap().price().unwrap();
    assert!(price.mantissa() < ETH * 7 / 10, "{price:?}");
    // Nobody is left liquidatable who could be liquidated.
    for id in 0..e.account_count() {
        let h = e.health(id).unwrap();
        let row = e.row(id).unwrap();
        let holds = row.iter().any(|b| b.is_positive());
        assert!(!h.is_liquidatable() || !holds, "{id}: {row:?}");
    }
}

/// Runs a unit at a time, auditing after each; returns the events.
pub(super) fn audited(e: &mut Engine<'_, 4, 4>) -> (Termination, Vec<Event>) {
    let mut log = Log::default();
    let end = loop {
        e.audit().unwrap();
        if let StepOutcome::Done(t) = e.step(1, &mut log) {
            break t;
        }
    };
    e.audit().unwrap();
    (end, log.0)
}

/// After each round's scan, the queue holds exactly the liquidatable
/// accounts: the watch misses none that a full rescan would find.
fn check_the_watch_finds_every_liquidatable_account(
    assets: &[AssetConfig],
    shocks: &[Shock],
    policy: Policy,
    rows: Vec<Qty>,
) {
    let (checked, found) = watch_checks(assets, shocks, policy, rows, (0, None));
    assert!(
        checked > 3 && found > 20,
        "{checked} rounds checked, {found} candidates"
    );
}

/// Runs a cascade a unit at a time under `cap` accounts a round; at each
/// round's end of scan, checks that the queue holds every liquidatable
/// account and that those this round found are liquidatable (those a cap
/// left waiting may have recovered), and audits after every unit. Returns
/// the rounds checked and the candidates found.
pub(super) fn watch_checks(
    assets: &[AssetConfig],
    shocks: &[Shock],
    policy: Policy,
    rows: Vec<Qty>,
    (cap, deleveraging): (u32, Option<Deleveraging>),
) -> (usize, usize) {
    let n = assets.len();
    let mut run = Run::new(rows, n);
    let mut cfg = config(assets, shocks, policy);
    cfg.max_accounts_per_round = cap;
    cfg.deleveraging = deleveraging;
    let mut e = run.engine(&cfg);
    let (mut checked, mut found) = (0, 0);
    loop {
        let before = e.phase;
        if let StepOutcome::Done(_) = e.step(1, &mut ()) {
            break;
        }
        if before != Phase::Liquidate && e.phase == Phase::Liquidate {
            let queued: Vec<u32> = e.queued().map(|c| c.id).collect();
            let fresh = &queued[e.carried_over()..];
            for id in 0..e.account_count() {
                let liquidatable = e.health(id).unwrap().is_liquidatable();
                let at = (e.round, id, e.row(id));
                assert!(
                    !liquidatable || queued.contains(&(id as u32)),
                    "missed: {at:?}"
                );
                assert!(
                    liquidatable || !fresh.contains(&(id as u32)),
                    "not due: {at:?}"
                );
            }
            checked += 1;
            found += fresh.len();
        }
        e.audit().unwrap();
    }
    (checked, found)
}

#[test]
fn under_a_cap_the_watch_still_finds_every_liquidatable_account() {
    // Many rounds near the threshold: a decline in small steps, 15
    // accounts a round.
    let assets = [usdc(), eth(pool(2_000_000_000_000))];
    let shocks = decline(30, 9_900);
    let (checked, found) = watch_checks(&assets, &shocks, aave(), balances(1_500, 3), (15, None));
    assert!(
        checked > 30 && found > 200,
        "{checked} rounds, {found} found"
    );
}

#[test]
fn a_small_quote_debt_is_watched_past_its_deposits_rounding() {
    // 1,000 base units at 7 quote units a thousand (7 units) owing 38
    // quote units: safe at 7, and liquidatable when the price falls to
    // 0.038998 a unit (weighted 37.05 against 38). The deposit's worth
    // rounds down by a unit at any price, so its trigger must leave that
    // unit over the debt, not over the deposits divided by the drift (a
    // second reading found it waiting past the price that made it
    // liquidatable).
    let asset = AssetConfig {
        price: Price::new(7_000_000, 6).unwrap(),
        ..super::deleverage_tests::perp_eth()
    };
    let assets = [usdc(), asset];
    let shocks = [Shock {
        round: 2,
        asset: 1,
        kind: ShockKind::SetPrice(Price::new(38_998, 6).unwrap()),
    }];
    let rows = vec![Qty(-38), Qty(1_000), Qty(1_000_000_000), Qty(0)];
    let (checked, found) = watch_checks(&assets, &shocks, aave(), rows, (0, None));
    assert!(
        checked >= 2 && found >= 1,
        "{checked} rounds, {found} found"
    );
}

#[test]
fn the_watch_finds_what_a_full_rescan_finds() {
    let venues = [
        pool(500_000_000_000),
        VenueConfig::Linear {
            slope: Slope {
                mantissa: 1,
                exponent: 6,
            },
            resilience: Ratio::from_bps(2_000),
            floor: Price::new(1, 12).unwrap(),
        },
    ];
    for venue in venues {
        let assets = [usdc(), eth(venue)];
        // A decline, a recovery, and a second fall.
        let mut shocks = decline(6, 9_600);
        shocks.extend([8, 9].map(|round| Shock {
            round,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_bps(10_800)),
        }));
        shocks.extend((12..16).map(|round| Shock {
            round,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_bps(9_300)),
        }));
        for policy in [aave(), Policy::Absorb, Policy::ToTarget] {
            check_the_watch_finds_every_liquidatable_account(
                &assets,
                &shocks,
                policy,
                balances(300, 11),
            );
        }
    }
}

pub(super) fn run_with_budgets(
    budgets: &[u32],
    rows: Vec<Qty>,
    cap: u32,
) -> (u64, Vec<Event>, Termination) {
    let assets = [usdc(), eth(pool(1_000_000_000_000))];
    let shocks = decline(8, 9_500);
    let mut run = Run::new(rows, 2);
    let mut cfg = config(&assets, &shocks, Policy::ToTarget);
    cfg.max_accounts_per_round = cap;
    let mut e = run.engine(&cfg);
    step_by(&mut e, budgets)
}

/// Steps `e` to its end by `budgets` in turn: its digest, events and end.
pub(super) fn step_by(e: &mut Engine<'_, 4, 4>, budgets: &[u32]) -> (u64, Vec<Event>, Termination) {
    let mut log = Log::default();
    let mut i = 0;
    let end = loop {
        let budget = budgets
            .get(i % budgets.len().max(1))
            .copied()
            .unwrap_or(u32::MAX);
        i += 1;
        if let StepOutcome::Done(t) = e.step(budget, &mut log) {
            break t;
        }
    };
    (e.digest(), log.0, end)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Any sequence of budgets reaches the same state, events and digest as
    /// one unbounded call.
    #[test]
    fn budgets_do_not_change_a_run(
        budgets in proptest::collection::vec(1u32..40, 1..8),
        seed in 1u64..1_000,
        cap in prop_oneof![Just(0u32), 1u32..20],
    ) {
        let rows = balances(150, seed);
        let whole = run_with_budgets(&[u32::MAX], rows.clone(), cap);
        let stepped = run_with_budgets(&budgets, rows, cap);
        prop_assert_eq!(whole.2, stepped.2);
        prop_assert_eq!(&whole.1, &stepped.1);
        prop_assert_eq!(whole.0, stepped.0);
    }
}

#[test]
fn bad_configurations_are_refused_with_their_reason() {
    let assets = [usdc(), eth(pool(1_000_000_000_000))];
    let shocks = decline(3, 9_000);
    let mut run = Run::new(balances(4, 1), 2);
    let storage = |r: &mut Run| -> (Vec<Qty>, Vec<u32>, Vec<Candidate>) {
        (r.balances.clone(), r.links.clone(), r.queue.clone())
    };
    let (mut b, mut l, mut q) = storage(&mut run);
    let mut try_config = |cfg: EngineConfig<'_>| {
        Engine::<4, 4>::new(
            &cfg,
            Storage {
                balances: &mut b,
                links: &mut l,
                queue: &mut q,
                snaps: &mut [],
                ranks: &mut [],
            },
        )
        .err()
    };
    let mut greedy = eth(pool(1_000));
    greedy.liquidation_bonus = Ratio::from_bps(2_100); // 0.83 × 1.21 > 1
    assert_eq!(
        try_config(config(&[usdc(), greedy], &shocks, aave())),
        Some(ConfigError::Incentive { asset: 1 })
    );
    let mut upside_down = eth(pool(1_000));
    upside_down.asset_weights.liq_end = Ratio::from_bps(9_000);
    assert_eq!(
        try_config(config(&[usdc(), upside_down], &shocks, aave())),
        Some(ConfigError::Weights { asset: 1 })
    );
    let late_first = [
        Shock {
            round: 3,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_bps(9_000)),
        },
        Shock {
            round: 2,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_bps(9_000)),
        },
    ];
    assert_eq!(
        try_config(config(&assets, &late_first, aave())),
        Some(ConfigError::Shock { index: 1 })
    );
    assert_eq!(
        try_config(config(&[eth(pool(1_000))], &shocks, aave())),
        Some(ConfigError::Price { asset: 0 })
    );
    // A debt weighed past the cap that keeps health sums from wrapping.
    let mut heavy = eth(pool(1_000));
    heavy.liability_weights.liq_end = Ratio(config::MAX_LIABILITY_WEIGHT.0 + 1);
    assert_eq!(
        try_config(config(&[usdc(), heavy], &shocks, aave())),
        Some(ConfigError::Weights { asset: 1 })
    );
    heavy.liability_weights.liq_end = config::MAX_LIABILITY_WEIGHT;
    assert_eq!(try_config(config(&[usdc(), heavy], &shocks, aave())), None);
    // Deposit shares past i64::MAX in all: refused, not wrapped.
    let (mut b, mut l, mut q) = storage(&mut run);
    (b[1], b[3]) = (Qty(i64::MAX / 2 + 1), Qty(i64::MAX / 2 + 1));
    let r = Engine::<4, 4>::new(
        &config(&assets, &shocks, aave()),
        Storage {
            balances: &mut b,
            links: &mut l,
            queue: &mut q,
            snaps: &mut [],
            ranks: &mut [],
        },
    );
    assert_eq!(r.err(), Some(ConfigError::Venue { asset: 1 }));
    // Storage too small for the queue and its spare.
    let (mut b, mut l, mut q) = storage(&mut run);
    q.pop();
    let cfg = config(&assets, &shocks, aave());
    let r = Engine::<4, 4>::new(
        &cfg,
        Storage {
            balances: &mut b,
            links: &mut l,
            queue: &mut q,
            snaps: &mut [],
            ranks: &mut [],
        },
    );
    assert_eq!(r.err(), Some(ConfigError::Storage));
}

#[test]
fn a_market_that_cannot_fill_breaks_the_run() {
    // A linear market losing 0.05% of its price an ETH sold, with a floor
    // at half its price, cannot take 400 accounts' seizures (about 2,000
    // ETH): the sale that would cross the floor breaks the run, and
    // writes nothing.
    let thin = VenueConfig::Linear {
        slope: Slope {
            mantissa: 1,
            exponent: 0,
        },
        resilience: Ratio::ZERO,
        floor: Price::new(ETH / 2, 12).unwrap(),
    };
    let assets = [usdc(), eth(thin)];
    let shocks = decline(3, 9_000);
    let mut run = Run::new(balances(400, 3), 2);
    let cfg = config(&assets, &shocks, Policy::Absorb);
    let mut e = run.engine(&cfg);
    let end = e.run(&mut ());
    e.audit().unwrap();
    assert_eq!(end, Termination::MarketBroken { asset: 1 });
}

#[test]
fn a_round_liquidates_lowest_health_first_ties_by_id() {
    let assets = [usdc(), eth(pool(2_000_000_000_000))];
    let shocks = decline(3, 9_000);
    let mut run = Run::new(balances(3_000, 5), 2);
    let cfg = config(&assets, &shocks, aave());
    let mut e = run.engine(&cfg);
    let (mut rounds, mut total) = (0, 0);
    while rounds < 3 {
        // Step to the end of this round's scan: the candidates as found.
        while e.phase != Phase::Liquidate {
            assert_eq!(e.step(1, &mut ()), StepOutcome::Pending);
        }
        let mut expected: Vec<Candidate> = e.queued().copied().collect();
        expected.sort();
        let mut log = Log::default();
        while e.phase == Phase::Liquidate {
            e.step(1, &mut log);
        }
        let order: Vec<u32> = log
            .0
            .iter()
            .filter_map(|ev| match ev {
                Event::Liquidated { account, .. } => Some(*account),
                _ => None,
            })
            .collect();
        let expected: Vec<u32> = expected.iter().map(|c| c.id).collect();
        // Every candidate is liquidated, in order (a candidate whose health
        // came back is skipped, which none here is).
        assert_eq!(order, expected, "round {}", e.round);
        total += expected.len();
        rounds += 1;
    }
    assert!(total > 300, "{total} candidates in 3 rounds");
}

/// Three assets, each account holding and owing any of them: a deposit's
/// fall and a debt's rise on either risky asset, and the quote's index
/// after a socialized loss, all move the drift.
fn cross_margin_rows(accounts: usize, seed: u64) -> Vec<Qty> {
    let mut draw = draws(seed);
    let mut rows = Vec::new();
    for _ in 0..accounts {
        // Worth in USDC base units of each leg, then a sign per leg: the
        // account's debts are 55-90% of its weighted deposits.
        let legs = [draw(3) as usize, draw(3) as usize];
        let mut row = [0i64; 3];
        let deposit = 1_000_000_000 + draw(20_000_000_000) as i64;
        let debt = deposit * (55 + draw(35) as i64) / 100 * 8 / 10;
        let per_unit = [1i64, 2, 40]; // USDC, ETH and BTC base units per USDC base unit, inverted
        let (d, l) = (
            legs[0],
            if legs[1] == legs[0] {
                (legs[0] + 1) % 3
            } else {
                legs[1]
            },
        );
        row[d] += deposit / per_unit[d];
        row[l] -= debt / per_unit[l];
        rows.extend(row.map(Qty));
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Cross-margined accounts over two risky assets, shocks up and down on
    /// both, every policy: after each round's scan the queue is exactly
    /// what a full rescan finds, and the audit holds after every unit.
    #[test]
    fn the_watch_is_exact_under_cross_margin_and_moves_both_ways(
        seed in 1u64..10_000,
        moves in proptest::collection::vec((1u32..10, 1u8..3, 8_000u32..12_000), 1..8),
        policy in 0u8..3,
    ) {
        let btc = AssetConfig {
            price: Price::new(ETH * 20, 12).unwrap(),
            venue: VenueConfig::Exponential {
                depth: Qty(50_000_000_000),
                resilience: Ratio::from_bps(2_500),
                floor: Price::new(1_000_000_000, 12).unwrap(),
            },
            ..eth(pool(0))
        };
        let assets = [usdc(), eth(pool(300_000_000_000)), btc];
        let mut moves = moves;
        moves.sort_by_key(|m| m.0);
        let shocks: Vec<Shock> = moves
            .iter()
            .map(|&(round, asset, bps)| Shock {
                round,
                asset,
                kind: ShockKind::MovePrice(Ratio::from_bps(bps)),
            })
            .collect();
        let policy = match policy {
            0 => aave(),
            1 => Policy::Absorb,
            _ => Policy::ToTarget,
        };
        let (checked, _) = watch_checks(&assets, &shocks, policy, cross_margin_rows(120, seed), (0, None));
        prop_assert!(checked >= 1);
    }
}

/// A rise that puts an account past the ring's reach (the far list), then a
/// fall larger than half the ring in one round: the far list is valued that
/// round, and the account found (the fuzzer's first find: the far list was
/// once due only when the cursor, a round behind the drift, had moved).
#[test]
fn a_fall_past_half_the_ring_in_one_round_reaches_the_far_list() {
    let assets = [usdc(), eth(pool(100_000_000_000_000))];
    let eth_at =
        |dollars: u64| ShockKind::SetPrice(Price::new(dollars * 1_000_000_000, 12).unwrap());
    let shocks = [
        Shock {
            round: 2,
            asset: 1,
            kind: eth_at(28_000),
        },
        Shock {
            round: 3,
            asset: 1,
            kind: eth_at(1_000),
        },
    ];
    // Account 0: 1 ETH against 1,000 USDC (health factor 1.66 at $2,000,
    // 23 at $28,000, 0.83 at $1,000). Account 1: short 1 ETH, so that ETH's
    // rise moves the drift.
    let rows = vec![
        Qty(-1_000_000_000),
        Qty(1_000_000_000),
        Qty(100_000_000_000),
        Qty(-1_000_000_000),
    ];
    let (checked, found) = watch_checks(&assets, &shocks, aave(), rows, (0, None));
    assert!(
        checked >= 2 && found >= 1,
        "{checked} rounds, {found} candidates"
    );
}

/// Runs the decline of `a_decline_liquidates...` under `cap` accounts a
/// round, a unit at a time, checking at each round's first liquidation
/// that the queue starts with exactly what the last round left waiting.
fn capped_run(cap: u32) -> (u64, Vec<Event>, Report) {
    let assets = [usdc(), eth(pool(2_000_000_000_000))];
    let shocks = decline(12, 9_700);
    let mut run = Run::new(balances(400, 7), 2);
    let mut cfg = config(&assets, &shocks, aave());
    cfg.max_accounts_per_round = cap;
    let mut e = run.engine(&cfg);
    let mut log = Log::default();
    let (mut left, mut was_liquidating) = (Vec::new(), false);
    loop {
        e.audit().unwrap();
        let done = e.step(1, &mut log);
        let liquidating = e.liquidating();
        if liquidating && !was_liquidating {
            let queued: Vec<Candidate> = e.queued().copied().collect();
            assert_eq!(queued[..e.carried_over()], left[..], "round {}", e.round());
        }
        if was_liquidating && !liquidating {
            left = e.queued().copied().collect();
        }
        was_liquidating = liquidating;
        if let StepOutcome::Done(_) = done {
            break;
        }
    }
    e.audit().unwrap();
    (e.digest(), log.0, *e.report())
}

#[test]
fn a_cap_on_accounts_a_round_defers_the_rest_in_order() {
    let (_, uncapped, free) = capped_run(0);
    let (_, events, report) = capped_run(7);
    // No round liquidates more than the cap, some reach it, and the
    // accounts it left waiting were counted.
    let per_round: Vec<u32> = events
        .iter()
        .filter_map(|ev| match ev {
            Event::RoundEnded { liquidations, .. } => Some(*liquidations),
            _ => None,
        })
        .collect();
    assert!(per_round.iter().all(|&n| n <= 7), "{per_round:?}");
    assert!(per_round.iter().filter(|&&n| n == 7).count() > 3);
    assert!(report.deferred > 0 && free.deferred == 0);
    // Spread over more rounds, the decline still liquidates.
    assert!(report.rounds > free.rounds && report.liquidations > 50);
    // A cap no round reaches changes nothing.
    let (digest, events, _) = capped_run(10_000);
    assert_eq!(events, uncapped);
    assert_eq!(digest, capped_run(0).0);
}

/// Shocks at rounds 1, 400 and 5,000 on the pool market: with quiet rounds
/// skipped the run ends at the same fixed point, state and digest, with
/// the same events but the skipped rounds' starts and ends, whatever the
/// budgets; without, it runs every round.
#[test]
fn skipped_quiet_rounds_change_nothing_but_their_events() {
    let assets = [usdc(), eth(pool(1_000_000_000_000))];
    let shocks: Vec<Shock> = [1, 400, 5_000]
        .into_iter()
        .map(|round| Shock {
            round,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_bps(9_000)),
        })
        .collect();
    let mut cfg = config(&assets, &shocks, aave());
    cfg.max_rounds = 20_000;
    // The oracle reads the price history two rounds back: the skipped
    // rounds' entries matter.
    cfg.oracle_lag_rounds = 2;
    let run = |skip: bool, budgets: &[u32]| {
        let mut run = Run::new(balances(300, 5), 2);
        let mut e = run.engine(&cfg);
        e.set_skip_empty_rounds(skip);
        let (digest, events, end) = step_by(&mut e, budgets);
        (digest, events, end, *e.report())
    };
    let every = run(false, &[u32::MAX]);
    let skipped = run(true, &[u32::MAX]);
    let stepped = run(true, &[1, 5, 2]);
    assert_eq!(every.2, Termination::FixedPoint);
    assert_eq!(
        (skipped.0, skipped.2, skipped.3),
        (every.0, every.2, every.3)
    );
    assert_eq!(stepped.1, skipped.1, "budgets change no event");
    assert_eq!(stepped.0, skipped.0);
    let rounds = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(e, Event::RoundStarted { .. }))
            .count()
    };
    let not_rounds = |events: &[Event]| -> Vec<Event> {
        events
            .iter()
            .filter(|e| !matches!(e, Event::RoundStarted { .. } | Event::RoundEnded { .. }))
            .copied()
            .collect()
    };
    assert_eq!(not_rounds(&skipped.1), not_rounds(&every.1));
    assert!(rounds(&every.1) >= 5_000, "{}", rounds(&every.1));
    assert!(
        rounds(&skipped.1) < 1_000,
        "{} rounds run",
        rounds(&skipped.1)
    );
    assert!(every.3.liquidations > 20, "{:?}", every.3);
}

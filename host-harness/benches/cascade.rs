//! Whole cascades, timed: `cargo bench -p firesale-harness --bench cascade`.
//!
//! - `firesale_single`: the bundled default market scaled to 10^4, 10^5 and
//!   10^6 accounts (the pool and the insurance fund grow with them), its
//!   price falling 1.5% at the start of each of the first 15 rounds, run to
//!   its fixed point through the kernel: about half of the accounts are
//!   liquidated, over 17 or 18 rounds (the fast cascade).
//! - `naive_single`: the same market and shocks in the cascade an analyst
//!   writes first: `f64`, every account rescanned every round, the same
//!   close-factor rule, constant-product pool and bad-debt write-off. Its
//!   rounds and liquidations come close to the kernel's (the shape line
//!   printed first gives both), so the ratio of the two times is the cost
//!   of exactness (docs/performance.md).
//! - `firesale_long`, `naive_long`: the same with at most 1,000
//!   liquidations a round, 10^5 and 10^6 accounts: hundreds of rounds.
//!   The peer rescans every account each round and liquidates the
//!   lowest-health 1,000 of the liquidatable.
//! - `firesale_cross8`: 10^5 accounts cross-margined over 7 risky assets
//!   (8 with the quote), one of them falling 25%.
//! - `health`: one maintenance health evaluation of a row of 2 and 8
//!   assets.
//! - `next_single`, `next_long`: the fast and the long cascade in the
//!   engine being rebuilt (`firesale-next`, issue 21), converted from the
//!   same scenarios. A run of the whole suite, or one filtered to a name
//!   with `next` in it, prints their shapes and ratios to the peer first.
//! - `adl_pro_rata`, `adl_ranked`: auto-deleveraging, the perp-crash-2025
//!   replay (levered BTC longs against shorts, a thin book, the insurance
//!   fund run out) at the 1,375 and 2,750 accounts (a few seconds
//!   in all), or at the sizes in `FIRESALE_ADL_ACCOUNTS`, a comma-separated
//!   list (10^4 takes seconds a run, 10^5 minutes); three timed runs each.
//!   A run filtered to a name with `adl` in it, or of the whole suite,
//!   prints each size's shape first: bankruptcies, deleveragings at the
//!   bankruptcy price and their slices, and the time of that one run.
//! - `next_adl_pro_rata`, `next_adl_ranked`: the same replay in the next
//!   engine at 10^4, 10^5 and 10^6 accounts (pro rata through a per-side
//!   index, O(1) a deleveraging; ranked through an order kept between
//!   events, O(log accounts) a counterparty); a run filtered to a name
//!   with `adl` in it prints their shapes.
//!
//! Each cascade bench runs its cascade once untimed, to count its
//! liquidations, then five times timed: divan's columns are the fastest,
//! slowest, median and mean of the five, and its throughput column is
//! liquidations per second. The kernel's runs keep their storage from run
//! to run (`run_scenario_in`), as the peer's allocator keeps its freed
//! memory: no timed run faults in fresh pages. The kernel's bytes of state
//! per account are printed first. A run of the whole suite (no name filter)
//! also prints each market's shape first (rounds, rounds with a
//! liquidation, liquidation steps and accounts liquidated, for each side),
//! then its firesale/peer ratio: the median of seven interleaved pairs of
//! timed runs, with their range.

use divan::counter::ItemsCount;
use firesale_core::account::health;
use firesale_core::engine::{flag_words, Candidate};
use firesale_core::event::{Event, EventSink};
use firesale_core::{AdlRanking, Qty, Ratio, Shock, ShockKind, VenueConfig};
use firesale_harness::next_bridge::NextRun;
use firesale_harness::population::{health_sample, Population};
use firesale_harness::run::{run_scenario_in, Buffers};
use firesale_harness::scenario::risky;
use firesale_harness::Scenario;
use std::hint::black_box;

fn main() {
    for assets in [2, 8] {
        println!(
            "kernel state per account, {assets} assets: {} B",
            state_bytes_per_account(assets, 1_000_000)
        );
    }
    // `cargo bench` passes flags only; a name filter is a bare argument.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters.is_empty() {
        print_ratios();
    }
    let next_cascades = |f: &String| f.contains("next") && !f.contains("adl");
    if filters.is_empty() || filters.iter().any(next_cascades) {
        print_next_ratios();
    }
    if filters.is_empty() || filters.iter().any(|f| f.contains("adl")) {
        print_next_adl_shapes();
        if !filters.iter().any(|f| f.contains("next")) {
            print_adl_shapes();
        }
    }
    divan::main();
}

/// Timed pairs of runs per market for the ratio lines.
const PAIRS: usize = 7;

/// Each market's kernel and peer runs, interleaved in `PAIRS` pairs after
/// an untimed run of each (the one that prints the market's shape), and
/// the ratio of their times (above 1: the kernel is slower): the median
/// pair's, with the range of all pairs. Interleaving gives both sides the
/// same moments of a noisy machine.
fn print_ratios() {
    // Accounts, and at most how many liquidations a round (0: no cap).
    let markets = [
        (10_000, 0),
        (100_000, 0),
        (1_000_000, 0),
        (100_000, 1_000),
        (1_000_000, 1_000),
    ];
    for (accounts, cap) in markets {
        let (name, s) = match cap {
            0 => ("single", single(accounts)),
            _ => ("long", long(accounts)),
        };
        let mut buffers = Buffers::new(&s);
        let market = naive::Market::from(&s);
        let mut accounts_f64 = Vec::new();
        print_shape(name, accounts, &s, &mut buffers, &market, &mut accounts_f64);
        let mut kernel = || {
            run_scenario_in(&mut buffers, &s, &mut ()).expect("the bench's scenario is valid");
        };
        let mut peer = || {
            naive::run(&mut accounts_f64, &market);
        };
        let pairs: Vec<(f64, f64)> = (0..PAIRS)
            .map(|_| (seconds(&mut kernel), seconds(&mut peer)))
            .collect();
        let (k, k_low, k_high) = spread(pairs.iter().map(|p| p.0 * 1e3).collect());
        let (p, p_low, p_high) = spread(pairs.iter().map(|p| p.1 * 1e3).collect());
        let (r, r_low, r_high) = spread(pairs.iter().map(|p| p.0 / p.1).collect());
        println!(
            "{name} {accounts}: firesale {k:.2} ms ({k_low:.2}-{k_high:.2}), \
             peer {p:.2} ms ({p_low:.2}-{p_high:.2}), \
             firesale/peer {r:.2} ({r_low:.2}-{r_high:.2}, {PAIRS} pairs)"
        );
    }
}

/// Counts what a cascade did, from its events: the rounds, and those with
/// at least one liquidation (the report counts the rest).
#[derive(Default)]
struct Shape {
    rounds: u32,
    liquidating_rounds: u32,
    last_liquidating_round: u32,
}

impl EventSink for Shape {
    fn emit(&mut self, event: &Event) {
        match *event {
            Event::RoundStarted { round } => self.rounds = round,
            Event::Liquidation { round, .. } if round != self.last_liquidating_round => {
                self.liquidating_rounds += 1;
                self.last_liquidating_round = round;
            }
            _ => {}
        }
    }
}

/// One line of what each side's cascade of `s` did, from an untimed run of
/// each in the storage the timed runs then reuse, so that a ratio is read
/// beside the work behind it.
fn print_shape(
    name: &str,
    accounts: usize,
    s: &Scenario,
    buffers: &mut Buffers,
    market: &naive::Market,
    rows: &mut Vec<(f64, f64)>,
) {
    let mut shape = Shape::default();
    let kernel = run_scenario_in(buffers, s, &mut shape).expect("the bench's scenario is valid");
    let peer = naive::run(rows, market);
    let peer_accounts = naive::accounts_liquidated(rows, market);
    println!(
        "{name} {accounts} shape: firesale {} rounds, {} with liquidations, {} steps, \
         {} accounts; peer {} rounds, {} with liquidations, {} steps, {} accounts",
        shape.rounds,
        shape.liquidating_rounds,
        kernel.report.liquidations,
        kernel.report.accounts_liquidated,
        peer.rounds,
        peer.liquidating_rounds,
        peer.liquidations,
        peer_accounts,
    );
}

/// The median, least and greatest of `values` (an odd count).
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

/// Seconds one call of `run` takes.
fn seconds(run: &mut impl FnMut()) -> f64 {
    let start = std::time::Instant::now();
    run();
    start.elapsed().as_secs_f64()
}

/// The caller storage one account takes: its balances, its scratch slot
/// and its share of the flag words (the engine's own state and checkpoint
/// do not grow with the accounts).
fn state_bytes_per_account(assets: usize, accounts: usize) -> f64 {
    let row = assets * size_of::<Qty>() + size_of::<Candidate>();
    let flags = flag_words(accounts) * size_of::<u32>();
    row as f64 + flags as f64 / accounts as f64
}

/// Times the kernel's cascade of `s`. An untimed first run counts the
/// liquidations (the throughput counter) in the storage the timed runs
/// then reuse.
fn bench_kernel(bencher: divan::Bencher, s: &Scenario) {
    let mut buffers = Buffers::new(s);
    let first = run_scenario_in(&mut buffers, s, &mut ()).expect("the bench's scenario is valid");
    bencher
        .counter(ItemsCount::new(first.report.liquidations))
        .bench_local(|| {
            run_scenario_in(&mut buffers, black_box(s), &mut ()).map(|o| o.report.liquidations)
        });
}

/// Times the peer's cascade of `s`, after an untimed run that counts its
/// liquidations, over one account vector kept from run to run.
fn bench_peer(bencher: divan::Bencher, s: &Scenario) {
    let market = naive::Market::from(s);
    let mut accounts = Vec::new();
    bencher
        .counter(ItemsCount::new(
            naive::run(&mut accounts, &market).liquidations,
        ))
        .bench_local(|| naive::run(&mut accounts, black_box(&market)).liquidations);
}

/// The fast cascade, [`firesale_harness::markets::fast_cascade`]: the default
/// market scaled to `accounts`, falling 1.5% at the start of each of the
/// first 15 rounds (0.985^15 = 0.797, the bundled default's 20% drop spread
/// over 15 rounds); about half of the accounts liquidated over 15 to 30
/// rounds.
fn single(accounts: usize) -> Scenario {
    firesale_harness::markets::fast_cascade(accounts).expect("the bench's population is valid")
}

#[divan::bench(args = [10_000, 100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn firesale_single(bencher: divan::Bencher, accounts: usize) {
    bench_kernel(bencher, &single(accounts));
}

#[divan::bench(args = [10_000, 100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn naive_single(bencher: divan::Bencher, accounts: usize) {
    bench_peer(bencher, &single(accounts));
}

/// The single-collateral market with at most 1,000 liquidations per round
/// (the containment rate limit): a cascade of hundreds of rounds.
fn long(accounts: usize) -> Scenario {
    let mut s = single(accounts);
    s.limits.rate_limit.max_accounts_per_round = 1_000;
    s.max_rounds = 2_000;
    s
}

#[divan::bench(args = [100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn firesale_long(bencher: divan::Bencher, accounts: usize) {
    bench_kernel(bencher, &long(accounts));
}

#[divan::bench(args = [100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn naive_long(bencher: divan::Bencher, accounts: usize) {
    bench_peer(bencher, &long(accounts));
}

/// 10^5 accounts over 7 risky assets in their own pools.
fn cross8(accounts: usize) -> Scenario {
    let mut s = firesale_harness::markets::default_lending();
    let pool = |reserve: f64| VenueConfig::ConstantProduct {
        base_reserve: Qty::from_f64(reserve),
        fee: Ratio::from_f64(0.003),
        resilience: Ratio::from_f64(0.2),
    };
    s.assets.truncate(1);
    s.asset_names.truncate(1);
    for i in 0..7 {
        let price = 100.0 * f64::from(i + 1);
        s.assets.push(risky(
            price,
            [0.75, 0.78, 0.82],
            0.05,
            pool(2.0e6 / price * 40.0),
        ));
        s.asset_names.push(format!("A{}", i + 1));
    }
    let mut population = Population::lending(accounts, 8, 1);
    population.assets = (1..8).collect();
    s.balances = population
        .generate(&s.assets)
        .expect("the bench's population is valid");
    s.shocks = vec![Shock {
        round: 1,
        asset: 1,
        kind: ShockKind::MovePrice(Ratio::from_f64(0.75)),
    }];
    s
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn firesale_cross8(bencher: divan::Bencher) {
    bench_kernel(bencher, &cross8(100_000));
}

/// One maintenance health evaluation of a row of `assets`
/// (`population::health_sample`: every branch and product runs).
#[divan::bench(args = [2, 8])]
fn health_evaluation(bencher: divan::Bencher, assets: usize) {
    let (row, index, weighted) = health_sample(assets);
    bencher.bench_local(|| health(black_box(&row), black_box(&index), black_box(&weighted)));
}

/// The first cascade an analyst writes: floats, a full rescan every round.
mod naive {
    use firesale_core::{Policy, ShockKind, VenueConfig};
    use firesale_harness::Scenario;

    /// Accounts as (collateral units, debt in quote), and the pool.
    pub struct Market {
        accounts: Vec<(f64, f64)>,
        weight: f64,
        bonus: f64,
        close_factor: f64,
        full_close_health: f64,
        base: f64,
        quote: f64,
        fee: f64,
        resilience: f64,
        /// Falls as (round, ratio), in round order: the scenario's
        /// `MovePrice` shocks (the only kind the peer models).
        shocks: Vec<(u32, f64)>,
        max_rounds: u32,
        /// Most liquidations per round (0: none): the scenario's rate
        /// limit, as the kernel applies it.
        cap: u64,
    }

    impl From<&Scenario> for Market {
        fn from(s: &Scenario) -> Self {
            let n = s.assets.len();
            let eth = &s.assets[1];
            let (base, fee, resilience) = match eth.venue {
                VenueConfig::ConstantProduct {
                    base_reserve,
                    fee,
                    resilience,
                } => (base_reserve.to_f64(), fee.to_f64(), resilience.to_f64()),
                _ => (1.0, 0.0, 0.0),
            };
            let (close_factor, full_close_health) = match s.policy {
                Policy::CloseFactor {
                    close_factor,
                    full_close_health_factor,
                    ..
                } => (close_factor.to_f64(), full_close_health_factor.to_f64()),
                _ => (1.0, 1.0),
            };
            let shocks = s
                .shocks
                .iter()
                .map(|shock| match shock.kind {
                    ShockKind::MovePrice(r) if shock.asset == 1 => (shock.round, r.to_f64()),
                    _ => panic!("the peer models only price moves of asset 1"),
                })
                .collect();
            Market {
                accounts: s
                    .balances
                    .chunks(n)
                    .map(|row| (row[1].to_f64(), -row[0].to_f64()))
                    .collect(),
                weight: eth.asset_weights.maint.to_f64(),
                bonus: eth.liquidation_bonus.to_f64(),
                close_factor,
                full_close_health,
                base,
                quote: base * eth.price.to_f64(),
                fee,
                resilience,
                shocks,
                max_rounds: s.max_rounds,
                cap: u64::from(s.limits.rate_limit.max_accounts_per_round),
            }
        }
    }

    /// What a run did.
    pub struct Summary {
        pub rounds: u32,
        pub liquidating_rounds: u32,
        pub liquidations: u64,
    }

    /// Runs to the end over a copy of the accounts in `accounts` (kept from
    /// run to run, as the kernel's storage is). Under a cap it rescans
    /// every account each round and liquidates the lowest-health `cap` of
    /// the liquidatable, lowest first (ties by id): the order a keeper
    /// ranking the whole book would take.
    pub fn run(accounts: &mut Vec<(f64, f64)>, m: &Market) -> Summary {
        accounts.clear();
        accounts.extend_from_slice(&m.accounts);
        let (mut base, mut quote) = (m.base, m.quote);
        let mut outside = quote / base;
        let mut shocks = m.shocks.iter().peekable();
        let mut summary = Summary {
            rounds: 0,
            liquidating_rounds: 0,
            liquidations: 0,
        };
        let mut due: Vec<(f64, usize)> = Vec::new();
        for round in 1..=m.max_rounds {
            summary.rounds = round;
            // A fall moves the outside price from the pool's, and
            // arbitrage takes the pool there along its curve.
            while let Some((_, ratio)) = shocks.next_if(|(at, _)| *at == round) {
                outside = quote / base * ratio;
                base = (base * quote / outside).sqrt();
                quote = base * outside;
            }
            let price = quote / base;
            let health = |(collateral, debt): (f64, f64)| collateral * price * m.weight / debt;
            // One liquidation of an account at `health`, selling into the
            // pool.
            let mut liquidate = |account: &mut (f64, f64), health: f64| {
                let (collateral, debt) = account;
                let share = if health <= m.full_close_health {
                    1.0
                } else {
                    m.close_factor
                };
                let repay = (*debt * share).min(*collateral * price / (1.0 + m.bonus));
                let seized = (repay * (1.0 + m.bonus) / price).min(*collateral);
                let sold = seized * (1.0 - m.fee);
                let out = quote * sold / (base + sold);
                base += seized;
                quote -= out;
                *collateral -= seized;
                *debt -= repay;
                if *collateral <= 0.0 {
                    // Nothing left to seize: the rest of the debt is bad
                    // debt, written off (firesale's waterfall).
                    *debt = 0.0;
                }
            };
            let mut this_round = 0u64;
            if m.cap == 0 {
                for account in accounts.iter_mut() {
                    if account.1 <= 0.0 {
                        continue;
                    }
                    let h = health(*account);
                    if h < 1.0 {
                        liquidate(account, h);
                        this_round += 1;
                    }
                }
            } else {
                due.clear();
                due.extend(
                    accounts
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| a.1 > 0.0)
                        .map(|(i, a)| (health(*a), i))
                        .filter(|(h, _)| *h < 1.0),
                );
                let lowest =
                    |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                let cap = (m.cap as usize).min(due.len());
                if cap < due.len() {
                    due.select_nth_unstable_by(cap, lowest);
                    due.truncate(cap);
                }
                due.sort_unstable_by(lowest);
                for &(h, i) in &due {
                    liquidate(&mut accounts[i], h);
                }
                this_round = due.len() as u64;
            }
            summary.liquidations += this_round;
            summary.liquidating_rounds += u32::from(this_round > 0);
            // Arbitrage pulls the pool a share of the way back to outside.
            let target_base = (base * quote / outside).sqrt();
            let k = base * quote;
            base += (target_base - base) * m.resilience;
            quote = k / base;
            let settled = ((quote / base) / outside - 1.0).abs() < 1e-12;
            if this_round == 0 && settled && shocks.peek().is_none() {
                break;
            }
        }
        summary
    }

    /// How many accounts a run left in `accounts` differ from the market's:
    /// those it liquidated (counted after the run, not inside the timed
    /// loop).
    pub fn accounts_liquidated(accounts: &[(f64, f64)], m: &Market) -> usize {
        accounts
            .iter()
            .zip(&m.accounts)
            .filter(|(now, before)| now != before)
            .count()
    }
}

/// Sizes of the auto-deleveraging benches: `FIRESALE_ADL_ACCOUNTS` (a
/// comma-separated list), else the 1,375 and 2,750.
fn adl_sizes() -> Vec<usize> {
    match std::env::var("FIRESALE_ADL_ACCOUNTS") {
        Ok(list) => list
            .split(',')
            .map(|n| n.trim().parse().expect("FIRESALE_ADL_ACCOUNTS: numbers"))
            .collect(),
        Err(_) => vec![1_375, 2_750],
    }
}

/// The bundled perp-crash-2025 replay (4,000 levered BTC longs, 1,500
/// shorts, a 16-level book of 100 BTC a level, an insurance fund of 300,000
/// that runs out) at `accounts` accounts in the same proportions, with
/// `ranking`. The book keeps its depth up to the replay's 5,500 accounts
/// (the runs at 1,375 and 2,750) and deepens with the accounts
/// beyond, so that a larger market's sales do not exhaust it.
fn perp_crash(accounts: usize, ranking: AdlRanking) -> Scenario {
    let source = firesale_harness::bundled::find("perp-crash-2025")
        .expect("the replay is bundled")
        .source;
    let longs = accounts * 4_000 / 5_500;
    let depth = 100.0 * (accounts as f64 / 5_500.0).max(1.0);
    let text = source
        .replace("count = 4000", &format!("count = {longs}"))
        .replace("count = 1500", &format!("count = {}", accounts - longs))
        .replace("depth = 100,", &format!("depth = {depth},"));
    let mut s = firesale_harness::scenario_file::parse(&text).expect("the replay parses");
    assert_eq!(s.accounts(), accounts);
    s.limits.deleveraging = Some(ranking);
    s
}

/// Counts deleveragings at the bankruptcy price (the units that slice) and
/// their slices.
#[derive(Default)]
struct AdlShape {
    units: u64,
    slices: u64,
    last: Option<(u32, u32)>,
}

impl EventSink for AdlShape {
    fn emit(&mut self, event: &Event) {
        if let Event::Deleveraged { round, account, .. } = *event {
            self.slices += 1;
            if self.last != Some((round, account)) {
                self.units += 1;
                self.last = Some((round, account));
            }
        }
    }
}

/// One untimed run of each auto-deleveraging market: what it did and how
/// long it took.
fn print_adl_shapes() {
    for ranking in [AdlRanking::ProRata, AdlRanking::Ranked] {
        for accounts in adl_sizes() {
            let s = perp_crash(accounts, ranking);
            let mut shape = AdlShape::default();
            let mut outcome = None;
            let time = seconds(&mut || {
                outcome = Some(run_scenario_in(&mut Buffers::new(&s), &s, &mut shape));
            });
            let report = outcome
                .expect("ran")
                .expect("the bench's scenario is valid")
                .report;
            println!(
                "adl {ranking:?} {accounts} shape: {} rounds, {} bankruptcies, {} deleveragings \
                 at the bankruptcy price in {} slices; {time:.2} s",
                report.rounds, report.bankruptcies, shape.units, shape.slices
            );
        }
    }
}

fn bench_adl(bencher: divan::Bencher, accounts: usize, ranking: AdlRanking) {
    let s = perp_crash(accounts, ranking);
    let mut buffers = Buffers::new(&s);
    bencher.bench_local(|| {
        run_scenario_in(&mut buffers, black_box(&s), &mut ()).map(|o| o.report.bankruptcies)
    });
}

#[divan::bench(args = adl_sizes(), sample_count = 3, sample_size = 1)]
fn adl_pro_rata(bencher: divan::Bencher, accounts: usize) {
    bench_adl(bencher, accounts, AdlRanking::ProRata);
}

/// Sizes of the next engine's deleveraging benches: the 10^5, and
/// 10^4 and 10^6.
const NEXT_ADL_SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

/// Pro-rata deleveraging in the next engine, through its per-side index:
/// the perp-crash-2025 replay at 10^4-10^6 accounts.
#[divan::bench(args = NEXT_ADL_SIZES, sample_count = 3, sample_size = 1)]
fn next_adl_pro_rata(bencher: divan::Bencher, accounts: usize) {
    let mut run = NextRun::from_scenario(&perp_crash(accounts, AdlRanking::ProRata))
        .expect("the bench converts its scenario");
    bencher.bench_local(|| run.run().map(|(_, r)| r.deleveraged));
}

/// Ranked deleveraging in the next engine: the same replay and sizes.
#[divan::bench(args = NEXT_ADL_SIZES, sample_count = 3, sample_size = 1)]
fn next_adl_ranked(bencher: divan::Bencher, accounts: usize) {
    let mut run = NextRun::from_scenario(&perp_crash(accounts, AdlRanking::Ranked))
        .expect("the bench converts its scenario");
    bencher.bench_local(|| run.run().map(|(_, r)| r.deleveraged));
}

/// One untimed run of the next engine's markets at each size, both
/// rankings.
fn print_next_adl_shapes() {
    for ranking in [AdlRanking::ProRata, AdlRanking::Ranked] {
        for accounts in NEXT_ADL_SIZES {
            let s = perp_crash(accounts, ranking);
            let mut run = NextRun::from_scenario(&s).expect("the bench converts its scenario");
            let mut shape = AdlShape::default();
            let mut outcome = None;
            let time = seconds(&mut || outcome = Some(run.run_with(&mut NextShape(&mut shape))));
            let (end, report) = outcome
                .expect("ran")
                .expect("the bench's scenario is valid");
            println!(
                "next adl {ranking:?} {accounts} shape: {end:?} after {} rounds, {} liquidations, \
                 {} bankruptcies, {} deleveragings at the bankruptcy price in {} slices, \
                 {} valuations; {time:.3} s",
                report.rounds,
                report.liquidations,
                report.bankruptcies,
                report.deleveraged,
                shape.slices,
                report.valued
            );
        }
    }
}

/// Counts the next engine's close events (one a counterparty, ranked; one
/// a close, pro rata) as [`AdlShape`] counts the kernel's.
struct NextShape<'a>(&'a mut AdlShape);

impl firesale_next::engine::EventSink for NextShape<'_> {
    fn emit(&mut self, event: &firesale_next::engine::Event) {
        if let firesale_next::engine::Event::Deleveraged { .. } = event {
            self.0.slices += 1;
        }
    }
}

#[divan::bench(args = adl_sizes(), sample_count = 3, sample_size = 1)]
fn adl_ranked(bencher: divan::Bencher, accounts: usize) {
    bench_adl(bencher, accounts, AdlRanking::Ranked);
}

/// The fast cascade in the next engine, and its ratio to the peer: the
/// median of seven interleaved pairs of timed runs, with their range.
fn print_next_ratios() {
    let markets = [
        ("single", single(10_000)),
        ("single", single(100_000)),
        ("single", single(1_000_000)),
        ("long", long(100_000)),
        ("long", long(1_000_000)),
    ];
    for (name, s) in markets {
        let accounts = s.balances.len() / s.assets.len();
        let mut next = NextRun::from_scenario(&s).expect("the bench converts its scenario");
        let market = naive::Market::from(&s);
        let mut rows = Vec::new();
        let (end, report) = next.run().expect("the bench's market is valid");
        let peer = naive::run(&mut rows, &market);
        println!(
            "next {name} {accounts} shape: {end:?} after {} rounds, {} liquidations, {} steps, \
             {} bankruptcies, {} accounts valued, {} deferred; peer {} rounds, {} steps",
            report.rounds,
            report.liquidations,
            report.steps,
            report.bankruptcies,
            report.valued,
            report.deferred,
            peer.rounds,
            peer.liquidations
        );
        let pairs: Vec<(f64, f64)> = (0..PAIRS)
            .map(|_| {
                (
                    seconds(&mut || {
                        let _ = next.run();
                    }),
                    seconds(&mut || {
                        naive::run(&mut rows, &market);
                    }),
                )
            })
            .collect();
        let (k, k_low, k_high) = spread(pairs.iter().map(|p| p.0 * 1e3).collect());
        let (p, p_low, p_high) = spread(pairs.iter().map(|p| p.1 * 1e3).collect());
        let (r, r_low, r_high) = spread(pairs.iter().map(|p| p.0 / p.1).collect());
        println!(
            "next {name} {accounts}: next {k:.2} ms ({k_low:.2}-{k_high:.2}), \
             peer {p:.2} ms ({p_low:.2}-{p_high:.2}), \
             next/peer {r:.2} ({r_low:.2}-{r_high:.2}, {PAIRS} pairs)"
        );
    }
}

/// The fast cascade in the next engine (see `print_next_ratios`).
#[divan::bench(args = [10_000, 100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn next_single(bencher: divan::Bencher, accounts: usize) {
    bench_next(bencher, &single(accounts));
}

/// The long cascade (at most 1,000 liquidations a round) in the next
/// engine.
#[divan::bench(args = [100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn next_long(bencher: divan::Bencher, accounts: usize) {
    bench_next(bencher, &long(accounts));
}

fn bench_next(bencher: divan::Bencher, s: &Scenario) {
    let mut run = NextRun::from_scenario(s).expect("the bench converts its scenario");
    let (_, report) = run.run().expect("the bench's market is valid");
    bencher
        .counter(ItemsCount::new(report.liquidations))
        .bench_local(|| run.run().map(|(_, r)| r.liquidations));
}

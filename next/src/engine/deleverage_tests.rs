//! Auto-deleveraging in the engine: the pro-rata close against the other
//! side, losses taken from the shorts, lenders left whole, the audit after
//! every unit, the watch against a full rescan, budgets.

use super::tests::{aave, audited, draws, eth, pool, step_by, usdc, watch_checks, Log, Run};
use super::*;
use crate::num::Ratio;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

pub(super) const ETH_UNIT: i64 = 1_000_000_000;
pub(super) const USDC_UNIT: i64 = 1_000_000;

/// ETH margined as a perpetual: maintenance 2.5% either way.
pub(super) fn perp_eth() -> AssetConfig {
    AssetConfig {
        asset_weights: Weights {
            maint: Ratio::from_bps(9_750),
            liq_end: Ratio::from_bps(9_700),
        },
        liability_weights: Weights {
            maint: Ratio::from_bps(10_250),
            liq_end: Ratio::from_bps(10_300),
        },
        liquidation_bonus: Ratio::from_bps(100),
        ..eth(pool(10_000 * ETH_UNIT))
    }
}

/// The quote and [`perp_eth`].
pub(super) fn perp_market() -> [AssetConfig; 2] {
    [usdc(), perp_eth()]
}

pub(super) fn deleveraging<'c>(
    assets: &'c [AssetConfig],
    shocks: &'c [Shock],
    insurance: i64,
) -> EngineConfig<'c> {
    EngineConfig {
        assets,
        policy: aave(),
        max_rounds: 200,
        oracle_lag_rounds: 0,
        insurance_fund: Value(insurance),
        shocks,
        max_accounts_per_round: 0,
        deleveraging: Some(Deleveraging::ProRata),
        containment: Containment::OFF,
    }
}

pub(super) fn moves(rounds: core::ops::RangeInclusive<u32>, bps: u32) -> Vec<Shock> {
    rounds
        .map(|round| Shock {
            round,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_bps(bps)),
        })
        .collect()
}

#[test]
fn a_bankrupt_long_is_closed_against_each_short_in_proportion() {
    // A long of 10 ETH owing 19,000 USDC, two shorts of 5 and 15 ETH, a
    // lender. ETH falls 10%: the long is 1,000 underwater, the fund is
    // empty, and the shorts (20 ETH) take its whole position at its
    // bankruptcy price, 1,900: 2.5 and 7.5 ETH each for 4,750 and 14,250.
    let rows = vec![
        Qty(-19_000 * USDC_UNIT),
        Qty(10 * ETH_UNIT),
        Qty(10_000 * USDC_UNIT),
        Qty(-5 * ETH_UNIT),
        Qty(30_000 * USDC_UNIT),
        Qty(-15 * ETH_UNIT),
        Qty(50_000 * USDC_UNIT),
        Qty(0),
    ];
    let start = rows.clone();
    let (assets, shocks) = (perp_market(), moves(1..=1, 9_000));
    let cfg = deleveraging(&assets, &shocks, 0);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let closes: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Deleveraged { .. }))
        .collect();
    assert_eq!(
        closes,
        [&Event::Deleveraged {
            round: 1,
            account: 0,
            asset: 1,
            long: true,
            size: Qty(10 * ETH_UNIT),
            quote: Value(19_000 * USDC_UNIT),
            counterparty: None,
        }]
    );
    assert_eq!(e.balances_now(0).unwrap().as_slice(), [Qty(0), Qty(0)]);
    let now = |id: usize| e.balances_now(id).unwrap();
    let (a, b) = (now(1), now(2));
    let eth_taken = |row: &[Qty], start: i64| row[1].0 - start;
    let quote_paid = |row: &[Qty], start: i64| start - row[0].0;
    let (taken_a, taken_b) = (eth_taken(&a, start[3].0), eth_taken(&b, start[5].0));
    let (paid_a, paid_b) = (quote_paid(&a, start[2].0), quote_paid(&b, start[4].0));
    // In proportion to 5 : 15, each within the roundings' unit or two, in
    // the protocol's favour: the shorts take at most the 10 ETH and pay at
    // least the 19,000.
    assert!((taken_a * 3 - taken_b).abs() <= 3, "{taken_a} {taken_b}");
    assert!((paid_a * 3 - paid_b).abs() <= 3, "{paid_a} {paid_b}");
    let (taken, paid) = (taken_a + taken_b, paid_a + paid_b);
    assert!(
        (10 * ETH_UNIT - 4..=10 * ETH_UNIT).contains(&taken),
        "{taken}"
    );
    assert!(
        (19_000 * USDC_UNIT..=19_000 * USDC_UNIT + 4).contains(&paid),
        "{paid}"
    );
    // The lender is untouched, and nothing was written off.
    assert_eq!(now(3).as_slice(), &start[6..8]);
    assert!(!events.iter().any(|e| matches!(e, Event::WrittenOff { .. })));
    assert_eq!(e.report().deleveraged, 1);
}

/// A perpetuals book: longs of ETH owing USDC at 2-20x, shorts of ETH
/// holding USDC at 2-10x, and lenders of USDC only.
pub(super) fn perp_rows(accounts: usize, seed: u64) -> Vec<Qty> {
    perp_book(accounts, seed, 7)
}

/// [`perp_rows`] with `shorts` in 20 accounts short.
pub(super) fn perp_book(accounts: usize, seed: u64, shorts: u64) -> Vec<Qty> {
    let mut draw = draws(seed);
    let mut rows = Vec::new();
    for _ in 0..accounts {
        let size = ETH_UNIT + draw(9 * ETH_UNIT as u64) as i64;
        // Worth 2,000 USDC an ETH: 2 USDC base units a base unit.
        let worth = size * 2;
        match draw(20) {
            0..=10 => {
                let leverage = 2 + draw(19) as i64;
                rows.extend([Qty(-(worth - worth / leverage)), Qty(size)]);
            }
            k if (11..11 + shorts).contains(&k) => {
                let leverage = 2 + draw(9) as i64;
                rows.extend([Qty(worth + worth / leverage), Qty(-size)]);
            }
            _ => rows.extend([Qty(worth), Qty(0)]),
        }
    }
    rows
}

pub(super) fn lenders(rows: &[Qty]) -> Vec<usize> {
    (0..rows.len() / 2)
        .filter(|&id| rows[2 * id] > Qty(0) && rows[2 * id + 1] == Qty(0))
        .collect()
}

#[test]
fn a_crash_closes_longs_against_the_shorts_and_leaves_lenders_whole() {
    let rows = perp_rows(400, 5);
    let shocks = moves(1..=4, 9_300);
    let assets = [usdc(), perp_eth()];
    let cfg = deleveraging(&assets, &shocks, 1_000 * USDC_UNIT);
    let mut run = Run::new(rows.clone(), 2);
    let mut e = run.engine(&cfg);
    let (end, events) = audited(&mut e);
    assert_eq!(end, Termination::FixedPoint);
    let longs_closed = events
        .iter()
        .filter(|e| matches!(e, Event::Deleveraged { long: true, .. }))
        .count();
    assert!(longs_closed > 5, "{longs_closed} closed: {:?}", e.report());
    // The lenders hold what they lent: their shares, at an index of one.
    assert_eq!(e.markets()[0].state.index, Index::ONE);
    for id in lenders(&rows) {
        let now = e.balances_now(id).unwrap();
        assert_eq!(now.as_slice(), &rows[2 * id..2 * id + 2], "lender {id}");
    }
    // Losses past the fund went to the shorts.
    let charged: i64 = events
        .iter()
        .filter_map(|e| match e {
            Event::WrittenOff { written, .. } => Some(written.deleveraged.0),
            _ => None,
        })
        .sum();
    assert!(charged > 0 && e.sides()[1].charged > 0, "{charged}");
    // The same market without it cuts the lenders of USDC.
    let mut plain = cfg;
    plain.deleveraging = None;
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&plain);
    audited(&mut e);
    assert!(e.markets()[0].state.index < Index::ONE);
}

#[test]
fn a_squeeze_closes_shorts_against_the_longs() {
    let rows = perp_rows(400, 9);
    let (assets, shocks) = (perp_market(), moves(1..=4, 10_800));
    let cfg = deleveraging(&assets, &shocks, 0);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let shorts_closed = events
        .iter()
        .filter(|e| matches!(e, Event::Deleveraged { long: false, .. }))
        .count();
    assert!(shorts_closed > 5, "{shorts_closed}: {:?}", e.report());
    // The longs gave their ETH up through the deposit index, and were
    // paid through their credit.
    assert!(e.markets()[1].state.index < Index::ONE);
    assert!(e.sides()[1].credited > 0);
}

#[test]
fn under_deleveraging_the_watch_still_finds_every_liquidatable_account() {
    let assets = [usdc(), perp_eth()];
    // A crash, a squeeze, and a crash whose losses fall on a short side
    // of one account in 20 (its charges make shorts liquidatable).
    let cases = [
        (moves(1..=6, 9_500), perp_rows(600, 3)),
        (moves(1..=6, 10_500), perp_rows(600, 4)),
        (moves(1..=6, 9_200), perp_book(600, 6, 1)),
    ];
    for (shocks, rows) in cases {
        let (checked, found) = watch_checks(
            &assets,
            &shocks,
            aave(),
            rows,
            (0, Some(Deleveraging::ProRata)),
        );
        assert!(checked > 3 && found > 20, "{checked} rounds, {found} found");
    }
}

fn budgeted(budgets: &[u32], rows: Vec<Qty>, shocks: &[Shock]) -> (u64, Vec<Event>, Termination) {
    let assets = perp_market();
    let cfg = deleveraging(&assets, shocks, 500 * USDC_UNIT);
    let mut run = Run::new(rows, 2);
    step_by(&mut run.engine(&cfg), budgets)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Under deleveraging too, any sequence of budgets reaches the same
    /// events and digest as one unbounded call.
    #[test]
    fn budgets_do_not_change_a_deleveraging_run(
        budgets in proptest::collection::vec(1u32..40, 1..8),
        seed in 1u64..1_000,
        up in any::<bool>(),
    ) {
        let shocks = moves(1..=4, if up { 10_700 } else { 9_300 });
        let rows = perp_rows(150, seed);
        let whole = budgeted(&[u32::MAX], rows.clone(), &shocks);
        let stepped = budgeted(&budgets, rows, &shocks);
        let closed = whole.1.iter().any(|e| matches!(e, Event::Deleveraged { .. }));
        prop_assert!(closed, "nothing deleveraged");
        prop_assert_eq!(&whole.1, &stepped.1);
        prop_assert_eq!(whole.0, stepped.0);
        prop_assert_eq!(whole.2, stepped.2);
    }
}

#[test]
fn deleveraging_needs_its_storage() {
    let (assets, shocks): (_, [Shock; 0]) = (perp_market(), []);
    let cfg = deleveraging(&assets, &shocks, 0);
    let mut balances = perp_rows(4, 1);
    let mut links = vec![0; Storage::link_words(4)];
    let mut queue = vec![Candidate::default(); Storage::queue_slots(4)];
    let storage = Storage {
        balances: &mut balances,
        links: &mut links,
        queue: &mut queue,
        snaps: &mut [],
        ranks: &mut [],
    };
    let refused = Engine::<4, 4>::new(&cfg, storage).err();
    assert_eq!(refused, Some(ConfigError::Storage));
}

/// The digest of a small crash and squeeze under deleveraging, computed on
/// x86_64: `tests/miri.sh` checks it on s390x (big-endian) and i686
/// (32-bit), where the accumulators and the index are the same bits.
const DELEVERAGING_DIGESTS: [u64; 2] = [0x668d_7ce8_c1bb_d871, 0xf856_2b0a_83c8_c4a8];

#[test]
fn deleveraging_runs_have_the_committed_digests() {
    let digests = [9_300, 10_800].map(|bps| {
        let (assets, shocks) = (perp_market(), moves(1..=3, bps));
        let cfg = deleveraging(&assets, &shocks, 0);
        let mut run = Run::new(perp_book(40, 12, 9), 2);
        let mut e = run.engine(&cfg);
        let mut log = Log::default();
        e.run(&mut log);
        let closes = log
            .0
            .iter()
            .filter(|e| matches!(e, Event::Deleveraged { .. }));
        assert!(closes.count() > 0, "nothing deleveraged at {bps}");
        e.digest()
    });
    assert_eq!(digests, DELEVERAGING_DIGESTS, "{digests:x?}");
}

#[test]
fn longs_of_two_assets_are_paid_by_each_bankrupt_short_to_the_unit() {
    // Two bankrupt shorts, one of each risky asset (1,900 USDC against an
    // ETH worth 2,000), and 50 accounts long 1 of each: each short's
    // 1,900 goes to the 50, 38 USDC each, less a unit of rounding.
    let mut rows = vec![
        Qty(1_900 * USDC_UNIT),
        Qty(-ETH_UNIT),
        Qty(0),
        Qty(1_900 * USDC_UNIT),
        Qty(0),
        Qty(-ETH_UNIT),
    ];
    for _ in 0..50 {
        rows.extend([Qty(0), Qty(ETH_UNIT), Qty(ETH_UNIT)]);
    }
    let (assets, shocks): (_, [Shock; 0]) = ([usdc(), perp_eth(), perp_eth()], []);
    let cfg = deleveraging(&assets, &shocks, 0);
    let mut run = Run::new(rows, 3);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let closes = events
        .iter()
        .filter(|e| matches!(e, Event::Deleveraged { long: false, .. }))
        .count();
    assert_eq!(closes, 2);
    for id in 2..52 {
        let quote = e.balances_now(id).unwrap()[0].0;
        assert!(
            (2 * 38 * USDC_UNIT - 2..=2 * 38 * USDC_UNIT).contains(&quote),
            "{id}: {quote}"
        );
    }
}

#[test]
fn a_token_of_many_decimals_is_credited_and_conserved() {
    // A token of 10^-9 quote units a base unit, held by two longs as 9e18
    // shares; 20 bankrupt shorts owe 1e17 each against 95 USDC. Each
    // close's credit is far under a quote unit a share: the accumulator's
    // fraction bits must keep it.
    let token = AssetConfig {
        price: Price::new(1_000, 12).unwrap(),
        dust: Qty(1),
        venue: pool(1_000_000_000_000_000),
        ..perp_eth()
    };
    let assets = [usdc(), token];
    let half = 4_500_000_000_000_000_000;
    let mut rows = vec![Qty(0), Qty(half), Qty(0), Qty(half)];
    for k in 0..20i64 {
        rows.extend([
            Qty(95_000_000 - k * 1_000),
            Qty(-100_000_000_000_000_000 - k * 7_777_777),
        ]);
    }
    let shocks: [Shock; 0] = [];
    let cfg = deleveraging(&assets, &shocks, 0);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let paid: i64 = events
        .iter()
        .filter_map(|e| match e {
            Event::Deleveraged { quote, .. } => Some(quote.0),
            _ => None,
        })
        .sum();
    assert!(paid > 1_000 * USDC_UNIT, "{paid}");
    let received: i64 = (0..2).map(|id| e.balances_now(id).unwrap()[0].0).sum();
    // Each close's step rounds down by under shares / 2^64 (half a unit
    // here), each long's settlement by under a unit.
    assert!(
        (paid - 22..=paid).contains(&received),
        "{received} of {paid}"
    );
}

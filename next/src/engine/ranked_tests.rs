//! Ranked auto-deleveraging in the engine: the most leveraged opposite
//! positions first, whole, against a ranking computed from scratch before
//! every unit; rows of several positions; losses; the audit, the watch
//! against a full rescan, budgets.

use super::deleverage_tests::{
    lenders, moves, perp_book, perp_eth, perp_market, perp_rows, ETH_UNIT, USDC_UNIT,
};
use super::tests::{aave, audited, step_by, usdc, watch_checks, Log, Run};
use super::*;
use crate::num::Round;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

fn ranked<'c>(assets: &'c [AssetConfig], shocks: &'c [Shock], insurance: i64) -> EngineConfig<'c> {
    EngineConfig {
        deleveraging: Some(Deleveraging::Ranked),
        ..super::deleverage_tests::deleveraging(assets, shocks, insurance)
    }
}

/// The ranked closes among `events`: (bankrupt, counterparty, size, quote).
fn closes(events: &[Event]) -> Vec<(u32, u32, i64, i64)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Deleveraged {
                account,
                counterparty: Some(c),
                size,
                quote,
                ..
            } => Some((account, c, size.0, quote.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_bankrupt_long_is_closed_against_the_most_leveraged_shorts_whole() {
    // A long of 10 ETH owing 19,000 USDC; shorts of 5 ETH holding 12,000
    // (accounts 1 and 3) and of 15 ETH holding 40,000 (account 2); a
    // lender. ETH falls 10% to 1,800: the long is 1,000 underwater with no
    // fund. At 1,800 the small shorts have equity 3,000 for 5 ETH, the
    // large one 13,000 for 15: the small ones are more leveraged and take
    // the position whole, the lower id first, at 1,900 an ETH.
    let rows = vec![
        Qty(-19_000 * USDC_UNIT),
        Qty(10 * ETH_UNIT),
        Qty(12_000 * USDC_UNIT),
        Qty(-5 * ETH_UNIT),
        Qty(40_000 * USDC_UNIT),
        Qty(-15 * ETH_UNIT),
        Qty(12_000 * USDC_UNIT),
        Qty(-5 * ETH_UNIT),
        Qty(50_000 * USDC_UNIT),
        Qty(0),
    ];
    let start = rows.clone();
    let (assets, shocks) = (perp_market(), moves(1..=1, 9_000));
    let cfg = ranked(&assets, &shocks, 0);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let (five, paid) = (5 * ETH_UNIT, 9_500 * USDC_UNIT);
    assert_eq!(closes(&events), [(0, 1, five, paid), (0, 3, five, paid)]);
    assert_eq!(e.report().deleveraged, 1);
    let now = |id: usize| e.row(id).unwrap().to_vec();
    assert_eq!(now(0), [Qty(0), Qty(0)]);
    assert_eq!(now(1), [Qty(2_500 * USDC_UNIT), Qty(0)]);
    assert_eq!(now(3), [Qty(2_500 * USDC_UNIT), Qty(0)]);
    assert_eq!(now(2), &start[4..6]);
    assert_eq!(now(4), &start[8..10]);
}

#[test]
fn a_bankrupt_short_takes_the_most_leveraged_longs_first() {
    // A short of 10 ETH holding 20,900 USDC; longs of 8 ETH owing 12,000
    // (equity 5,600 at 2,200), of 5 owing 5,000 (6,000) and of 20 owing
    // nothing. ETH rises 10%: the short is 1,100 underwater and takes the
    // first long's 8 ETH whole and 2 of the second's, at 2,090.
    let rows = vec![
        Qty(20_900 * USDC_UNIT),
        Qty(-10 * ETH_UNIT),
        Qty(-12_000 * USDC_UNIT),
        Qty(8 * ETH_UNIT),
        Qty(-5_000 * USDC_UNIT),
        Qty(5 * ETH_UNIT),
        Qty(0),
        Qty(20 * ETH_UNIT),
    ];
    let (assets, shocks) = (perp_market(), moves(1..=1, 11_000));
    let cfg = ranked(&assets, &shocks, 0);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    assert_eq!(
        closes(&events),
        [
            (0, 1, 8 * ETH_UNIT, 16_720 * USDC_UNIT),
            (0, 2, 2 * ETH_UNIT, 4_180 * USDC_UNIT)
        ]
    );
    let now = |id: usize| e.row(id).unwrap().to_vec();
    assert_eq!(now(1), [Qty(4_720 * USDC_UNIT), Qty(0)]);
    assert_eq!(now(2), [Qty(-820 * USDC_UNIT), Qty(3 * ETH_UNIT)]);
    assert_eq!(now(3), [Qty(0), Qty(20 * ETH_UNIT)]);
}

#[test]
fn a_row_of_several_positions_ranks_with_the_rest() {
    // As above with a second risky asset: account 2 is long 8 ETH and 10
    // of it, owing 33,000 (equity 4,600 at ETH 2,200): more leveraged in
    // ETH than account 1 (8 ETH, equity 5,600), so it goes first.
    let rows = vec![
        Qty(20_900 * USDC_UNIT),
        Qty(-10 * ETH_UNIT),
        Qty(0),
        Qty(-12_000 * USDC_UNIT),
        Qty(8 * ETH_UNIT),
        Qty(0),
        Qty(-33_000 * USDC_UNIT),
        Qty(8 * ETH_UNIT),
        Qty(10 * ETH_UNIT),
    ];
    let assets = [usdc(), perp_eth(), perp_eth()];
    let shocks = moves(1..=1, 11_000);
    let cfg = ranked(&assets, &shocks, 0);
    let mut run = Run::new(rows, 3);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let taken: Vec<(u32, i64)> = closes(&events).iter().map(|c| (c.1, c.2)).collect();
    assert_eq!(taken, [(2, 8 * ETH_UNIT), (1, 2 * ETH_UNIT)]);
}

/// The counterparties a ranked close should take, computed from scratch
/// over `rows` (every account's, before the unit): the single-position
/// rows on the other side with equity above zero, by `quote / |size|`
/// (leverage falls as it rises), then id, until they cover `size`.
fn expected(e: &Engine<'_, 4, 4>, rows: &[Vec<Qty>], bankrupt: u32, long: bool) -> Vec<u32> {
    let t = e.maint[1];
    let (short, price) = (long, if long { t.price() } else { t.share_price() });
    let mut eligible: Vec<(i64, u64, u32)> = rows
        .iter()
        .enumerate()
        .filter_map(|(id, row)| {
            let (c, r) = (row[0].0, row[1].0);
            let on_side = r != 0 && (r < 0) == short;
            // A holding's worth rounds down, a debt's to more owed.
            let worth = Qty(r).value(price, Round::Down).ok()?.0;
            let positive = c.checked_add(worth)? > 0;
            (on_side && positive && id as u32 != bankrupt).then_some((
                c,
                r.unsigned_abs(),
                id as u32,
            ))
        })
        .collect();
    eligible.sort_by(|a, b| {
        let l = i128::from(a.0) * i128::from(b.1);
        let r = i128::from(b.0) * i128::from(a.1);
        l.cmp(&r).then(a.2.cmp(&b.2))
    });
    let size = rows[bankrupt as usize][1].0.unsigned_abs();
    let mut covered = 0;
    eligible
        .into_iter()
        .take_while(|&(_, r, _)| {
            let more = covered < size;
            covered += r;
            more
        })
        .map(|(_, _, id)| id)
        .collect()
}

/// Runs a unit at a time, and checks each unit's ranked closes against
/// [`expected`] from the rows before it: the same counterparties in the
/// same order (a prefix, where a close stops early), each but the last
/// taken whole. Audits after every unit. Returns the closes checked.
fn check_rankings(rows: Vec<Qty>, shocks: &[Shock], insurance: i64) -> usize {
    let assets = perp_market();
    let cfg = ranked(&assets, shocks, insurance);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let mut log = Log::default();
    let mut checked = 0;
    loop {
        let before: Vec<Vec<Qty>> = (0..e.account_count())
            .map(|id| e.row(id).unwrap().to_vec())
            .collect();
        let seen = log.0.len();
        let done = e.step(1, &mut log);
        let made = closes(&log.0[seen..]);
        if let Some(&(bankrupt, ..)) = made.first() {
            let long = before[bankrupt as usize][1].is_positive();
            let want = expected(&e, &before, bankrupt, long);
            let got: Vec<u32> = made.iter().map(|c| c.1).collect();
            assert!(
                !got.is_empty() && want.starts_with(&got),
                "{got:?} {want:?}"
            );
            for &(_, c, size, _) in &made[..made.len() - 1] {
                assert_eq!(size.unsigned_abs(), before[c as usize][1].0.unsigned_abs());
            }
            checked += 1;
        }
        e.audit().unwrap();
        if let StepOutcome::Done(_) = done {
            break;
        }
    }
    checked
}

#[test]
fn every_close_takes_the_ranking_a_full_pass_computes() {
    let crash = check_rankings(perp_rows(400, 5), &moves(1..=4, 9_300), 1_000 * USDC_UNIT);
    let squeeze = check_rankings(perp_rows(400, 9), &moves(1..=4, 10_800), 0);
    let thin = check_rankings(perp_book(300, 6, 1), &moves(1..=6, 9_200), 0);
    assert!(
        crash > 5 && squeeze > 5 && thin > 0,
        "{crash} {squeeze} {thin}"
    );
}

#[test]
fn a_crash_leaves_lenders_whole_and_losses_on_the_other_side() {
    // A fund that covers a bankrupt's deficit at the oracle, so the
    // position goes to the market, but not what the sale loses past it.
    let rows = perp_rows(400, 5);
    let shocks = moves(1..=4, 9_300);
    let assets = perp_market();
    let cfg = ranked(&assets, &shocks, 1_000 * USDC_UNIT);
    let mut run = Run::new(rows.clone(), 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    assert!(!closes(&events).is_empty());
    for m in e.markets() {
        assert_eq!(m.state.index, Index::ONE);
    }
    for id in lenders(&rows) {
        assert_eq!(e.row(id).unwrap(), &rows[2 * id..2 * id + 2], "lender {id}");
    }
    let taken: i64 = events
        .iter()
        .filter_map(|e| match e {
            Event::WrittenOff { written, .. } => Some(written.deleveraged.0),
            _ => None,
        })
        .sum();
    assert!(taken > 0, "no loss taken from the shorts");
}

#[test]
fn under_ranked_deleveraging_the_watch_still_finds_every_liquidatable_account() {
    let assets = [usdc(), perp_eth()];
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
            (0, Some(Deleveraging::Ranked)),
        );
        assert!(checked > 3 && found > 20, "{checked} rounds, {found} found");
    }
}

#[test]
fn ranked_deleveraging_needs_its_storage() {
    let (assets, shocks): (_, [Shock; 0]) = (perp_market(), []);
    let cfg = ranked(&assets, &shocks, 0);
    let mut balances = perp_rows(4, 1);
    let mut links = vec![0; Storage::link_words(4)];
    let mut queue = vec![Candidate::default(); Storage::queue_slots(4)];
    let mut snaps = vec![Snap::default(); Storage::snap_slots(4, 2)];
    let storage = Storage {
        balances: &mut balances,
        links: &mut links,
        queue: &mut queue,
        snaps: &mut snaps,
        ranks: &mut [],
    };
    let refused = Engine::<4, 4>::new(&cfg, storage).err();
    assert_eq!(refused, Some(ConfigError::Storage));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Any sequence of budgets reaches the same events and digest as one
    /// unbounded call.
    #[test]
    fn budgets_do_not_change_a_ranked_run(
        budgets in proptest::collection::vec(1u32..40, 1..8),
        seed in 1u64..1_000,
        up in any::<bool>(),
    ) {
        let shocks = moves(1..=4, if up { 10_700 } else { 9_300 });
        let assets = perp_market();
        let cfg = ranked(&assets, &shocks, 500 * USDC_UNIT);
        let run = |budgets: &[u32]| {
            let mut run = Run::new(perp_rows(150, seed), 2);
            step_by(&mut run.engine(&cfg), budgets)
        };
        let (whole, stepped) = (run(&[u32::MAX]), run(&budgets));
        prop_assert!(!closes(&whole.1).is_empty(), "nothing deleveraged");
        prop_assert_eq!(whole, stepped);
    }
}

/// A long of 10 ETH owing 19,500, the most leveraged short 5 ETH holding
/// 9,300 (equity 300 at 1,800, maintenance health 75), a larger short;
/// ETH falls 10% in round 1 and nothing moves after. Returns the events.
fn thin_short_after_a_crash(insurance: i64) -> Vec<Event> {
    let rows = vec![
        Qty(-19_500 * USDC_UNIT),
        Qty(10 * ETH_UNIT),
        Qty(9_300 * USDC_UNIT),
        Qty(-5 * ETH_UNIT),
        Qty(60_000 * USDC_UNIT),
        Qty(-15 * ETH_UNIT),
    ];
    let (assets, shocks) = (perp_market(), moves(1..=1, 9_000));
    let cfg = ranked(&assets, &shocks, insurance);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    audited(&mut e).1
}

#[test]
fn a_short_a_write_left_underwater_is_liquidated_the_next_round() {
    // With no fund, the long is closed against the thin short at 1,950
    // an ETH, which leaves it owing 450. With a fund that covers the
    // long's deficit at the oracle, the long is sold instead, and the
    // loss past the fund is taken from the thin short's equity. Either
    // way nothing moves in round 2, and only the bound its write added to
    // the drift can bring the watch to it.
    let closed = thin_short_after_a_crash(0);
    assert_eq!(closes(&closed).first().map(|c| c.1), Some(1), "{closed:?}");
    let sold = thin_short_after_a_crash(1_510 * USDC_UNIT);
    let taken = sold.iter().any(
        |e| matches!(e, Event::WrittenOff { written, .. } if written.deleveraged.is_positive()),
    );
    assert!(taken && closes(&sold).is_empty(), "{sold:?}");
    for events in [closed, sold] {
        let liquidated = events.iter().any(|e| {
            matches!(
                e,
                Event::Liquidated {
                    account: 1,
                    round: 2,
                    ..
                }
            )
        });
        assert!(liquidated, "{events:?}");
    }
}

/// The digests of a small crash and squeeze under ranked deleveraging,
/// computed on x86_64: `tests/miri.sh` checks them on s390x (big-endian)
/// and i686 (32-bit).
const RANKED_DIGESTS: [u64; 2] = [0x5d6a_fd3b_8b2e_cc13, 0xc59a_8dfa_afe6_662f];

#[test]
fn ranked_runs_have_the_committed_digests() {
    let digests = [9_300, 10_800].map(|bps| {
        let (assets, shocks) = (perp_market(), moves(1..=3, bps));
        let cfg = ranked(&assets, &shocks, 0);
        let mut run = Run::new(perp_book(40, 12, 9), 2);
        let mut e = run.engine(&cfg);
        let mut log = Log::default();
        e.run(&mut log);
        assert!(!closes(&log.0).is_empty(), "nothing deleveraged at {bps}");
        e.digest()
    });
    assert_eq!(digests, RANKED_DIGESTS, "{digests:x?}");
}

#[test]
fn a_dust_position_first_in_the_ranking_is_passed_over() {
    // A token at a millionth of a quote unit: a long of 10^15 owing 950
    // USDC, a short of 2·10^15 holding 6,000, and a short of 10^6 holding
    // 2 quote units, first in the ranking. Its slice would pay under a
    // quote unit (nothing): the close passes it over and the large short
    // takes the whole position (a second reading found the close given up
    // there).
    let token = AssetConfig {
        price: Price::new(1_000_000, 12).unwrap(),
        venue: super::tests::pool(1_000_000_000_000_000_000),
        ..perp_eth()
    };
    let assets = [usdc(), token];
    let rows = vec![
        Qty(-950_000_000),
        Qty(1_000_000_000_000_000),
        Qty(6_000_000_000),
        Qty(-2_000_000_000_000_000),
        Qty(2),
        Qty(-1_000_000),
    ];
    let shocks = moves(1..=1, 9_000);
    let cfg = ranked(&assets, &shocks, 0);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    assert_eq!(
        closes(&events),
        [(0, 1, 1_000_000_000_000_000, 950_000_000)],
        "{events:?}"
    );
    assert_eq!(e.row(2).unwrap(), [Qty(2), Qty(-1_000_000)]);
}

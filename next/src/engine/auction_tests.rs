//! Dutch auctions in the engine: a take once the curve falls below what
//! the venue pays, zero bids and bad debt, slots full, budgets; the audit
//! after every unit.

use super::tests::{audited, eth, pool, step_by, usdc, Log, Run};
use super::*;
use crate::num::Ratio;
use crate::venue::VenueConfig;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const ETH_UNIT: i64 = 1_000_000_000;
const USDC_UNIT: i64 = 1_000_000;

/// ETH as a MakerDAO collateral: a vault is safe above 150%.
fn vault_eth(venue: VenueConfig) -> AssetConfig {
    AssetConfig {
        asset_weights: Weights::flat(Ratio(666_666_667)),
        liability_weights: Weights::flat(Ratio::ONE),
        liquidation_bonus: Ratio::ZERO,
        protocol_fee: Ratio::ZERO,
        ..eth(venue)
    }
}

/// buf 1.2, 10% a round, a tail of 60, a cusp of 0.4, a 13% penalty.
fn stairstep() -> AuctionRule {
    AuctionRule {
        buf: Ratio::from_bps(12_000),
        curve: AuctionCurve::Stairstep {
            cut: Ratio::from_bps(9_000),
            step_rounds: 1,
        },
        tail_rounds: 60,
        cusp: Ratio::from_bps(4_000),
        penalty: Ratio::from_bps(1_300),
        tip: Value::ZERO,
        chip: Ratio::ZERO,
    }
}

fn auctioned<'c>(
    assets: &'c [AssetConfig],
    limits: &'c [AssetLimits],
    insurance: i64,
) -> EngineConfig<'c> {
    EngineConfig {
        assets,
        policy: Policy::Absorb,
        max_rounds: 200,
        oracle_lag_rounds: 0,
        insurance_fund: Value(insurance),
        shocks: &[],
        max_accounts_per_round: 0,
        deleveraging: None,
        containment: Containment {
            per_asset: limits,
            ..Containment::OFF
        },
    }
}

fn limits(rule: AuctionRule) -> [AssetLimits; 2] {
    [
        AssetLimits::default(),
        AssetLimits {
            auction: Some(rule),
            ..AssetLimits::default()
        },
    ]
}

#[test]
fn keepers_take_once_the_price_falls_below_what_the_venue_pays() {
    // A vault of 1 ETH owing 1,400 at 2,000: under 150%. The auction
    // raises 1,400 and a 13% penalty, 1,582, from a start of 2,400 falling
    // 10% a round: at 2,400 and 2,160 a keeper would pay more than the pool
    // gives, at 1,944 (round 3) it takes ⌈1,582 / 1,944⌉ of the lot and
    // the rest goes back to the vault.
    let rows = vec![Qty(-1_400 * USDC_UNIT), Qty(ETH_UNIT), Qty(0), Qty(0)];
    let assets = [usdc(), vault_eth(pool(10_000 * ETH_UNIT))];
    let limits = limits(stairstep());
    let cfg = auctioned(&assets, &limits, 1_000 * USDC_UNIT);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let of_auctions: Vec<&Event> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::AuctionStarted { .. }
                    | Event::AuctionTaken { .. }
                    | Event::AuctionEnded { .. }
            )
        })
        .collect();
    let taken = 813_786_009;
    assert_eq!(
        of_auctions,
        [
            &Event::AuctionStarted {
                round: 1,
                auction: 0,
                account: 0,
                asset: 1,
                lot: Qty(ETH_UNIT),
                debt: Value(1_400 * USDC_UNIT),
                incentive: Value::ZERO,
                top: Price::new(2_400_000_000_000, 12).unwrap(),
            },
            &Event::AuctionTaken {
                round: 3,
                auction: 0,
                asset: 1,
                qty: Qty(taken),
                paid: Value(1_582 * USDC_UNIT),
                // The penalty's 13% of the debt, to the fund.
                penalty: Value(182 * USDC_UNIT),
                // What the pool paid for it: more than the keepers paid.
                proceeds: Value(1_622_557_654),
                // The sale's low, below the 2,000 the pool recovers to.
                venue_price: Price::new(1_999_675_013_479, 12).unwrap(),
            },
            &Event::AuctionEnded {
                round: 3,
                auction: 0,
                asset: 1,
                account: 0,
                returned: Qty(ETH_UNIT - taken),
                shortfall: Value::ZERO,
                covered: Value::ZERO,
            },
        ]
    );
    assert_eq!(e.row(0).unwrap(), [Qty(0), Qty(ETH_UNIT - taken)]);
    // The penalty went to the fund.
    assert_eq!(e.insurance_fund(), Value(1_182 * USDC_UNIT));
    assert_eq!(e.report().auctions, 1);
}

/// Keepers with 500 of capital, topped up by 100 a round up to 600, and
/// the vault of the test above: a take is what their capital pays for at
/// the auction's price, their capital falls by what they paid, and what
/// they sold it for comes back the next round, so the auction raises its
/// 1,582 over three rounds, each take at most the 600 of its round.
#[test]
fn keepers_take_only_what_their_capital_pays_for() {
    let rows = vec![Qty(-1_400 * USDC_UNIT), Qty(ETH_UNIT), Qty(0), Qty(0)];
    let assets = [usdc(), vault_eth(pool(10_000 * ETH_UNIT))];
    let limits = limits(stairstep());
    let mut cfg = auctioned(&assets, &limits, 1_000 * USDC_UNIT);
    cfg.containment.keepers = Some(KeeperCapital {
        initial: Value(500 * USDC_UNIT),
        replenish_per_round: Value(100 * USDC_UNIT),
        max: Value(600 * USDC_UNIT),
    });
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let takes: Vec<(u32, Value)> = events
        .iter()
        .filter_map(|e| match *e {
            Event::AuctionTaken { round, paid, .. } => Some((round, paid)),
            _ => None,
        })
        .collect();
    // Round 3 holds 600 (500 and two top-ups, capped); round 4 the
    // proceeds of round 3's take and a top-up, capped again; round 5 takes
    // the rest. (A take rounds its lot down: it pays up to a base unit
    // less than the capital.)
    let rounds: Vec<u32> = takes.iter().map(|t| t.0).collect();
    assert_eq!(rounds, [3, 4, 5], "{takes:?}");
    for &(_, paid) in &takes[..2] {
        assert!(
            (599 * USDC_UNIT..=600 * USDC_UNIT).contains(&paid.0),
            "{takes:?}"
        );
    }
    let raised: i64 = takes.iter().map(|(_, p)| p.0).sum();
    assert_eq!(
        raised,
        1_582 * USDC_UNIT,
        "the debt and the penalty: {takes:?}"
    );
    let ended = events
        .iter()
        .any(|e| matches!(e, Event::AuctionEnded { shortfall, .. } if *shortfall == Value::ZERO));
    assert!(ended, "raised in full");
}

/// A notional cap of 700 a round on the vault of the tests above (1 ETH
/// owing 1,400): round 1's auction takes on 700 of the debt and half the
/// ETH, in proportion, and the vault waits; round 2's takes on the rest.
#[test]
fn a_notional_cap_auctions_a_vault_in_parts() {
    let rows = vec![Qty(-1_400 * USDC_UNIT), Qty(ETH_UNIT), Qty(0), Qty(0)];
    let assets = [usdc(), vault_eth(pool(10_000 * ETH_UNIT))];
    let limits = limits(stairstep());
    let mut cfg = auctioned(&assets, &limits, 1_000 * USDC_UNIT);
    cfg.containment.max_notional_per_round = Some(Value(700 * USDC_UNIT));
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let mut log = Log::default();
    // Round 1, to its end.
    while !log
        .0
        .iter()
        .any(|ev| matches!(ev, Event::RoundEnded { .. }))
    {
        e.step(1, &mut log);
        e.audit().unwrap();
    }
    let started = |log: &Log| -> Vec<(u32, Qty, Value)> {
        log.0
            .iter()
            .filter_map(|ev| match *ev {
                Event::AuctionStarted {
                    round, lot, debt, ..
                } => Some((round, lot, debt)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        started(&log),
        [(1, Qty(ETH_UNIT / 2), Value(700 * USDC_UNIT))]
    );
    assert_eq!(
        e.row(0).unwrap(),
        [Qty(-700 * USDC_UNIT), Qty(ETH_UNIT / 2)]
    );
    assert_eq!(e.report().deferred, 1, "the rest waits");
    let (_, events) = audited(&mut e);
    let later: Vec<_> = started(&Log(events)).into_iter().take(1).collect();
    assert_eq!(later, [(2, Qty(ETH_UNIT / 2), Value(700 * USDC_UNIT))]);
}

#[test]
fn a_lot_no_keeper_can_sell_goes_for_nothing_and_leaves_bad_debt() {
    // A pool of a hundredth of an ETH pays almost nothing for a lot of one,
    // and a linear curve reaches zero in three rounds: keepers take slivers
    // while the price is positive, then the rest for nothing. The debt not
    // raised is covered by the fund as far as it goes and the rest is bad.
    let rows = vec![Qty(-1_400 * USDC_UNIT), Qty(ETH_UNIT), Qty(0), Qty(0)];
    let assets = [usdc(), vault_eth(pool(ETH_UNIT / 100))];
    let rule = AuctionRule {
        curve: AuctionCurve::Linear { rounds: 3 },
        tail_rounds: 100,
        cusp: Ratio::ZERO,
        ..stairstep()
    };
    let limits = limits(rule);
    let cfg = auctioned(&assets, &limits, 100 * USDC_UNIT);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    assert!(e.report().zero_bid_takes >= 1, "{events:?}");
    let shortfall = events.iter().find_map(|e| match *e {
        Event::AuctionEnded {
            shortfall,
            returned,
            ..
        } => Some((shortfall, returned)),
        _ => None,
    });
    let (shortfall, returned) = shortfall.expect("the auction ended");
    assert!(
        shortfall > Value(1_000 * USDC_UNIT) && returned == Qty::ZERO,
        "{shortfall:?}"
    );
    // The fund covered what it had; the rest is unrecovered.
    assert_eq!(e.insurance_fund(), Value::ZERO);
    let bad = e.markets()[0].books.balance(crate::ledger::Book::BadDebt);
    assert_eq!(-bad, i128::from(shortfall.0 - 100 * USDC_UNIT));
}

/// `vaults` vaults of 1 ETH owing 1,400 and a lender.
fn vaults(vaults: usize) -> Vec<Qty> {
    let mut rows = Vec::new();
    for _ in 0..vaults {
        rows.extend([Qty(-1_400 * USDC_UNIT), Qty(ETH_UNIT)]);
    }
    rows.extend([Qty(100_000 * USDC_UNIT), Qty(0)]);
    rows
}

#[test]
fn with_every_slot_taken_a_vault_waits_for_a_free_one() {
    let assets = [usdc(), vault_eth(pool(1_000 * ETH_UNIT))];
    let limits = limits(stairstep());
    let cfg = auctioned(&assets, &limits, 1_000 * USDC_UNIT);
    let mut run = Run::new(vaults(20), 2);
    let mut e = run.engine(&cfg);
    let (_, events) = audited(&mut e);
    let started: Vec<u32> = events
        .iter()
        .filter_map(|e| match *e {
            Event::AuctionStarted { round, .. } => Some(round),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 20);
    assert_eq!(started.iter().filter(|&&r| r == 1).count(), MAX_AUCTIONS);
    assert!(e.report().deferred >= 4, "{:?}", e.report());
}

#[test]
fn an_auction_restarts_at_its_tail() {
    // A pool that pays nothing near the start price, a tail of 2 rounds:
    // the auction restarts at the oracle times buf before its price falls
    // to what keepers would pay.
    let rows = vec![Qty(-1_400 * USDC_UNIT), Qty(ETH_UNIT), Qty(0), Qty(0)];
    let assets = [usdc(), vault_eth(pool(10_000 * ETH_UNIT))];
    let rule = AuctionRule {
        tail_rounds: 1,
        ..stairstep()
    };
    let limits = limits(rule);
    let cfg = auctioned(&assets, &limits, 0);
    let mut run = Run::new(rows, 2);
    let mut e = run.engine(&cfg);
    let mut log = Log::default();
    e.run(&mut log);
    let resets = log
        .0
        .iter()
        .filter(|e| matches!(e, Event::AuctionReset { .. }))
        .count();
    assert!(resets > 5, "{resets} resets");
    assert_eq!(e.termination(), Some(Termination::RoundCap));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Any sequence of budgets reaches the same events and digest as one
    /// unbounded call.
    #[test]
    fn budgets_do_not_change_an_auction_run(
        budgets in proptest::collection::vec(1u32..40, 1..8),
        count in 1usize..24,
    ) {
        let assets = [usdc(), vault_eth(pool(50 * ETH_UNIT))];
        let limits = limits(stairstep());
        let cfg = auctioned(&assets, &limits, 500 * USDC_UNIT);
        let run = |budgets: &[u32]| {
            let mut run = Run::new(vaults(count), 2);
            step_by(&mut run.engine(&cfg), budgets)
        };
        let (whole, stepped) = (run(&[u32::MAX]), run(&budgets));
        let took = whole.1.iter().any(|e| matches!(e, Event::AuctionTaken { .. }));
        prop_assert!(took, "no take");
        prop_assert_eq!(whole, stepped);
    }
}

use super::step::ratio_at_most;
use super::*;
use crate::account::Terms;
use crate::ledger::Book;
use crate::num::{Price, INDEX_SCALE};
use crate::pool::Pool;
use crate::venue::{Mechanism, Venue, VenueConfig, MAX_BOOK_LEVELS};
use proptest::prelude::*;

/// A unit's result, with the debts it wrote off by asset.
type Outcome<const A: usize> = Result<Result<Done<A>, Idle>, Fault>;

/// What a unit did and the records of the debts it wrote off.
#[derive(Debug, PartialEq, Eq)]
struct Done<const A: usize> {
    steps: u32,
    last: Option<Stepped>,
    written: [Option<Written>; A],
}

/// Runs a unit, keeping its records.
fn run_unit<const A: usize>(
    row: &mut [Qty; A],
    tiers: Tiers<'_>,
    markets: &mut [Market; A],
    insurance: &mut Value,
    policy: &Policy,
) -> Outcome<A> {
    let mut written = [None; A];
    let mut moved = [Moved::default(); A];
    let mut records = [0u32; A];
    let before = *row;
    let fund = *insurance;
    let unit_index = markets.iter().all(|m| m.state.index == Index::ONE);
    let record = |r: Record| match r {
        Record::Written(w) => written[w.asset] = Some(w),
        Record::Moved(m) => {
            records[m.asset] += 1;
            moved[m.asset] = m;
        }
    };
    let done = liquidate_unit::<A, MAX_BOOK_LEVELS, 0>(
        row, tiers, markets, insurance, policy, None, record,
    );
    done.map(|r| {
        r.map(|d| {
            assert_eq!(d.bankrupt, written.iter().any(Option::is_some));
            // What the unit says it moved is what the row moved: repaid and
            // written off in, seized out (at an index of one, balances are
            // base units).
            for (a, m) in moved.iter().enumerate().filter(|_| unit_index) {
                let off = written[a].map_or(0, |w| w.written_off.0);
                let change = row[a].0 - before[a].0;
                assert_eq!(change, m.repaid.0 - m.seized.0 + off, "asset {a}: {m:?}");
            }
            assert!(
                records.iter().all(|&n| n <= 1),
                "one record an asset: {records:?}"
            );
            // The fund gained the fees and paid for what it bought back.
            let fees: i64 = moved.iter().map(|m| m.fee.0).sum();
            let paid: i64 = written.iter().flatten().map(|w| w.insurance_paid.0).sum();
            assert_eq!(insurance.0 - fund.0, fees - paid);
            // A unit that says it left nothing owed left nothing owed.
            assert!(!d.settled || row.iter().all(|b| !b.is_negative()));
            Done {
                steps: d.steps,
                last: d.last,
                written,
            }
        })
    })
}

/// A unit whose liquidation-end tier is its maintenance tier.
fn unit<const A: usize>(
    row: &mut [Qty; A],
    terms: &[Terms],
    markets: &mut [Market; A],
    insurance: &mut Value,
    policy: &Policy,
) -> Outcome<A> {
    let tiers = Tiers {
        maint: terms,
        liq_end: terms,
    };
    run_unit(row, tiers, markets, insurance, policy)
}

/// The unit's one pair step.
fn stepped<const A: usize>(outcome: Outcome<A>) -> Stepped {
    let done = outcome.unwrap().unwrap();
    assert_eq!(done.steps, 1);
    done.last.unwrap()
}

const ETH: u64 = 2_000_000_000_000; // 2,000 USDC (6 dp) per ETH (9 dp), exponent 12

fn aave() -> Policy {
    Policy::CloseFactor {
        close_factor: Ratio::from_bps(5_000),
        full_close_health_factor: Ratio::from_bps(9_500),
        full_close_debt_value: Value(2_000_000_000),
    }
}

fn quote_market() -> Market {
    Market {
        oracle: Price::ONE,
        discounted: Price::ONE,
        fee_share: Ratio::ZERO,
        dust: Qty(1_000_000),
        socialized: true,
        clears_at_oracle: false,
        state: MarketState {
            index: Index::ONE,
            venue: None,
            deposit_shares: Qty::ZERO,
        },
        books: Books::default(),
    }
}

/// The constant-product pool of market `m`.
fn pool(m: &Market) -> Pool {
    match m.state.venue.map(|v| v.mechanism) {
        Some(Mechanism::Pool(p)) => p.pool,
        other => panic!("not a pool: {other:?}"),
    }
}

/// Sets the reserves and fee of market `m`'s pool.
fn set_pool(m: &mut Market, pool: Pool) {
    if let Some(Venue {
        mechanism: Mechanism::Pool(p),
        ..
    }) = m.state.venue.as_mut()
    {
        p.pool = pool;
    }
}

fn eth_market(base_reserve: i64) -> Market {
    let bonus = Ratio::from_bps(500);
    let oracle = Price::new(ETH, 12).unwrap();
    let dust = Qty(1_000);
    let config = VenueConfig::ConstantProduct {
        base_reserve: Qty(base_reserve),
        fee: Ratio::from_bps(30),
        resilience: Ratio::ZERO,
    };
    Market {
        oracle,
        discounted: oracle.discounted(bonus).unwrap(),
        fee_share: fee_share(bonus, Ratio::from_bps(1_000)).unwrap(),
        dust,
        socialized: true,
        clears_at_oracle: false,
        state: MarketState {
            index: Index::ONE,
            venue: Some(Venue::new(&config, oracle, dust).unwrap()),
            deposit_shares: Qty::ZERO,
        },
        books: Books::default(),
    }
}

fn maint_terms(markets: &[Market]) -> [Terms; 2] {
    let weights = [
        (Ratio::ONE, Ratio::ONE),
        (Ratio::from_bps(8_300), Ratio::ONE),
    ];
    core::array::from_fn(|i| {
        let (wa, wl) = weights[i];
        Terms::new(markets[i].oracle, markets[i].state.index, wa, wl).unwrap()
    })
}

/// 10 ETH against `debt` USDC, the ETH pool 10,000 ETH deep.
fn market(debt: i64) -> ([Qty; 2], [Market; 2]) {
    let mut markets = [quote_market(), eth_market(10_000_000_000_000)];
    markets[1].state.deposit_shares = Qty(10_000_000_000);
    ([Qty(-debt), Qty(10_000_000_000)], markets)
}

#[test]
fn a_close_factor_step_repays_half_sells_the_seizure_and_books_every_flow() {
    let (mut row, mut markets) = market(17_000_000_000);
    let terms = maint_terms(&markets);
    let mut insurance = Value(0);
    let s = stepped(unit(
        &mut row,
        &terms,
        &mut markets,
        &mut insurance,
        &aave(),
    ));
    assert_eq!((s.liability, s.collateral), (0, 1));
    assert_eq!(s.repaid, Qty(8_500_000_000));
    assert_eq!(s.seized, Qty(4_462_500_001));
    // (8,500 × 1.05 / 2,000 = 4.4625 ETH; the discounted price rounds down.)
    assert_eq!(
        row,
        [Qty(-8_500_000_000), Qty(10_000_000_000 - 4_462_500_001)]
    );
    assert!(s.health.1 > s.health.0);
    // The pool paid for the seizure, less its fee and impact.
    assert!(s.proceeds.0 > 8_850_000_000 && s.proceeds.0 < 8_925_000_000);
    assert_eq!(insurance, s.fee);
    assert!(s.fee.is_positive());
    for m in &markets {
        assert_eq!(m.books.sum(), 0);
    }
    let book = |asset: usize, book| markets[asset].books.balance(book);
    assert_eq!(book(1, Book::Accounts), -i128::from(s.seized.0));
    assert_eq!(book(1, Book::Venue), i128::from(s.seized.0));
    assert_eq!(book(0, Book::Accounts), i128::from(s.repaid.0));
    assert_eq!(book(0, Book::Insurance), i128::from(s.fee.0));
    // The keepers paid the debt and the fee out of the proceeds, and keep
    // the rest.
    let kept = s.proceeds.0 - s.repaid.0 - s.fee.0;
    assert_eq!(book(0, Book::Keepers), i128::from(kept));
    assert_eq!(markets[1].state.deposit_shares, row[1]);
}

#[test]
fn a_small_debt_or_a_deep_fall_closes_in_full() {
    // 1,700 USDC owed is under the 2,000 small-debt line: repaid whole.
    let (mut row, mut markets) = market(1_700_000_000);
    row[1] = Qty(1_000_000_000);
    let terms = maint_terms(&markets);
    let s = stepped(unit(&mut row, &terms, &mut markets, &mut Value(0), &aave()));
    assert_eq!(s.repaid, Qty(1_700_000_000));
    // A health factor of 16,600 / 17,500 < 0.95: whole too.
    let (mut row, mut markets) = market(17_500_000_000);
    let s = stepped(unit(&mut row, &terms, &mut markets, &mut Value(0), &aave()));
    assert_eq!(s.repaid, Qty(17_500_000_000));
}

#[test]
fn a_healthy_account_is_left_alone() {
    let (mut row, mut markets) = market(16_600_000_000); // exactly at 83%
    let terms = maint_terms(&markets);
    let before = (row, markets);
    let r = unit(&mut row, &terms, &mut markets, &mut Value(0), &aave());
    assert_eq!(r, Ok(Err(Idle::Healthy)));
    assert_eq!((row, markets), before);
}

#[test]
fn debt_without_collateral_goes_down_the_waterfall() {
    // 5,000 USDC owed, nothing held; the fund holds 1,200; lenders of
    // USDC hold 10,000 in shares (their balances live in other rows).
    let (mut row, mut markets) = market(5_000_000_000);
    row[1] = Qty::ZERO;
    markets[1].state.deposit_shares = Qty::ZERO;
    markets[0].state.deposit_shares = Qty(10_000_000_000);
    let terms = maint_terms(&markets);
    let mut insurance = Value(1_200_000_000);
    let done = unit(&mut row, &terms, &mut markets, &mut insurance, &aave())
        .unwrap()
        .unwrap();
    assert_eq!(done.steps, 0);
    let w = done.written[0].unwrap();
    assert_eq!(w.written_off, Qty(5_000_000_000));
    assert_eq!(
        (w.covered, w.insurance_paid),
        (Qty(1_200_000_000), Value(1_200_000_000))
    );
    assert_eq!(w.socialized, Qty(3_800_000_000));
    assert_eq!(w.unrecovered, Qty::ZERO);
    assert_eq!(row, [Qty::ZERO, Qty::ZERO]);
    assert_eq!(insurance, Value(0));
    // 10,000 - 3,800 = 6,200 left for 10,000 shares: index 0.62.
    assert_eq!(markets[0].state.index, Index(INDEX_SCALE / 100 * 62));
    assert_eq!(markets[0].books.sum(), 0);
    assert_eq!(
        markets[0].books.balance(Book::Accounts),
        5_000_000_000 - 3_800_000_000
    );
    assert_eq!(markets[0].books.balance(Book::Insurance), -1_200_000_000);
    assert!(done.written[1].is_none());
}

#[test]
fn a_risky_debt_is_bought_back_in_its_pool_as_far_as_the_fund_affords() {
    // A short of 3 ETH with nothing held; the fund holds 4,000 USDC: it
    // cannot buy 3 ETH (about 6,000), so it buys what 4,000 affords.
    let (mut row, mut markets) = market(0);
    row[0] = Qty::ZERO;
    row[1] = Qty(-3_000_000_000);
    markets[1].state.deposit_shares = Qty::ZERO;
    let terms = maint_terms(&markets);
    let mut insurance = Value(4_000_000_000);
    let pool_before = pool(&markets[1]);
    let done = unit(&mut row, &terms, &mut markets, &mut insurance, &aave())
        .unwrap()
        .unwrap();
    let w = done.written[1].unwrap();
    assert!(w.covered.is_positive() && w.covered < Qty(3_000_000_000));
    assert!(w.insurance_paid <= Value(4_000_000_000));
    assert_eq!(insurance, Value(4_000_000_000 - w.insurance_paid.0));
    assert_eq!(w.unrecovered, Qty(3_000_000_000 - w.covered.0));
    assert_eq!(
        pool(&markets[1]).base,
        Qty(pool_before.base.0 - w.covered.0)
    );
    for m in &markets {
        assert_eq!(m.books.sum(), 0);
    }
}

/// Every way a step can fail after it has sized itself leaves every byte
/// as it was: the insurance fund, a pool's reserve, the venue that cannot
/// fill. (The books cannot fail: they are `i128`, written last. Nor can
/// the waterfall once a step has planned: a purchase the venue cannot fill
/// is made smaller.)
#[test]
fn a_failed_step_writes_nothing() {
    let terms_of = |m: &[Market; 2]| maint_terms(m);
    // The fee overflows the insurance fund.
    let (mut row, mut markets) = market(17_000_000_000);
    let terms = terms_of(&markets);
    let mut insurance = Value(i64::MAX);
    let before = (row, markets, insurance);
    let r = unit(&mut row, &terms, &mut markets, &mut insurance, &aave());
    assert_eq!(r, Err(Fault::Arith(ArithError::Overflow)));
    assert_eq!((row, markets, insurance), before);
    // The pool's base reserve at the edge of its range: the venue cannot
    // take the sale.
    let (mut row, mut markets) = market(17_000_000_000);
    let edge = Pool {
        base: Qty(i64::MAX - 1_000),
        ..pool(&markets[1])
    };
    set_pool(&mut markets[1], edge);
    let mut insurance = Value(0);
    let before = (row, markets, insurance);
    let r = unit(&mut row, &terms, &mut markets, &mut insurance, &aave());
    assert_eq!(r, Err(Fault::VenueExhausted { asset: 1 }));
    assert_eq!((row, markets, insurance), before);
    // A debt in a risky asset whose pool cannot sell it back.
    let mut markets = [
        quote_market(),
        eth_market(10_000_000_000_000),
        eth_market(1_000),
    ];
    markets[2].discounted = markets[2].oracle;
    let mut row = [Qty(1_000_000), Qty(0), Qty(-2_000_000)];
    let terms: [Terms; 3] = core::array::from_fn(|i| {
        let w = if i == 0 {
            Ratio::from_bps(5_000)
        } else {
            Ratio::ONE
        };
        Terms::new(markets[i].oracle, Index::ONE, w, Ratio::ONE).unwrap()
    });
    let mut insurance = Value(0);
    let before = (row, markets, insurance);
    let r = unit(
        &mut row,
        &terms,
        &mut markets,
        &mut insurance,
        &Policy::Absorb,
    );
    assert_eq!(r, Err(Fault::VenueExhausted { asset: 2 }));
    assert_eq!((row, markets, insurance), before);
    // A unit whose pair step plans well goes down the waterfall, whose
    // purchase the venue cannot fill whole: 2 ETH owed against 1 USDC, the
    // ETH pool's quote reserve 1,000 USDC short of its range. The step
    // buys back the 0.0005 ETH the USDC covers (about 1 USDC); the fund's
    // purchase of the rest (about 4,000 USDC) is halved until the reserve's
    // range takes it, and the lenders of ETH (none here) take nothing: the
    // rest is unrecovered.
    let mut markets = [quote_market(), eth_market(1_000)];
    let reserve = i64::MAX - 1_000_000_000;
    set_pool(
        &mut markets[1],
        Pool {
            base: Qty(reserve / 2),
            quote: Value(reserve),
            fee: Ratio::ZERO,
        },
    );
    markets[0].state.deposit_shares = Qty(1_000_000);
    let mut row = [Qty(1_000_000), Qty(-2_000_000_000)];
    let terms = maint_terms(&markets);
    let mut insurance = Value(1_000_000_000_000);
    let done = unit(
        &mut row,
        &terms,
        &mut markets,
        &mut insurance,
        &Policy::Absorb,
    )
    .unwrap()
    .unwrap();
    assert_eq!(done.steps, 1);
    let w = done.written[1].unwrap();
    assert!(
        w.covered.is_positive() && w.covered.0 < 1_000_000_000,
        "{w:?}"
    );
    assert_eq!(w.unrecovered.0, w.written_off.0 - w.covered.0, "{w:?}");
    assert_eq!(row, [Qty::ZERO, Qty::ZERO]);
    for m in &markets {
        assert_eq!(m.books.sum(), 0);
    }
}

#[test]
fn the_health_factor_test_is_exact() {
    assert!(ratio_at_most(95, 100, Ratio::from_bps(9_500)));
    assert!(!ratio_at_most(96, 100, Ratio::from_bps(9_500)));
    // Past 2^64 on both sides, where a 128-bit product would overflow.
    let big = u128::MAX >> 2;
    assert!(ratio_at_most(
        big / 100 * 95,
        big / 100,
        Ratio::from_bps(950_000)
    ));
    assert!(!ratio_at_most(big, big - 1, Ratio::ONE));
}

proptest! {
    /// Any step either writes nothing or moves exactly what its books say:
    /// each asset's books sum to zero, the accounts' book changes by the
    /// row's change (the index is one), and health never falls.
    #[test]
    fn a_step_conserves_every_asset_and_raises_health(
        held in 1_000i64..(1 << 40), reserve in 1i64..(1 << 50),
        mantissa in 1_000_000_000u64..(1 << 44), bps in 0u32..1_500, absorb in any::<bool>(),
        index_part in 1u64..=1_000, debt_percent in 70i128..150,
    ) {
        // A debt around the collateral's value (its shares at the index):
        // most accounts liquidatable, some of them left with debt.
        let worth = i128::from(held) * i128::from(mantissa) / 1_000_000_000_000
            * i128::from(index_part) / 1_000;
        let debt = i64::try_from(worth * debt_percent / 100).unwrap().max(1);
        let mut markets = [quote_market(), eth_market(reserve.max(1_000))];
        markets[1].oracle = Price::new(mantissa, 12).unwrap();
        markets[1].discounted = markets[1].oracle.discounted(Ratio::from_bps(bps)).unwrap();
        markets[1].state.index = Index(INDEX_SCALE / 1_000 * index_part);
        markets[1].state.deposit_shares = Qty(held);
        let mut row = [Qty(-debt), Qty(held)];
        let terms = maint_terms(&markets);
        let policy = if absorb { Policy::Absorb } else { aave() };
        let before = (row, markets);
        let mut insurance = Value(0);
        match unit(&mut row, &terms, &mut markets, &mut insurance, &policy).map(|r| r.map(|d| (d.last, d))) {
            Ok(Ok((Some(s), done))) if done.written.iter().all(Option::is_none) => {
                prop_assert!(s.health.1 >= s.health.0);
                for m in &markets {
                    prop_assert_eq!(m.books.sum(), 0);
                }
                prop_assert_eq!(markets[0].books.balance(Book::Accounts), i128::from(row[0].0 - before.0[0].0));
                let held_before = before.0[1].held(markets[1].state.index).unwrap();
                let held_after = row[1].held(markets[1].state.index).unwrap();
                // Shares round against the account: it gives up at least
                // the seizure.
                prop_assert!(held_before.0 - held_after.0 >= s.seized.0);
                prop_assert_eq!(markets[1].state.deposit_shares, row[1].max(Qty::ZERO));
                prop_assert_eq!(insurance, s.fee);
            }
            Ok(Ok((_, done))) => {
                // The waterfall ran (absorb took all and debt was left):
                // every asset's books still balance.
                prop_assert!(done.written[0].is_some());
                for m in &markets {
                    prop_assert_eq!(m.books.sum(), 0);
                }
                prop_assert_eq!(row[0], Qty::ZERO);
            }
            Ok(Err(Idle::Healthy)) => {
                let h = crate::account::health(&before.0, &terms).unwrap();
                prop_assert!(!h.is_liquidatable());
                prop_assert_eq!((row, markets), before);
            }
            _ => {
                prop_assert_eq!((row, markets), before)
            }
        }
    }
}

/// Maintenance 0.83 and liquidation-end 0.80 on ETH.
fn tiers_of(markets: &[Market; 2]) -> ([Terms; 2], [Terms; 2]) {
    let eth = |bps| {
        Terms::new(
            markets[1].oracle,
            markets[1].state.index,
            Ratio::from_bps(bps),
            Ratio::ONE,
        )
    };
    let usdc = Terms::new(Price::ONE, markets[0].state.index, Ratio::ONE, Ratio::ONE).unwrap();
    ([usdc, eth(8_300).unwrap()], [usdc, eth(8_000).unwrap()])
}

fn to_target_unit(row: &mut [Qty; 2], markets: &mut [Market; 2]) -> Outcome<2> {
    let (maint, liq_end) = tiers_of(markets);
    let tiers = Tiers {
        maint: &maint,
        liq_end: &liq_end,
    };
    run_unit(row, tiers, markets, &mut Value(0), &Policy::ToTarget)
}

#[test]
fn to_target_repays_what_restores_liquidation_end_health() {
    // Liquidation-end health 16,000 - 17,000 = -1,000; each unit of value
    // repaid gains 1 - 0.8 × 1.05 = 0.16: 6,250 USDC. The gain is rounded
    // down to a billionth (the bonus factor p_C / p̃_C rounds up), which
    // repays up to 10^-8 of the amount more: 40 base units here.
    let (mut row, mut markets) = market(17_000_000_000);
    let s = stepped(to_target_unit(&mut row, &mut markets));
    assert!(
        s.repaid.0 >= 6_250_000_000 && s.repaid.0 <= 6_250_000_063,
        "{s:?}"
    );
    let (_, liq_end) = tiers_of(&markets);
    let h = crate::account::health(&row, &liq_end)
        .unwrap()
        .net()
        .unwrap();
    assert!(h.0 >= 0, "liquidation-end health after: {h:?}");
}

proptest! {
    /// A to-target unit leaves liquidation-end health at zero or above
    /// (unless it took all the collateral or repaid all the debt), and not
    /// far above: a couple of base units of the debt's value.
    #[test]
    fn to_target_restores_the_target_and_no_more(
        held in 1_000_000i64..(1 << 40), mantissa in 1_000_000_000u64..(1 << 44),
        bps in 0u32..1_500, debt_percent in 81i128..99, reserve in 1i64..(1 << 50),
    ) {
        let worth = i128::from(held) * i128::from(mantissa) / 1_000_000_000_000;
        let debt = i64::try_from(worth * debt_percent / 100).unwrap().max(1);
        let mut markets = [quote_market(), eth_market(reserve.max(1_000))];
        markets[1].oracle = Price::new(mantissa, 12).unwrap();
        markets[1].discounted = markets[1].oracle.discounted(Ratio::from_bps(bps)).unwrap();
        markets[1].state.deposit_shares = Qty(held);
        markets[0].dust = Qty(1);
        let mut row = [Qty(-debt), Qty(held)];
        let before = row;
        let outcome = to_target_unit(&mut row, &mut markets);
        let (_, liq_end) = tiers_of(&markets);
        let h = crate::account::health(&row, &liq_end).unwrap().net().unwrap();
        match outcome {
            Ok(Ok(done)) if done.written.iter().all(Option::is_none) => {
                let clamped = row[0] == Qty::ZERO || row[1] == Qty::ZERO;
                prop_assert!(h.0 >= 0 || clamped, "short of the target: {:?} {:?}", h, row);
                // Not far over: each of the two changed terms rounds by
                // less than one base unit, the repayment by less than one
                // unit of L, and the gain, rounded to a billionth, adds up
                // to 10^-8 of the repayment.
                let over = h.0 / i128::from(crate::num::RATIO_SCALE);
                let repaid = i128::from(row[0].0 - before[0].0);
                let bound = 4 + repaid / 10_000_000;
                prop_assert!(clamped || over <= bound, "{} over the target (bound {}), {:?} -> {:?}", over, bound, before, row);
            }
            Ok(Err(Idle::Healthy)) => {
                let (maint, _) = tiers_of(&markets);
                prop_assert!(!crate::account::health(&before, &maint).unwrap().is_liquidatable());
            }
            other => prop_assert!(matches!(other, Ok(Ok(_))), "{:?}", other),
        }
    }
}

/// Runs a unit held to `gate`.
fn gated_unit(
    row: &mut [Qty; 2],
    markets: &mut [Market; 2],
    policy: &Policy,
    gate: &mut Gate<2>,
) -> Result<Result<Liquidated, Idle>, Fault> {
    let terms = maint_terms(markets);
    let tiers = Tiers {
        maint: &terms,
        liq_end: &terms,
    };
    let mut insurance = Value(0);
    liquidate_unit::<2, MAX_BOOK_LEVELS, 2>(
        row,
        tiers,
        markets,
        &mut insurance,
        policy,
        Some(gate),
        |_| {},
    )
}

#[test]
fn a_step_repays_at_most_its_room_and_charges_the_gate() {
    let (mut row, mut markets) = market(17_000_000_000);
    // ETH's collateral may repay 1,000 USDC more this round; the keepers
    // hold 5,000.
    let mut gate = Gate::<2> {
        keepers: Some(Value(5_000_000_000)),
        per_asset: [None, Some(Value(1_000_000_000))],
        ..Gate::default()
    };
    let done = gated_unit(&mut row, &mut markets, &aave(), &mut gate)
        .unwrap()
        .unwrap();
    let s = done.last.unwrap();
    assert_eq!(s.repaid, Qty(1_000_000_000));
    assert_eq!(row[0], Qty(-16_000_000_000));
    assert_eq!(gate.per_asset[1], Some(Value(0)));
    assert_eq!(gate.keepers, Some(Value(4_000_000_000)));
    assert_eq!(gate.returns, s.proceeds.sub(s.fee).unwrap());
    // Its room spent, the collateral waits: nothing moves, the gate stays.
    let (before, kept) = (row, gate);
    let waited = gated_unit(&mut row, &mut markets, &aave(), &mut gate).unwrap();
    assert_eq!(waited, Err(Idle::Waiting));
    assert_eq!((row, gate), (before, kept));
}

#[test]
fn an_absorb_held_back_midway_waits_and_keeps_what_it_did() {
    // Absorb wants the whole 17,000; the round's notional room is 6,000.
    let (mut row, mut markets) = market(17_000_000_000);
    let mut gate = Gate::<2> {
        notional: Some(Value(6_000_000_000)),
        ..Gate::default()
    };
    let done = gated_unit(&mut row, &mut markets, &Policy::Absorb, &mut gate)
        .unwrap()
        .unwrap();
    assert!(done.waiting && !done.bankrupt);
    assert_eq!(row[0], Qty(-11_000_000_000));
    assert!(gate.exhausted());
}

#[test]
fn a_blocked_asset_is_never_touched_and_a_failed_unit_charges_nothing() {
    let (mut row, mut markets) = market(17_000_000_000);
    let mut blocked = Gate::<2> {
        blocked: 1 << 1,
        ..Gate::default()
    };
    let before = row;
    let waited = gated_unit(&mut row, &mut markets, &aave(), &mut blocked).unwrap();
    assert_eq!((waited, row), (Err(Idle::Waiting), before));
    // A pool at the edge of its range cannot take the sale: the unit
    // fails, and its gate is as it was.
    let (mut row, mut markets) = market(17_000_000_000);
    let edge = Pool {
        base: Qty(i64::MAX - 1_000),
        ..pool(&markets[1])
    };
    set_pool(&mut markets[1], edge);
    let mut gate = Gate::<2> {
        keepers: Some(Value(50_000_000_000)),
        ..Gate::default()
    };
    let kept = gate;
    let failed = gated_unit(&mut row, &mut markets, &aave(), &mut gate);
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(gate, kept);
}

#[test]
fn a_room_too_small_to_repay_a_base_unit_waits_and_writes_nothing_off() {
    // Absorb wants the whole 17,000 USDC; the round has 1-3 quote base
    // units of room left: not a step, and not a bankruptcy.
    for room in 1..=3 {
        let (mut row, mut markets) = market(17_000_000_000);
        let mut gate = Gate::<2> {
            notional: Some(Value(room)),
            ..Gate::default()
        };
        let before = row;
        let done = gated_unit(&mut row, &mut markets, &Policy::Absorb, &mut gate).unwrap();
        match done {
            Err(idle) => assert_eq!(idle, Idle::Waiting),
            Ok(d) => assert!(d.waiting && !d.bankrupt, "room {room}: {d:?}"),
        }
        assert_eq!(row[1], before[1], "room {room}: the ETH is still held");
        assert!(
            row[0].is_negative(),
            "room {room}: the debt is not written off"
        );
    }
}

#[test]
fn a_bankruptcy_leaves_a_blocked_debt_for_a_later_round() {
    // 100 USDC and 1 ETH owed, nothing held, ETH blocked: only the quote
    // debt goes down the waterfall.
    let (_, mut markets) = market(0);
    let mut row = [Qty(-100_000_000), Qty(-1_000_000_000)];
    let mut gate = Gate::<2> {
        blocked: 1 << 1,
        ..Gate::default()
    };
    let done = gated_unit(&mut row, &mut markets, &aave(), &mut gate)
        .unwrap()
        .unwrap();
    assert!(done.bankrupt);
    assert_eq!(row, [Qty::ZERO, Qty(-1_000_000_000)]);
}

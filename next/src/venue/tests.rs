//! Properties every kind of venue keeps, through the `Venue` API.

use super::*;
use proptest::prelude::*;
use std::vec::Vec;

/// An ETH-like asset: 9 decimals against a 6-decimal quote, prices with 12
/// digits after the point, starting at 2,000 USDC (2·10^12).
const E: u8 = 12;
const ETH: i64 = 1_000_000_000;
const START: u64 = 2_000_000_000_000;
const DUST: Qty = Qty(1_000_000);

fn price(mantissa: u64) -> Price {
    Price::new(mantissa, E).unwrap()
}

fn half() -> Ratio {
    Ratio(500_000_000)
}

/// One configuration of each kind: linear, exponential, square root,
/// constant product, order book, then the quote.
fn configs() -> [VenueConfig; 6] {
    let floor = price(100_000_000_000);
    [
        VenueConfig::Linear {
            slope: Slope {
                mantissa: 5,
                exponent: 1,
            },
            resilience: half(),
            floor,
        },
        VenueConfig::Exponential {
            depth: Qty(1_000 * ETH),
            resilience: half(),
            floor,
        },
        VenueConfig::SquareRoot {
            y_sigma: Ratio(800_000_000),
            volume: Qty(100_000 * ETH),
            resilience: half(),
            floor,
        },
        VenueConfig::ConstantProduct {
            base_reserve: Qty(10_000 * ETH),
            fee: Ratio::from_bps(30),
            resilience: half(),
        },
        VenueConfig::OrderBook {
            levels: 5,
            tick: Ratio(10_000_000),
            depth: Qty(10 * ETH),
            resilience: half(),
        },
        VenueConfig::Quote,
    ]
}

fn venue(kind: usize) -> Venue {
    let config = configs()[kind];
    let start = if matches!(config, VenueConfig::Quote) {
        Price::ONE
    } else {
        price(START)
    };
    Venue::new(&config, start, DUST).unwrap()
}

/// Trades `q` (positive: a sale, negative: a purchase); the quote received
/// (negative: paid).
fn trade(v: &mut Venue, q: i64) -> Result<i64, VenueError> {
    if q >= 0 {
        v.sell(Qty(q)).map(|p| p.0)
    } else {
        v.buy(Qty(-q)).map(|c| -c.0)
    }
}

/// Trade sizes from a tenth of a base unit's worth to far past any venue.
fn size() -> impl Strategy<Value = i64> {
    (any::<bool>(), 0u32..16, 1i64..1_000).prop_map(|(buy, exp, m)| {
        let q = m.saturating_mul(10i64.saturating_pow(exp));
        if buy {
            -q
        } else {
            q
        }
    })
}

proptest! {
    /// A trade that fails leaves the venue exactly as it was, whatever the
    /// venue has been through.
    #[test]
    fn a_failed_trade_changes_nothing(
        kind in 0usize..6,
        history in proptest::collection::vec((size(), any::<bool>()), 0..8),
        q in size(),
    ) {
        let mut v = venue(kind);
        for (h, recover) in history {
            let _ = trade(&mut v, h);
            if recover {
                v.recover().unwrap();
            }
        }
        let before = v;
        match trade(&mut v, q) {
            Ok(_) => {}
            Err(e) => {
                prop_assert_eq!(e, VenueError::Exhausted);
                prop_assert_eq!(v, before);
            }
        }
    }

    /// Selling and buying the same amount back (or buying, then selling)
    /// never leaves the trader with more quote than before.
    #[test]
    fn a_round_trip_never_profits(
        kind in 0usize..6,
        history in proptest::collection::vec(size(), 0..6),
        q in 1i64..2_000 * ETH,
        buy_first in any::<bool>(),
    ) {
        let mut v = venue(kind);
        for h in history {
            let _ = trade(&mut v, h);
        }
        let q = if buy_first { -q } else { q };
        let Ok(first) = trade(&mut v, q) else { return Ok(()); };
        let Ok(second) = trade(&mut v, -q) else { return Ok(()); };
        prop_assert!(first + second <= 0, "a round trip of {} made {}", q, first + second);
        if kind == 5 {
            prop_assert_eq!(first + second, 0, "the quote is a transfer");
        }
    }

    /// A curve's fill lies between q·p(Q′) and q·p(Q), the prices the trade
    /// went through as the venue reports them (down; a purchase's bracket
    /// uses prices rounded up, within two mantissa units of these).
    #[test]
    fn curve_fills_are_bracketed_by_the_prices_traded_through(
        kind in 0usize..3,
        history in proptest::collection::vec(-500 * ETH..500 * ETH, 0..4),
        q in -300 * ETH..300 * ETH,
    ) {
        let mut v = venue(kind);
        for h in history {
            let _ = trade(&mut v, h);
        }
        let before = i128::from(v.price().unwrap().mantissa());
        let Ok(paid) = trade(&mut v, q) else { return Ok(()); };
        let after = i128::from(v.price().unwrap().mantissa());
        let (a, b) = (i128::from(q) * before, i128::from(q) * after);
        let scaled = i128::from(paid) * 10i128.pow(12);
        let slack = if q < 0 { 2 * i128::from(q).abs() } else { 0 };
        prop_assert!(scaled <= a.max(b), "{} above {}", scaled, a.max(b));
        prop_assert!(scaled > a.min(b) - slack - 10i128.pow(12), "{} below {}", scaled, a.min(b));
    }

    /// Running totals are the sum of every fill, trades and arbitrage
    /// alike; a pool's reserves move by exactly those totals.
    #[test]
    fn totals_count_every_fill(
        kind in 0usize..6,
        ops in proptest::collection::vec((size(), 0u8..4, 500u64..4_000), 0..12),
    ) {
        let mut v = venue(kind);
        let mut sum = Fill::default();
        for (q, op, usd) in ops {
            let fill = match op {
                0 | 1 => trade(&mut v, q).ok().map(|paid| Fill { base_in: Qty(q), quote_out: Value(paid) }),
                2 => v.recover().ok(),
                _ => v.move_price(price(usd * 1_000_000_000)).ok(),
            };
            if let Some(fill) = fill {
                sum = sum.add(fill).unwrap();
            }
        }
        prop_assert_eq!((v.base_in, v.quote_out), (sum.base_in, sum.quote_out));
        if let Mechanism::Pool(p) = v.mechanism {
            prop_assert_eq!(p.pool.base.0 - 10_000 * ETH, v.base_in.0);
            prop_assert_eq!(20_000_000_000_000 - p.pool.quote.0, v.quote_out.0);
        }
    }
}

#[test]
fn every_kind_refuses_what_it_cannot_fill() {
    // Curves break at the floor, the pool when a buy would drain it, the
    // book when a side runs out; the totals' overflow is refused too.
    let too_much = [
        1_000_000 * ETH,
        100_000 * ETH,
        200_000 * ETH,
        -10_000 * ETH,
        51 * ETH,
    ];
    for (kind, q) in too_much.into_iter().enumerate() {
        let mut v = venue(kind);
        trade(&mut v, ETH).unwrap();
        let before = v;
        assert_eq!(trade(&mut v, q), Err(VenueError::Exhausted), "kind {kind}");
        assert_eq!(v, before, "kind {kind}");
    }
    // A transfer of i64::MIN quote units could not be negated into a cost.
    assert_eq!(venue(5).plan(Qty(i64::MIN)), Err(VenueError::Exhausted));
    for kind in 0..6 {
        let mut v = venue(kind);
        v.quote_out = Value(i64::MAX);
        let full = v;
        assert_eq!(
            trade(&mut v, ETH),
            Err(VenueError::Exhausted),
            "kind {kind}"
        );
        assert_eq!(v, full, "kind {kind}");
        assert_eq!(
            v.sell(Qty(-1)),
            Err(VenueError::Arith(ArithError::Domain)),
            "kind {kind}"
        );
    }
}

#[test]
fn a_plan_writes_nothing_until_applied() {
    for kind in 0..6 {
        let v = venue(kind);
        let planned = v.plan(Qty(3 * ETH)).unwrap();
        assert_eq!(v, venue(kind), "kind {kind}");
        let mut applied = v;
        applied.apply(&planned);
        let mut sold = v;
        let proceeds = sold.sell(Qty(3 * ETH)).unwrap();
        assert_eq!(applied, sold, "kind {kind}");
        assert_eq!(planned.fill().quote_out, proceeds);
        assert_eq!(planned.fill().base_in, Qty(3 * ETH));
    }
}

/// After a sale (and after a purchase) every kind recovers toward its
/// reference, never past it, and settles there in bounded rounds; then
/// nothing moves.
#[test]
fn recovery_moves_toward_the_reference_and_settles() {
    for kind in 0..5 {
        for q in [300 * ETH, -300 * ETH] {
            let q = if kind == 4 { q / 10 } else { q };
            let mut v = venue(kind);
            trade(&mut v, q).unwrap();
            let reference = |v: &Venue| match v.mechanism {
                Mechanism::Pool(p) => p.reference_mantissa,
                _ => START,
            };
            let mut now = v.price().unwrap().mantissa();
            assert_ne!(now, START, "kind {kind}: the trade moved the price");
            let mut rounds = 0;
            while now != reference(&v) {
                let target = reference(&v);
                v.recover().unwrap();
                let next = v.price().unwrap().mantissa();
                let toward = if q > 0 {
                    now < next && next <= target
                } else {
                    target <= next && next < now
                };
                assert!(
                    toward || next == reference(&v),
                    "kind {kind}: {now} -> {next}, reference {target}"
                );
                now = next;
                rounds += 1;
                assert!(rounds <= 40, "kind {kind}: recovery must settle");
            }
            // Settled: the curve and book at the reference itself, the pool
            // at its own price within its rounding of the reference.
            assert!(now.abs_diff(START) <= 2, "kind {kind}: settled at {now}");
            let settled = v;
            assert_eq!(v.recover(), Ok(Fill::default()), "kind {kind}");
            assert_eq!(v, settled, "kind {kind}");
        }
    }
}

#[test]
fn a_shock_moves_the_price_to_its_target() {
    for kind in 0..5 {
        let mut v = venue(kind);
        trade(&mut v, 50 * ETH).unwrap();
        let fill = v.move_price(price(1_600_000_000_000)).unwrap();
        let now = v.price().unwrap().mantissa();
        assert!(
            now.abs_diff(1_600_000_000_000) <= 1_000,
            "kind {kind}: moved to {now}"
        );
        // Only a pool trades to move: its arbitrageur sells base in.
        assert_eq!(fill != Fill::default(), kind == 3, "kind {kind}");
        if kind == 3 {
            assert!(fill.base_in.is_positive());
        }
        // Wrong exponent: refused, nothing moves.
        let before = v;
        assert_eq!(
            v.move_price(Price::new(1_600, 0).unwrap()),
            Err(VenueError::Arith(ArithError::Domain))
        );
        assert_eq!(v, before);
    }
    // To the floor, or where the reference would be below it: refused.
    for kind in 0..3 {
        let mut v = venue(kind);
        let before = v;
        assert_eq!(
            v.move_price(price(100_000_000_000)),
            Err(VenueError::Exhausted),
            "kind {kind}"
        );
        assert_eq!(v, before);
    }
    let mut linear = venue(0);
    trade(&mut linear, -3_000 * ETH).unwrap(); // 2,000 → 3,500
    let before = linear;
    assert_eq!(
        linear.move_price(price(1_400_000_000_000)),
        Err(VenueError::Exhausted),
        "the reference would fall to 2,000 − 2,100 < 0"
    );
    assert_eq!(linear, before);
    assert_eq!(
        venue(5).move_price(Price::ONE),
        Err(VenueError::Exhausted),
        "the quote's price does not move"
    );
}

/// A shock to the price a venue already shows trades nothing and changes
/// nothing, on every kind, mid-cascade (issue 22: a pool used to take its
/// depressed price as the new outside price).
#[test]
fn a_move_by_a_ratio_of_one_changes_nothing() {
    for kind in 0..5 {
        for q in [7 * ETH, -7 * ETH] {
            let mut v = venue(kind);
            trade(&mut v, q).unwrap();
            v.recover().unwrap();
            let before = v;
            let now = v.price().unwrap();
            assert_eq!(v.move_price(now), Ok(Fill::default()), "kind {kind}");
            assert_eq!(v, before, "kind {kind}");
        }
    }
}

#[test]
fn a_linear_shock_keeps_the_impact() {
    let mut v = venue(0);
    trade(&mut v, 100 * ETH).unwrap(); // 2,000 − 0.5·100 = 1,950
    assert_eq!(v.price().unwrap().mantissa(), 1_950_000_000_000);
    v.move_price(price(1_800_000_000_000)).unwrap();
    assert_eq!(v.price().unwrap().mantissa(), 1_800_000_000_000);
    // The impact of 100 ETH decays back to the new reference, 1,850.
    while v.recover().is_ok()
        && matches!(v.mechanism, Mechanism::Curve(c) if c.outstanding != Qty::ZERO)
    {}
    assert_eq!(v.price().unwrap().mantissa(), 1_850_000_000_000);
}

#[test]
fn configurations_are_validated() {
    let p = price(START);
    let floor = price(1);
    let bad = |config: VenueConfig| Venue::<4>::new(&config, p, DUST).err();
    let invalid = |param| Some(VenueError::Invalid(param));
    assert_eq!(
        bad(VenueConfig::Linear {
            slope: Slope {
                mantissa: 0,
                exponent: 0
            },
            resilience: half(),
            floor
        }),
        invalid(VenueParam::Liquidity)
    );
    assert_eq!(
        bad(VenueConfig::Exponential {
            depth: Qty(ETH),
            resilience: Ratio(RATIO_SCALE + 1),
            floor
        }),
        invalid(VenueParam::Resilience)
    );
    assert_eq!(
        bad(VenueConfig::SquareRoot {
            y_sigma: Ratio(1),
            volume: Qty(ETH),
            resilience: half(),
            floor: Price::new(1, 6).unwrap()
        }),
        invalid(VenueParam::Floor)
    );
    assert_eq!(
        bad(VenueConfig::ConstantProduct {
            base_reserve: Qty(ETH),
            fee: Ratio::ONE,
            resilience: half()
        }),
        invalid(VenueParam::Fee)
    );
    assert_eq!(
        bad(VenueConfig::ConstantProduct {
            base_reserve: Qty(1),
            fee: Ratio::ZERO,
            resilience: half()
        }),
        None,
        "one base unit is worth two quote units"
    );
    // Five levels in a ladder of four; 1% × 100 levels = 1.
    for (levels, tick) in [(5, 10_000_000), (0, 10_000_000), (4, 250_000_000)] {
        assert_eq!(
            bad(VenueConfig::OrderBook {
                levels,
                tick: Ratio(tick),
                depth: Qty(ETH),
                resilience: half()
            }),
            invalid(VenueParam::Levels)
        );
    }
    assert_eq!(bad(VenueConfig::Quote), invalid(VenueParam::Kind));
}

/// The sizes the layout is chosen for (64-bit targets): a venue without
/// a book, or with a shallow one, stays small; the kernel's every venue is
/// 656 bytes.
#[test]
fn venue_sizes() {
    use core::mem::size_of;
    let sizes: Vec<(&str, usize)> = std::vec![
        ("CurveVenue", size_of::<CurveVenue>()),
        ("PoolVenue", size_of::<PoolVenue>()),
        ("Ladder<16>", size_of::<Ladder<16>>()),
        ("Ladder<4>", size_of::<Ladder<4>>()),
        ("Venue<16>", size_of::<Venue<16>>()),
        ("Venue<4>", size_of::<Venue<4>>()),
        ("Venue<0>", size_of::<Venue<0>>()),
        ("Trade", size_of::<Trade>()),
    ];
    std::println!("{sizes:?}");
    if cfg!(target_pointer_width = "64") {
        assert!(size_of::<CurveVenue>() <= 56);
        assert!(size_of::<PoolVenue>() <= 40);
        assert!(size_of::<Venue<0>>() <= 96, "{sizes:?}");
        assert!(size_of::<Venue<16>>() <= 336, "{sizes:?}");
        assert_eq!(
            size_of::<Ladder<16>>() - size_of::<Ladder<4>>(),
            2 * 12 * 8,
            "a level is one i64 a side"
        );
    }
}

//! Auto-deleveraging against a reference written plainly. Random small
//! perpetuals markets run one unit at a time; for every unit the reference
//! recomputes, from the rows the unit started from, what auto-deleveraging
//! must do (every counterparty looked at afresh for every slice and every
//! take, the opposite side sorted outright when ranked), and the kernel's
//! slices (who, in what order, how much, for how much quote) and every
//! other account's row after the unit must be exactly the reference's. An
//! account skipped, taken twice or out of turn fails, pro rata or ranked.

use firesale_core::account::WeightedPrice;
use firesale_core::num::{self, Fx, Round};
use firesale_core::{
    account, AdlRanking, AssetConfig, Engine, Event, HealthTier, Policy, Price, Qty, Ratio, Shock,
    ShockKind, StepOutcome, Value, VenueConfig,
};
use firesale_harness::scenario::{risky, Limits};
use firesale_harness::Scenario;
use firesale_tests::{engine, Buffers, Log};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::cmp::Ordering;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64)
}

/// Larger leverage first, then the lower id (the kernel's rank).
type Key = (Fx, u32);

fn rank(a: &Key, b: &Key) -> Ordering {
    b.0.cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The rows, deposit indices, oracle prices and maintenance weighted
/// prices a unit started from.
#[derive(Clone)]
struct Market {
    rows: Vec<Vec<Qty>>,
    index: Vec<Ratio>,
    oracle: Vec<Price>,
    maint: Vec<WeightedPrice>,
}

impl Market {
    fn read(s: &Scenario, e: &Engine<'_>) -> Self {
        let n = e.asset_count();
        let oracle: Vec<Price> = (0..n).map(|a| e.oracle_price(a).unwrap()).collect();
        Market {
            rows: (0..e.account_count())
                .map(|id| e.stored_balances(id).unwrap().to_vec())
                .collect(),
            index: (0..n).map(|a| e.deposit_index(a).unwrap()).collect(),
            maint: (0..n)
                .map(|a| WeightedPrice::new(&s.assets[a], oracle[a], HealthTier::Maint).unwrap())
                .collect(),
            oracle,
        }
    }

    /// Maintenance health of a row.
    fn health(&self, row: &[Qty]) -> Value {
        account::health(row, &self.index, &self.maint)
            .unwrap()
            .net()
            .unwrap()
    }

    fn held(&self, id: usize, asset: usize) -> Qty {
        account::effective(self.rows[id][asset], self.index[asset]).unwrap()
    }

    /// Unweighted equity at the oracle.
    fn equity(&self, id: usize) -> Value {
        (0..self.index.len()).fold(Value::ZERO, |sum, a| {
            let b = self.held(id, a);
            let round = if b.is_negative() {
                Round::Up
            } else {
                Round::Down
            };
            sum.add(b.value_at(self.oracle[a], round).unwrap()).unwrap()
        })
    }

    fn score(&self, id: usize, size: Qty) -> Key {
        let score = num::div(size.0, self.equity(id).0, Round::Down).unwrap();
        (score, id as u32)
    }

    fn debit(&mut self, id: usize, asset: usize, amount: Qty) {
        let row = &mut self.rows[id][asset];
        *row = account::debit(*row, amount, self.index[asset]).unwrap();
    }

    fn credit(&mut self, id: usize, asset: usize, amount: Qty) {
        let row = &mut self.rows[id][asset];
        *row = account::credit(*row, amount, self.index[asset]).unwrap();
    }

    /// Every slice closing bankrupt `b`'s position in `asset` at its
    /// bankruptcy price, in order: (counterparty, units, quote). It stops
    /// before a slice that would lower the bankrupt's health (one too
    /// small to beat rounding).
    fn slices(&self, ranking: AdlRanking, b: usize, asset: usize) -> Vec<(u32, Qty, Value)> {
        let risky = self.held(b, asset);
        let whole = risky.abs().unwrap();
        let quote = self.held(b, 0).abs().unwrap();
        let mut opposite: Vec<(Qty, Key)> = (0..self.rows.len())
            .filter(|&id| id != b)
            .filter_map(|id| {
                let held = self.held(id, asset);
                let eligible = held != Qty::ZERO
                    && held.is_positive() != risky.is_positive()
                    && self.equity(id).is_positive();
                eligible.then(|| {
                    let size = held.abs().unwrap();
                    (size, self.score(id, size))
                })
            })
            .collect();
        let total = opposite
            .iter()
            .fold(Qty::ZERO, |t, (size, _)| t.add(*size).unwrap());
        if ranking == AdlRanking::Ranked {
            opposite.sort_by(|x, y| rank(&x.1, &y.1));
        }
        let mut left = whole;
        let mut out = Vec::new();
        let mut planned = self.rows[b].clone();
        for (size, key) in opposite {
            if !left.is_positive() {
                break;
            }
            let qty = match ranking {
                AdlRanking::Ranked => size,
                AdlRanking::ProRata if total <= whole => size,
                AdlRanking::ProRata => {
                    Qty(num::mul_div(whole.0, size.0, total.0, Round::Down).unwrap())
                }
            }
            .min(left);
            let paid = Value(num::mul_div(qty.0, quote.0, whole.0, Round::Down).unwrap());
            let mut next = planned.clone();
            let (ia, iq) = (self.index[asset], self.index[0]);
            let paid_qty = paid.as_quote_qty();
            if risky.is_negative() {
                next[asset] = account::credit(next[asset], qty, ia).unwrap();
                next[0] = account::debit(next[0], paid_qty, iq).unwrap();
            } else {
                next[asset] = account::debit(next[asset], qty, ia).unwrap();
                next[0] = account::credit(next[0], paid_qty, iq).unwrap();
            }
            if self.health(&next) < self.health(&planned) {
                break;
            }
            planned = next;
            out.push((key.1, qty, paid));
            left = left.sub(qty).unwrap();
        }
        out
    }

    /// Writes a slice to the counterparty's row.
    fn apply_slice(
        &mut self,
        bankrupt_short: bool,
        asset: usize,
        (id, qty, quote): (u32, Qty, Value),
    ) {
        let (id, quote) = (id as usize, quote.as_quote_qty());
        if bankrupt_short {
            self.debit(id, asset, qty);
            self.credit(id, 0, quote);
        } else {
            self.credit(id, asset, qty);
            self.debit(id, 0, quote);
        }
    }

    /// What account `id` can give of a loss in `loss_asset` from the side
    /// opposite a bankrupt position in `position`, and its rank.
    fn capacity(
        &self,
        id: usize,
        position: usize,
        long: bool,
        loss_asset: usize,
    ) -> Option<(Qty, Key)> {
        let held = self.held(id, position);
        let opposite = if long {
            held.is_negative()
        } else {
            held.is_positive()
        };
        let equity = self.equity(id);
        if !opposite || !equity.is_positive() {
            return None;
        }
        let own = self.held(id, loss_asset);
        let by_equity = equity.qty_at(self.oracle[loss_asset], Round::Down).unwrap();
        let capacity = by_equity.min(own.max(Qty::ZERO));
        capacity
            .is_positive()
            .then(|| (capacity, self.score(id, held.abs().unwrap())))
    }

    /// Takes `loss` from the opposite side into the rows; returns what was
    /// taken and from whom, in order. Ranked looks at every account again
    /// for every take.
    fn take(
        &mut self,
        ranking: AdlRanking,
        b: usize,
        position: usize,
        long: bool,
        loss: Qty,
    ) -> (Qty, Vec<usize>) {
        let loss_asset = if long { 0 } else { position };
        let others: Vec<usize> = (0..self.rows.len()).filter(|&id| id != b).collect();
        let mut left = loss;
        let mut from = Vec::new();
        match ranking {
            AdlRanking::ProRata => {
                let total = others.iter().fold(Qty::ZERO, |t, &id| {
                    match self.capacity(id, position, long, loss_asset) {
                        Some((c, _)) => t.add(c).unwrap(),
                        None => t,
                    }
                });
                for &id in &others {
                    if !left.is_positive() {
                        break;
                    }
                    let Some((capacity, _)) = self.capacity(id, position, long, loss_asset) else {
                        continue;
                    };
                    let share = if total <= loss {
                        capacity
                    } else {
                        Qty(num::mul_div(loss.0, capacity.0, total.0, Round::Up).unwrap())
                    };
                    let amount = share.min(left).min(capacity);
                    self.debit(id, loss_asset, amount);
                    left = left.sub(amount).unwrap();
                    from.push(id);
                }
            }
            AdlRanking::Ranked => {
                for _ in 0..self.rows.len() {
                    if !left.is_positive() {
                        break;
                    }
                    let best = others
                        .iter()
                        .filter_map(|&id| self.capacity(id, position, long, loss_asset))
                        .min_by(|x, y| rank(&x.1, &y.1));
                    let Some((capacity, key)) = best else {
                        break;
                    };
                    let amount = capacity.min(left);
                    self.debit(key.1 as usize, loss_asset, amount);
                    left = left.sub(amount).unwrap();
                    from.push(key.1 as usize);
                }
            }
        }
        (loss.sub(left).unwrap(), from)
    }
}

/// What the check saw.
#[derive(Default, Debug, Clone, Copy)]
struct Seen {
    /// Units that deleveraged at the bankruptcy price.
    deleveraged: usize,
    /// Slices in all.
    slices: usize,
    /// Waterfall losses taken from the opposite side.
    takes: usize,
    /// Plans of more slices than a ranked pass keeps (8), and losses taken
    /// in more takes than that.
    long_plans: usize,
    long_takes: usize,
    /// Losses that took from one account twice (a rounding residue).
    retakes: usize,
}

impl Seen {
    fn add(&mut self, o: Seen) {
        self.deleveraged += o.deleveraged;
        self.slices += o.slices;
        self.takes += o.takes;
        self.long_plans += o.long_plans;
        self.long_takes += o.long_takes;
        self.retakes += o.retakes;
    }
}

/// Runs `s` one unit at a time against the reference.
fn check(s: &Scenario) -> Seen {
    let ranking = s.limits.deleveraging.unwrap();
    let mut buffers = Buffers::new(s);
    let mut e = engine(s, &mut buffers).unwrap();
    let mut seen = Seen::default();
    for _ in 0..1_000_000 {
        let before = Market::read(s, &e);
        let mut log = Log::default();
        let outcome = e.step(1, &mut log);
        if log
            .0
            .iter()
            .any(|ev| matches!(ev, Event::RolledBack { .. }))
        {
            // A failed unit: the run ends on it, nothing to compare.
            assert!(matches!(outcome, StepOutcome::Done(_)));
            return seen;
        }
        let mut expected = before.clone();
        let mut unit_account = None;
        let mut exposure = None;
        let slices: Vec<(u32, u32, u8, Qty, Value)> = log
            .0
            .iter()
            .filter_map(|ev| match *ev {
                Event::Deleveraged {
                    account,
                    counterparty,
                    asset,
                    qty,
                    quote,
                    ..
                } => Some((account, counterparty, asset, qty, quote)),
                _ => None,
            })
            .collect();
        if let Some(&(b, _, asset, _, _)) = slices.first() {
            let asset = asset as usize;
            let want = before.slices(ranking, b as usize, asset);
            let got: Vec<(u32, Qty, Value)> = slices
                .iter()
                .map(|&(account, counterparty, a, qty, quote)| {
                    assert_eq!((account, a as usize), (b, asset), "one position per unit");
                    (counterparty, qty, quote)
                })
                .collect();
            assert_eq!(got, want, "{ranking:?} slices of account {b}");
            let short = before.held(b as usize, asset).is_negative();
            for &slice in &got {
                expected.apply_slice(short, asset, slice);
            }
            seen.deleveraged += 1;
            seen.slices += got.len();
            seen.long_plans += usize::from(got.len() > 8);
        }
        for ev in &log.0 {
            match *ev {
                Event::Liquidation {
                    account,
                    collateral,
                    ..
                } => {
                    unit_account = Some(account);
                    if collateral != 0 {
                        exposure = Some(collateral as usize);
                    }
                }
                Event::Deleveraged { account, .. } => unit_account = Some(account),
                Event::Bankruptcy {
                    account,
                    asset,
                    deleveraged,
                    unrecovered,
                    ..
                } => {
                    unit_account = Some(account);
                    let asset = asset as usize;
                    let side = match asset {
                        0 => exposure.map(|position| (position, true)),
                        _ => Some((asset, false)),
                    };
                    let loss = deleveraged.add(unrecovered).unwrap();
                    let (taken, from) = match side {
                        Some((position, long)) if loss.is_positive() => {
                            expected.take(ranking, account as usize, position, long, loss)
                        }
                        _ => (Qty::ZERO, Vec::new()),
                    };
                    assert_eq!(taken, deleveraged, "{ranking:?} loss of account {account}");
                    seen.takes += usize::from(taken.is_positive());
                    seen.long_takes += usize::from(from.len() > 8);
                    let mut distinct = from.clone();
                    distinct.sort_unstable();
                    distinct.dedup();
                    seen.retakes += usize::from(distinct.len() < from.len());
                }
                _ => {}
            }
        }
        let after = Market::read(s, &e);
        assert_eq!(after.index, before.index, "no haircut under deleveraging");
        for id in (0..after.rows.len()).filter(|&id| Some(id as u32) != unit_account) {
            assert_eq!(
                after.rows[id], expected.rows[id],
                "{ranking:?}: account {id} after the unit of {unit_account:?}"
            );
        }
        if let StepOutcome::Done(_) = outcome {
            return seen;
        }
    }
    panic!("the run does not end");
}

/// One account: longs and shorts of ETH (at 100) or of a cheap coin (at
/// 0.5, so that a take can leave a rounding residue) at a leverage, small
/// ones (many slices to one bankruptcy), holders, lenders, cross-margined
/// longs of both, and identical positions (ties in rank).
fn row(kind: u8, size: f64, leverage: f64) -> [f64; 3] {
    let (eth, coin) = (100.0, 0.5);
    let coins = size * 200.0;
    let small = size / 30.0;
    match kind {
        0 => [-size * eth * (1.0 - 1.0 / leverage), size, 0.0],
        1 => [size * eth * (1.0 + 1.0 / leverage), -size, 0.0],
        2 => [-coins * coin * (1.0 - 1.0 / leverage), 0.0, coins],
        3 => [coins * coin * (1.0 + 1.0 / leverage), 0.0, -coins],
        4 => [0.0, size, coins],
        5 => [size * eth, 0.0, 0.0],
        6 => [-size * 2.0 * eth * (1.0 - 1.0 / leverage), size, coins],
        7 => [-900.0, 10.0, 0.0],
        8 => [1_100.0, -10.0, 0.0],
        9 => [small * eth * (1.0 + 1.0 / leverage), -small, 0.0],
        10 => [-small * eth * (1.0 - 1.0 / leverage), small, 0.0],
        11 => [
            coins * coin / 30.0 * (1.0 + 1.0 / leverage),
            0.0,
            -coins / 30.0,
        ],
        _ => [
            -coins * coin / 30.0 * (1.0 - 1.0 / leverage),
            0.0,
            coins / 30.0,
        ],
    }
}

fn market(
    rows: &[(u8, f64, f64)],
    (eth_move, coin_move): (f64, f64),
    insurance: f64,
    depth: f64,
    ranking: AdlRanking,
    policy: Policy,
) -> Scenario {
    let pool = |base: f64| VenueConfig::ConstantProduct {
        base_reserve: Qty::from_f64(base),
        fee: Ratio::from_f64(0.003),
        resilience: Ratio::from_f64(0.2),
    };
    let weights = [0.9, 0.93, 0.95];
    let shock = |asset, ratio| Shock {
        round: 1,
        asset,
        kind: ShockKind::MovePrice(Ratio::from_f64(ratio)),
    };
    Scenario {
        name: "adl reference".into(),
        asset_names: vec!["USDC".into(), "ETH".into(), "COIN".into()],
        assets: vec![
            AssetConfig::quote(),
            risky(100.0, weights, 0.01, pool(depth)),
            risky(0.5, weights, 0.01, pool(200.0 * depth)),
        ],
        policy,
        max_rounds: 40,
        oracle_lag_rounds: 0,
        insurance_fund: Value::from_f64(insurance),
        shocks: vec![shock(1, eth_move), shock(2, coin_move)],
        balances: rows
            .iter()
            .flat_map(|&(kind, size, leverage)| row(kind, size, leverage).map(Qty::from_f64))
            .collect(),
        limits: Limits {
            deleveraging: Some(ranking),
            ..Limits::default()
        },
    }
}

fn markets() -> impl Strategy<Value = Scenario> {
    let account = (0u8..13, 0.1f64..60.0, 1.5f64..40.0);
    let shock = prop_oneof![0.5f64..0.9, 1.1f64..1.7];
    (
        proptest::collection::vec(account, 3..48),
        (shock.clone(), shock),
        prop_oneof![Just(0.0), 0.0f64..3_000.0],
        200.0f64..20_000.0,
        prop_oneof![Just(AdlRanking::ProRata), Just(AdlRanking::Ranked)],
        prop_oneof![Just(Policy::Absorb), Just(Policy::aave_like())],
    )
        .prop_map(|(rows, moves, insurance, depth, ranking, policy)| {
            market(&rows, moves, insurance, depth, ranking, policy)
        })
}

/// A few large levered positions against many small ones on the other
/// side, the price moving against the large ones: bankruptcies that take
/// many slices, and losses that take from many accounts.
fn crowded() -> impl Strategy<Value = Scenario> {
    let large = (
        prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(6)],
        20.0f64..60.0,
        8.0f64..40.0,
    );
    let small = (
        prop_oneof![Just(9u8), Just(10), Just(11), Just(12)],
        1.0f64..60.0,
        1.5f64..10.0,
    );
    (
        proptest::collection::vec(large, 1..4),
        proptest::collection::vec(small, 10..60),
        any::<bool>(),
        prop_oneof![Just(0.0), 0.0f64..3_000.0],
        200.0f64..20_000.0,
        prop_oneof![Just(AdlRanking::ProRata), Just(AdlRanking::Ranked)],
    )
        .prop_map(|(large, small, down, insurance, depth, ranking)| {
            // The large ones first or last: ids on both sides of them.
            let rows: Vec<_> = match down {
                true => large.iter().chain(&small).copied().collect(),
                false => small.iter().chain(&large).copied().collect(),
            };
            let moves = match down {
                true => (0.6, 0.6),
                false => (1.5, 1.5),
            };
            market(&rows, moves, insurance, depth, ranking, Policy::Absorb)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn deleveraging_matches_the_plain_reference(s in prop_oneof![markets(), crowded()]) {
        check(&s);
    }
}

/// The generated markets reach what the reference checks: slices at the
/// bankruptcy price and losses taken in the waterfall, both orders.
#[test]
fn the_reference_sees_slices_and_takes_in_both_orders() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for ranking in [AdlRanking::ProRata, AdlRanking::Ranked] {
        let mut all = Seen::default();
        for _ in 0..48 {
            let mut s = prop_oneof![markets(), crowded()]
                .new_tree(&mut runner)
                .unwrap()
                .current();
            s.limits.deleveraging = Some(ranking);
            all.add(check(&s));
        }
        println!("{ranking:?}: {all:?}");
        assert!(
            all.deleveraged >= 10 && all.slices > all.deleveraged,
            "{ranking:?}: {all:?}"
        );
        assert!(all.takes > 0, "{ranking:?}: {all:?}");
        assert!(
            all.long_plans > 0 && all.long_takes > 0,
            "{ranking:?}: {all:?}"
        );
    }
}

/// A ranked take that leaves a rounding residue: the account taken from
/// keeps a few ulps of capacity and ranks anew against the rest. Found in
/// the 2,370th of the deterministic runner's crowded markets (1 in 3,000).
#[test]
fn a_rounding_residue_is_taken_from_again() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut s = None;
    for _ in 0..2_370 {
        s = Some(crowded().new_tree(&mut runner).unwrap().current());
    }
    let mut s = s.unwrap();
    s.limits.deleveraging = Some(AdlRanking::Ranked);
    let seen = check(&s);
    assert_eq!(seen.retakes, 1, "{seen:?}");
}

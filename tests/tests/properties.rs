//! Property tests over generated markets: 1 to 8 assets, every venue kind,
//! every policy, long, short and cross-margined accounts, shocks of any size
//! and sign. Each property names what it would catch. Cases per property:
//! `PROPTEST_CASES` (default 64 here; CI sets more, see docs/verification.md).

use firesale_core::engine::Engine;
use firesale_core::error::{AssetParam, ConfigError, EngineParam};
use firesale_core::{
    Error, Event, HealthTier, Policy, Price, Qty, Ratio, ShockKind, StepOutcome, Termination, Value,
};
use firesale_tests::strategies::scenario;
use firesale_tests::{engine, try_run_checked, Buffers, Log};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Conservation (the audit after every step), solvency (no account
    /// liquidatable at a fixed point; the insurance fund never negative),
    /// health (no liquidation lowers its account's health), and the bad-debt
    /// identity: every unit written off is covered, socialized or reported
    /// unrecovered. Catches a one-sided transfer, a flipped rounding, a fee
    /// paid twice, a fixed point declared too early.
    #[test]
    fn every_step_conserves_and_every_fixed_point_is_solvent((s, budgets) in scenario()) {
        let run = try_run_checked(&s, &budgets).expect("generated scenarios are valid");
        for (i, a) in run.report.assets().iter().enumerate() {
            let accounted = a.covered.add(a.socialized).unwrap().add(a.deleveraged).unwrap().add(a.unrecovered).unwrap();
            prop_assert_eq!(a.written_off, accounted, "asset {}", i);
        }
        prop_assert!(!run.report.insurance_fund.is_negative());
    }

    /// Termination: a run takes at most `max_rounds × (4 + 2·accounts)` units
    /// of work (docs/semantics.md). Catches a unit that does no work and
    /// loops, or a round that revisits accounts.
    #[test]
    fn every_run_ends_within_the_documented_bound((s, _) in scenario()) {
        let mut b = Buffers::new(&s);
        let mut e = engine(&s, &mut b).unwrap();
        let bound = u64::from(s.max_rounds) * (4 + 2 * s.accounts() as u64);
        let mut units = 0u64;
        while let StepOutcome::Pending = e.step(1, &mut ()) {
            units += 1;
            prop_assert!(units <= bound, "{} units over the bound {}", units, bound);
        }
    }

    /// Determinism and budget equivalence: the same scenario under random
    /// step budgets gives the same digest, events, report and ending as one
    /// unbounded run, and as a second unbounded run. Catches state kept
    /// between units outside the engine, or a phase that skips on resume.
    #[test]
    fn any_budget_sequence_gives_the_same_run((s, budgets) in scenario()) {
        let whole = try_run_checked(&s, &[u32::MAX]).unwrap();
        let again = try_run_checked(&s, &[u32::MAX]).unwrap();
        let stepped = try_run_checked(&s, &budgets).unwrap();
        prop_assert_eq!(whole.digest, again.digest);
        prop_assert_eq!(whole.digest, stepped.digest);
        prop_assert_eq!(&whole.events, &stepped.events);
        prop_assert_eq!(whole.termination, stepped.termination);
        // Prices included: a pool's report catches up after a run of sales.
        prop_assert_eq!(whole.report, stepped.report);
    }

    /// A liquidation never repays more than the debt nor seizes more than
    /// the collateral held before it, and a close-factor liquidation repays
    /// at most its close factor (or dust, or a remainder under dust).
    /// Catches a policy clamp dropped, or a bonus applied twice.
    #[test]
    fn liquidations_take_no_more_than_policy_allows((s, _) in scenario()) {
        let mut b = Buffers::new(&s);
        let mut e = engine(&s, &mut b).unwrap();
        let mut log = Log::default();
        loop {
            let watched = e.next_liquidation().map(|id| id as usize);
            let before = watched.map(|id| {
                let held: Vec<Qty> = (0..e.asset_count()).map(|a| e.balance(id, a).unwrap()).collect();
                let hf = e.health(id, HealthTier::Maint).unwrap().factor().unwrap();
                (id, held, hf)
            });
            let seen = log.0.len();
            let outcome = e.step(1, &mut log);
            if let Some((id, held, hf)) = before {
                check_unit(&s, &e, id, &held, hf, &log.0[seen..])?;
            }
            if let StepOutcome::Done(_) = outcome {
                break;
            }
        }
    }

    /// Rounding never favours an account: for every account and asset, the
    /// final balance is at most the starting balance plus what events
    /// credited (repaid debt, debt written off) minus what they debited
    /// (collateral seized). Socialized losses only lower it further.
    #[test]
    fn no_account_gains_from_rounding((s, budgets) in scenario()) {
        let run = try_run_checked(&s, &budgets).unwrap();
        let n = s.assets.len();
        let mut expected: BTreeMap<(usize, usize), Qty> = BTreeMap::new();
        for id in 0..s.accounts() {
            for a in 0..n {
                expected.insert((id, a), s.balances[id * n + a]);
            }
        }
        let mut bump = |id: u32, a: u8, q: Qty| {
            let slot = expected.get_mut(&(id as usize, usize::from(a))).unwrap();
            *slot = slot.add(q).unwrap();
        };
        // Events a failed unit undid do not count.
        let mut effective: Vec<Event> = Vec::new();
        for e in &run.events {
            match *e {
                Event::RolledBack { events, .. } => effective.truncate(effective.len() - events as usize),
                other => effective.push(other),
            }
        }
        for e in &effective {
            match *e {
                Event::Liquidation { account, liability, collateral, repaid, seized, .. } => {
                    bump(account, liability, repaid);
                    bump(account, collateral, seized.neg().unwrap());
                }
                Event::Bankruptcy { account, asset, written_off, .. } => bump(account, asset, written_off),
                _ => {}
            }
        }
        let mut b = Buffers::new(&s);
        let mut e = engine(&s, &mut b).unwrap();
        e.run(&mut ());
        for ((id, a), want) in expected {
            let got = e.balance(id, a).unwrap();
            if got > want {
                let history: Vec<&Event> = run.events.iter().filter(|e| matches!(e,
                    Event::Liquidation { account, .. } | Event::Bankruptcy { account, .. } if *account as usize == id)).collect();
                prop_assert!(false, "account {} asset {}: {} > {}; started {:?}; events {:?}",
                    id, a, got, want, &s.balances[id * n..(id + 1) * n], history);
            }
        }
    }

    /// Validation: a valid market with one parameter made invalid gives the
    /// named configuration error, never a panic.
    #[test]
    fn invalid_parameters_are_named_errors((s, _) in scenario(), which in 0usize..8, asset_pick in 0usize..8) {
        let mut bad = s.clone();
        let asset = 1 + asset_pick % (bad.assets.len() - 1);
        let tag = asset as u8;
        let expected = match which {
            0 => { bad.assets[asset].price = Price::ZERO; ConfigError::Asset { asset: tag, param: AssetParam::Price } }
            1 => { bad.assets[asset].price = Price::from_int(-3); ConfigError::Asset { asset: tag, param: AssetParam::Price } }
            2 => {
                let w = &mut bad.assets[asset].asset_weights;
                w.init = Ratio(w.maint.0 + firesale_core::num::Fx::from_num(0.01));
                ConfigError::Asset { asset: tag, param: AssetParam::AssetWeights }
            }
            3 => { bad.assets[asset].liability_weights.maint = Ratio::from_f64(0.5); ConfigError::Asset { asset: tag, param: AssetParam::LiabilityWeights } }
            4 => { bad.assets[asset].dust = Qty::ZERO; ConfigError::Asset { asset: tag, param: AssetParam::Dust } }
            5 => { bad.max_rounds = 0; ConfigError::Engine(EngineParam::MaxRounds) }
            6 => { bad.insurance_fund = Value::from_int(-1); ConfigError::Engine(EngineParam::InsuranceFund) }
            _ => { bad.oracle_lag_rounds = 200; ConfigError::Engine(EngineParam::OracleLag) }
        };
        let mut b = Buffers::new(&bad);
        let got = engine(&bad, &mut b).err();
        prop_assert_eq!(got, Some(Error::Config(expected)));
    }
}

fn check_unit(
    s: &firesale_harness::Scenario,
    e: &Engine<'_>,
    id: usize,
    held: &[Qty],
    health_factor: Option<Ratio>,
    events: &[Event],
) -> Result<(), TestCaseError> {
    let mut repaid = vec![Qty::ZERO; held.len()];
    let mut seized = vec![Qty::ZERO; held.len()];
    let mut steps = 0;
    for ev in events {
        if let Event::Liquidation {
            account,
            liability,
            collateral,
            repaid: r,
            seized: c,
            ..
        } = *ev
        {
            prop_assert_eq!(account as usize, id);
            repaid[usize::from(liability)] = repaid[usize::from(liability)].add(r).unwrap();
            seized[usize::from(collateral)] = seized[usize::from(collateral)].add(c).unwrap();
            steps += 1;
        }
    }
    for a in 0..held.len() {
        let debt = if held[a].is_negative() {
            held[a].neg().unwrap()
        } else {
            Qty::ZERO
        };
        let collateral = if held[a].is_positive() {
            held[a]
        } else {
            Qty::ZERO
        };
        prop_assert!(
            repaid[a] <= debt,
            "asset {}: repaid {} of debt {}",
            a,
            repaid[a],
            debt
        );
        prop_assert!(
            seized[a] <= collateral,
            "asset {}: seized {} of {}",
            a,
            seized[a],
            collateral
        );
    }
    if let Policy::CloseFactor {
        close_factor,
        full_close_health_factor,
        full_close_debt_value,
    } = s.policy
    {
        prop_assert!(steps <= 1, "a close-factor liquidation is one pair step");
        let debt_value = held
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_negative())
            .map(|(a, b)| {
                b.neg()
                    .unwrap()
                    .value_owed(e.oracle_price(a).unwrap())
                    .unwrap()
                    .to_f64()
            })
            .sum::<f64>();
        let full = health_factor.is_some_and(|hf| hf <= full_close_health_factor)
            || debt_value < full_close_debt_value.to_f64();
        if !full {
            for a in 0..held.len() {
                if repaid[a] == Qty::ZERO {
                    continue;
                }
                let debt = held[a].neg().unwrap();
                let dust = s.assets[a].dust;
                let mut allowed = debt
                    .scale(close_factor, firesale_core::num::Round::Down)
                    .unwrap()
                    .max(dust.min(debt));
                if debt.sub(allowed).unwrap() < dust {
                    allowed = debt;
                }
                prop_assert!(
                    repaid[a] <= allowed,
                    "asset {}: repaid {} > allowed {}",
                    a,
                    repaid[a],
                    allowed
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Monotonicity where it holds: one collateral, long-only borrowers, a
    /// monotone venue, a price drop in round 1. A larger drop never
    /// liquidates fewer accounts (unless it breaks the market first).
    #[test]
    fn a_larger_shock_never_liquidates_fewer_accounts(
        (mut s, _) in scenario(),
        drop in 0.5..0.99f64,
        deeper in 0.5..0.99f64,
    ) {
        let n_old = s.assets.len();
        s.assets.truncate(2);
        let rows: Vec<[Qty; 2]> = s.balances.chunks(n_old).map(|r| [r[0], r[1]]).collect();
        s.balances = rows.iter().flat_map(|r| {
            // Long-only: drop shorts (negative risky balance with quote collateral).
            if r[1].is_negative() { [Qty::ZERO, Qty::ZERO] } else { *r }
        }).collect();
        s.shocks.clear();
        let run = |ratio: f64| {
            let mut t = s.clone();
            t.shocks = vec![firesale_core::Shock { round: 1, asset: 1, kind: ShockKind::MovePrice(Ratio::from_f64(ratio)) }];
            try_run_checked(&t, &[u32::MAX]).unwrap()
        };
        let small = run(drop);
        let large = run(drop * deeper);
        if !matches!(large.termination, Termination::MarketBroken { .. }) {
            prop_assert!(
                large.report.accounts_liquidated >= small.report.accounts_liquidated,
                "drop to {} liquidated {}, drop to {} liquidated {}",
                drop, small.report.accounts_liquidated, drop * deeper, large.report.accounts_liquidated
            );
        }
    }
}

/// The generator is worth its cases: most generated markets liquidate, many
/// cascade over several rounds, some reach the waterfall, and every venue
/// kind and policy appears. A generator that drifted into quiet markets would
/// make every property above pass vacuously; this catches that.
#[test]
fn generated_markets_exercise_the_kernel() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = scenario();
    let (mut liquidating, mut cascading, mut bankrupt, mut broken) = (0, 0, 0, 0);
    let mut venues = std::collections::HashSet::new();
    let mut policies = std::collections::HashSet::new();
    let samples = 300;
    for _ in 0..samples {
        let (s, budgets) = strategy.new_tree(&mut runner).unwrap().current();
        for a in &s.assets[1..] {
            venues.insert(std::mem::discriminant(&a.venue));
        }
        policies.insert(std::mem::discriminant(&s.policy));
        let run = try_run_checked(&s, &budgets).unwrap();
        let rounds_liquidating = run
            .events
            .iter()
            .filter(|e| matches!(e, Event::RoundEnded { liquidations, .. } if *liquidations > 0))
            .count();
        liquidating += usize::from(run.report.liquidations > 0);
        cascading += usize::from(rounds_liquidating >= 2);
        bankrupt += usize::from(run.report.bankruptcies > 0);
        broken += usize::from(matches!(run.termination, Termination::MarketBroken { .. }));
    }
    println!("of {samples}: {liquidating} liquidate, {cascading} cascade over 2+ rounds, {bankrupt} reach the waterfall, {broken} break a market");
    assert!(liquidating * 2 > samples, "most markets liquidate");
    assert!(cascading * 5 > samples, "many cascade");
    assert!(bankrupt * 10 > samples, "some reach the waterfall");
    assert_eq!(venues.len(), 5, "every venue kind");
    assert_eq!(policies.len(), 3, "every policy");
}

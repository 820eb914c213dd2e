//! The engine's public API as a state machine (proptest-state-machine):
//! random sequences of `step(budget)` calls, queries, audits and digests,
//! checked against a reference model. The model is the run recorded one unit
//! at a time: for each unit, the events it emits, the digest after it, and a
//! fingerprint of every query's answer. A step of budget `b` must emit
//! exactly the next `b` units' events and land on their digest; every query
//! must answer as the recorded state did.

use firesale_core::{Engine, Event, HealthTier, StepOutcome, Storage};
use firesale_harness::Scenario;
use firesale_tests::strategies::scenario;
use firesale_tests::{config, Buffers, Log};
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// One unit of the recorded run.
#[derive(Debug)]
struct Unit {
    events: Vec<Event>,
    digest: u64,
    queries: u64,
}

#[derive(Debug)]
struct Trace {
    scenario: Scenario,
    start_digest: u64,
    start_queries: u64,
    units: Vec<Unit>,
}

#[derive(Clone, Debug)]
struct Model {
    trace: Arc<Trace>,
    at: usize,
}

#[derive(Clone, Debug)]
enum Transition {
    Step(u32),
    Query,
    Audit,
}

/// Every query's answer, hashed: health in each tier, balances, prices,
/// indices, the fund, the round, the ending and the next liquidation.
fn queries(e: &Engine<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    for id in 0..e.account_count() {
        for tier in [HealthTier::Init, HealthTier::LiqEnd, HealthTier::Maint] {
            format!("{:?}", e.health(id, tier)).hash(&mut h);
        }
        for a in 0..e.asset_count() {
            format!("{:?}", e.balance(id, a)).hash(&mut h);
        }
    }
    for a in 0..e.asset_count() {
        format!(
            "{:?} {:?} {:?}",
            e.oracle_price(a),
            e.deposit_index(a),
            e.venue(a)
        )
        .hash(&mut h);
    }
    format!(
        "{:?} {} {:?} {:?}",
        e.insurance_fund(),
        e.round(),
        e.termination(),
        e.next_liquidation()
    )
    .hash(&mut h);
    h.finish()
}

fn leak_engine(s: &Scenario) -> Engine<'static> {
    let s: &'static Scenario = Box::leak(Box::new(s.clone()));
    let b: &'static mut Buffers = Box::leak(Box::new(Buffers::new(s)));
    let (balances, scratch, flags, checkpoint) = b.parts();
    Engine::new(
        Box::leak(Box::new(config(s))),
        Storage {
            balances,
            scratch,
            flags,
            checkpoint,
        },
    )
    .unwrap()
}

fn record(s: Scenario) -> Trace {
    let mut e = leak_engine(&s);
    let (start_digest, start_queries) = (e.digest(), queries(&e));
    let mut units = Vec::new();
    loop {
        let mut log = Log::default();
        let outcome = e.step(1, &mut log);
        units.push(Unit {
            events: log.0,
            digest: e.digest(),
            queries: queries(&e),
        });
        if let StepOutcome::Done(_) = outcome {
            break;
        }
    }
    Trace {
        scenario: s,
        start_digest,
        start_queries,
        units,
    }
}

impl Model {
    fn digest(&self) -> u64 {
        self.at
            .checked_sub(1)
            .map_or(self.trace.start_digest, |i| self.trace.units[i].digest)
    }
    fn queries(&self) -> u64 {
        self.at
            .checked_sub(1)
            .map_or(self.trace.start_queries, |i| self.trace.units[i].queries)
    }
    fn done(&self) -> bool {
        self.at == self.trace.units.len()
    }
}

struct Api;

impl ReferenceStateMachine for Api {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        scenario()
            .prop_filter("small enough to record unit by unit", |(s, _)| {
                s.accounts() <= 12
            })
            .prop_map(|(mut s, _)| {
                s.max_rounds = 80;
                Model {
                    trace: Arc::new(record(s)),
                    at: 0,
                }
            })
            .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Transition> {
        prop_oneof![
            4 => (0u32..40).prop_map(Transition::Step),
            1 => Just(Transition::Step(u32::MAX)),
            2 => Just(Transition::Query),
            1 => Just(Transition::Audit),
        ]
        .boxed()
    }

    fn apply(mut state: Model, t: &Transition) -> Model {
        if let Transition::Step(budget) = t {
            state.at = state
                .at
                .saturating_add(*budget as usize)
                .min(state.trace.units.len());
        }
        state
    }
}

struct Sut {
    engine: Engine<'static>,
    at: usize,
}

impl StateMachineTest for Api {
    type SystemUnderTest = Sut;
    type Reference = Api;

    fn init_test(model: &Model) -> Sut {
        Sut {
            engine: leak_engine(&model.trace.scenario),
            at: 0,
        }
    }

    fn apply(mut sut: Sut, model: &Model, t: Transition) -> Sut {
        match t {
            Transition::Step(budget) => {
                let mut log = Log::default();
                let outcome = sut.engine.step(budget, &mut log);
                let expected: Vec<Event> = model.trace.units[sut.at..model.at]
                    .iter()
                    .flat_map(|u| u.events.iter().copied())
                    .collect();
                assert_eq!(
                    log.0, expected,
                    "step({budget}) from unit {} emits the next units' events",
                    sut.at
                );
                assert_eq!(
                    sut.engine.digest(),
                    model.digest(),
                    "step({budget}) lands on the recorded state"
                );
                assert_eq!(
                    matches!(outcome, StepOutcome::Done(_)),
                    model.done(),
                    "done exactly at the end"
                );
                sut.at = model.at;
            }
            Transition::Query => assert_eq!(
                queries(&sut.engine),
                model.queries(),
                "queries at unit {}",
                sut.at
            ),
            Transition::Audit => assert_eq!(sut.engine.audit(), Ok(())),
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        assert_eq!(sut.engine.digest(), model.digest());
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_api_behaves_like_the_recorded_run(sequential 1..60 => Api);
}

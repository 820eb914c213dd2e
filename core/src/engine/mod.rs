//! The engine: a round loop over caller storage, driven by `step(budget)`.
//!
//! A round: shocks scheduled for it → oracle update (the oracle shows the
//! venue price of `oracle_lag_rounds` rounds ago) → scan of every account's
//! maintenance health → liquidation of the accounts found liquidatable,
//! lowest health first, ties by id (as keepers see them on chain), after
//! any that a budget left waiting in earlier rounds (see `queue`) → venue
//! recovery. A run ends at a fixed point (no liquidation in a round, no shock
//! left, every oracle and venue price stationary), at the round cap, when a
//! market breaks, or on an error.
//!
//! Work is counted in units: a round's start, one account scanned, one
//! account liquidated, a round's end. `step(budget)` does at most `budget`
//! units and stops between units, so any sequence of budgets reaches the same
//! state, events and digest as one unbounded call.

mod auction;
mod audit;
mod batch;
mod deleverage;
mod due;
mod equilibrium;
mod heap;
mod limits;
mod liquidate;
mod queue;
mod scan;
mod sweep;
mod undo;
mod waterfall;

pub use auction::MAX_AUCTIONS;
pub use audit::AuditError;
pub use equilibrium::MAX_EQUILIBRIUM_ITERATIONS;
pub use heap::Candidate;
pub use undo::Checkpoint;

use crate::account::{self, Health, WeightedPrice};
use crate::asset::{AssetConfig, HealthTier};
use crate::containment::{Containment, Settlement};
use crate::digest::Digest;
use crate::error::{Capacity, ConfigError, EngineParam, Error, Magnitude, StepFault};
use crate::event::{Event, EventSink, Termination};
use crate::ledger::{Book, Ledger, MAX_ASSETS};

/// Most assets an engine's type can hold: liquidations mark skipped
/// collateral in a `u32`.
pub const ASSET_CAPACITY_LIMIT: usize = 32;
use crate::num::{ArithError, Price, Qty, Ratio, Value};
use crate::policy::Policy;
use crate::report::{AssetReport, Report};
use crate::shock::{validate_schedule, Shock, ShockKind};
use crate::venue::{Fill, Mechanism, Venue};
use heap::{Candidates, Watch};
use limits::LimitState;
use liquidate::Ended;
use undo::UnitSink;

/// Longest oracle lag, in rounds.
pub const MAX_ORACLE_LAG: usize = 15;
const HISTORY: usize = MAX_ORACLE_LAG + 1;

/// Everything but the accounts: markets, policy, limits, shocks.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig<'c> {
    /// Assets; index 0 is the quote asset.
    pub assets: &'c [AssetConfig],
    /// The liquidation policy.
    pub policy: Policy,
    /// Most rounds before the run stops with [`Termination::RoundCap`].
    pub max_rounds: u32,
    /// Rounds by which the oracle trails the venue (0: same round).
    pub oracle_lag_rounds: u8,
    /// The insurance fund's starting quote.
    pub insurance_fund: Value,
    /// Shocks, in round order.
    pub shocks: &'c [Shock],
    /// Rate limits, keeper capital, the oracle rule, circuit breakers;
    /// [`Containment::OFF`] for none.
    pub containment: Containment<'c>,
}

/// Caller-provided storage.
pub struct Storage<'s, const A: usize = MAX_ASSETS> {
    /// Balances, `assets` per account, account-major. Filled by the caller
    /// with the starting balances.
    pub balances: &'s mut [Qty],
    /// Work space for the liquidation queue and the scan's watch list: one
    /// slot per account.
    pub scratch: &'s mut [Candidate],
    /// Three bits per account (`flag_words(accounts)` words), in three
    /// planes: liquidated yet, waiting in the liquidation queue, and
    /// reached by a sweep of the watch list (clear between sweeps). The
    /// engine owns the layout; a caller only sizes and provides it.
    pub flags: &'s mut [u32],
    /// Where each unit saves the engine's state, to restore it if the
    /// unit fails.
    pub checkpoint: &'s mut Checkpoint<A>,
}

/// Words of `Storage::flags` needed for `accounts` accounts.
pub const fn flag_words(accounts: usize) -> usize {
    accounts.div_ceil(32).saturating_mul(FLAG_PLANES)
}

/// The planes of `Storage::flags`, one bit per account each: liquidated
/// yet, queued, and reached by a sweep.
const FLAG_PLANES: usize = 3;
const FLAG_PLANE_LIQUIDATED: usize = 0;
const FLAG_PLANE_QUEUED: usize = 1;
const FLAG_PLANE_REACHED: usize = 2;

/// The word of `Storage::flags` that holds account `id`'s bit in `plane`.
/// The planes are interleaved word by word: the three words of 32 accounts
/// lie together, so the two a liquidation reads and writes (liquidated,
/// queued) are adjacent: one cache line, unless they straddle two.
const fn flag_index(plane: usize, id: usize) -> usize {
    (id / 32).saturating_mul(FLAG_PLANES).saturating_add(plane)
}

/// What one call to `step` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StepOutcome {
    /// More work remains.
    Pending,
    /// The run has ended.
    Done(Termination),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    BeginRound,
    Scan {
        next: usize,
    },
    Watch,
    /// A sweep of the watch list, at heap position `next` (see `sweep`).
    Sweep {
        next: usize,
    },
    /// The accounts the sweep reached, evaluated in id order from `from`.
    Reached {
        from: usize,
    },
    /// Restoring the watch list's order, left out of order by a sweep,
    /// before a round pops it: `remaining` parents to settle.
    Order {
        remaining: usize,
    },
    /// Ordering the entries the last liquidation phase appended to the
    /// watch list, before it is popped (see `scan`).
    OrderAppended,
    Liquidate,
    EndRound,
    Done(Termination),
}

/// Per-asset market state the engine keeps inside itself and a unit may
/// change (the configuration and the price history live beside the state:
/// a unit's checkpoint does not copy them).
#[derive(Clone, Copy, Debug)]
struct Market {
    venue: Venue,
    oracle: Price,
    maint: WeightedPrice,
    liq_end: WeightedPrice,
    deposit_index: Ratio,
    /// Σ of positive stored balances (deposit shares).
    deposit_shares: Qty,
    /// Σ of effective balances at the start.
    initial_total: Qty,
}

impl Market {
    /// Overwrites `self` with `src` in place (see `Venue::copy_from`).
    fn copy_from(&mut self, src: &Self) {
        let Self {
            venue,
            oracle,
            maint,
            liq_end,
            deposit_index,
            deposit_shares,
            initial_total,
        } = src;
        self.venue.copy_from(venue);
        self.oracle = *oracle;
        self.maint = *maint;
        self.liq_end = *liq_end;
        self.deposit_index = *deposit_index;
        self.deposit_shares = *deposit_shares;
        self.initial_total = *initial_total;
    }
}

/// The engine's own state that a unit may change: saved before a unit and
/// restored if the unit fails (see `undo`). Not `Clone`: it is only ever
/// copied in place, into and out of the caller's checkpoint.
struct State<const A: usize> {
    markets: heapless::Vec<Market, A>,
    /// Deposit indices, contiguous for the health loop.
    indices: [Ratio; A],
    maint_prices: [WeightedPrice; A],
    ledger: Ledger<A>,
    report: Report<A>,
    insurance: Value,
    round: u32,
    history_head: usize,
    next_shock: usize,
    /// Pair steps this round.
    round_liquidations: u32,
    /// Accounts whose balances a liquidation or bankruptcy changed this
    /// round: a round without any is quiet (a bankruptcy alone can lower
    /// lenders' health through the deposit index).
    round_changed_accounts: u32,
    limits: LimitState<A>,
    auctions: heapless::Vec<auction::Auction, MAX_AUCTIONS>,
    /// This round's clearing prices under equilibrium settlement.
    clearing: Option<[Price; A]>,
    /// Pools sold into since the report last recorded their price (bit
    /// `i`: asset `i`; see `track_sale`).
    untracked_sales: u32,
    /// Venues moved by a purchase the report does not record (the
    /// insurance fund's): their next sale is recorded at once.
    untracked_buys: u32,
    phase: Phase,
}

impl<const A: usize> State<A> {
    /// A state with no assets, for a checkpoint before its first copy.
    fn blank() -> Self {
        Self {
            markets: heapless::Vec::new(),
            indices: [Ratio::ONE; A],
            maint_prices: [WeightedPrice::default(); A],
            ledger: Ledger::default(),
            report: empty_report(),
            insurance: Value::ZERO,
            round: 0,
            history_head: 0,
            next_shock: 0,
            round_liquidations: 0,
            round_changed_accounts: 0,
            limits: LimitState::new(Value::ZERO),
            auctions: heapless::Vec::new(),
            clearing: None,
            untracked_sales: 0,
            untracked_buys: 0,
            phase: Phase::BeginRound,
        }
    }

    /// Overwrites `self` with `src` in place, field by field: no temporary
    /// state on the stack, and only the live markets and auctions of the
    /// heapless vectors are copied, not their whole capacity.
    fn copy_from(&mut self, src: &Self) {
        let Self {
            markets,
            indices,
            maint_prices,
            ledger,
            report,
            insurance,
            round,
            history_head,
            next_shock,
            round_liquidations,
            round_changed_accounts,
            limits,
            auctions,
            clearing,
            untracked_sales,
            untracked_buys,
            phase,
        } = src;
        if self.markets.len() == markets.len() {
            for (mine, theirs) in self.markets.iter_mut().zip(markets) {
                mine.copy_from(theirs);
            }
        } else {
            self.markets.clear();
            // Same capacity on both sides: the extension cannot fail.
            let _ = self.markets.extend_from_slice(markets);
        }
        self.indices = *indices;
        self.maint_prices = *maint_prices;
        self.ledger = *ledger;
        self.report = *report;
        self.insurance = *insurance;
        self.round = *round;
        self.history_head = *history_head;
        self.next_shock = *next_shock;
        self.round_liquidations = *round_liquidations;
        self.round_changed_accounts = *round_changed_accounts;
        self.limits = *limits;
        self.auctions.clear();
        let _ = self.auctions.extend_from_slice(auctions);
        self.clearing = *clearing;
        self.untracked_sales = *untracked_sales;
        self.untracked_buys = *untracked_buys;
        self.phase = *phase;
    }
}

/// The cascade engine over caller storage, holding up to `A` assets (the
/// quote included). The capacity lives in the type: a firmware that needs
/// three assets uses `Engine<'_, 3>` and pays for three.
pub struct Engine<'s, const A: usize = MAX_ASSETS> {
    state: State<A>,
    /// The state as the running unit found it, or at its last savepoint
    /// (caller storage, see `undo`).
    saved: &'s mut State<A>,
    /// Each asset's configuration, fixed for the run.
    configs: [AssetConfig; A],
    /// Each asset's protocol share of a sale's proceeds (see
    /// `liquidate::fee_share`), from its configuration.
    fee_shares: [Result<crate::num::Fx, ArithError>; A],
    /// Venue prices at the last `HISTORY` round starts, per asset;
    /// `history_head` is the newest. Only a round's start writes them.
    history: [[Price; HISTORY]; A],
    policy: Policy,
    max_rounds: u32,
    lag: usize,
    shocks: &'s [Shock],
    containment: Containment<'s>,
    /// Whether any budget (rate limit or keeper capital) is in force.
    budgets: bool,
    initial_insurance: Value,
    /// Whether rounds in which nothing can move are skipped (see
    /// `skip_to_next_shock`); off only to test that skipping changes nothing.
    skip_empty: bool,
    heap_len: usize,
    /// How the queue keeps its order this round (see `batch`).
    batch: batch::Batch,
    /// The sort of this round's batch, while `batch` is `Sorting`.
    sorter: batch::Sorter,
    /// Which rounds sort their candidates as one batch.
    batch_rounds: batch::BatchRounds,
    scan: scan::ScanState<A>,
    balances: &'s mut [Qty],
    scratch: &'s mut [Candidate],
    flags: &'s mut [u32],
    accounts: usize,
}

impl<'s, const A: usize> Engine<'s, A> {
    /// Validates the configuration and storage and builds the engine.
    pub fn new(config: &EngineConfig<'s>, storage: Storage<'s, A>) -> Result<Self, Error> {
        let n = config.assets.len();
        if n == 0 || n > A || A > ASSET_CAPACITY_LIMIT {
            return Err(capacity(Capacity::Assets, A.min(ASSET_CAPACITY_LIMIT), n));
        }
        for (i, asset) in config.assets.iter().enumerate() {
            asset.validate(u8::try_from(i).unwrap_or(u8::MAX))?;
        }
        validate_pairs(config.assets)?;
        config.policy.validate()?;
        if config.max_rounds == 0 {
            return Err(ConfigError::Engine(EngineParam::MaxRounds).into());
        }
        if usize::from(config.oracle_lag_rounds) > MAX_ORACLE_LAG {
            return Err(ConfigError::Engine(EngineParam::OracleLag).into());
        }
        if config.insurance_fund.is_negative() {
            return Err(ConfigError::Engine(EngineParam::InsuranceFund).into());
        }
        validate_schedule(config.shocks, n)?;
        config
            .containment
            .validate(n, usize::from(config.oracle_lag_rounds))?;
        let accounts = storage.balances.len().checked_div(n).unwrap_or(0);
        if accounts.checked_mul(n) != Some(storage.balances.len()) {
            return Err(capacity(
                Capacity::BalanceStorage,
                accounts.saturating_mul(n),
                storage.balances.len(),
            ));
        }
        if u32::try_from(accounts).is_err() {
            return Err(capacity(Capacity::Accounts, u32::MAX as usize, accounts));
        }
        if storage.scratch.len() < accounts {
            return Err(capacity(
                Capacity::ScratchStorage,
                accounts,
                storage.scratch.len(),
            ));
        }
        if storage.flags.len() < flag_words(accounts) {
            return Err(capacity(
                Capacity::FlagStorage,
                flag_words(accounts),
                storage.flags.len(),
            ));
        }
        storage.flags.iter_mut().for_each(|w| *w = 0);

        let mut markets = heapless::Vec::new();
        let mut configs = [AssetConfig::quote(); A];
        let mut history = [[Price::ONE; HISTORY]; A];
        for (index, asset) in config.assets.iter().enumerate() {
            let too_large = |what| ConfigError::TooLarge {
                asset: u8::try_from(index).unwrap_or(u8::MAX),
                what,
            };
            let venue = Venue::new(&asset.venue, asset.price, asset.dust)
                .map_err(|_| too_large(Magnitude::Venue))?;
            let price = venue.price().map_err(|_| too_large(Magnitude::Venue))?;
            if let (Some(c), Some(h)) = (configs.get_mut(index), history.get_mut(index)) {
                *c = *asset;
                *h = [price; HISTORY];
            }
            let market = Market {
                venue,
                oracle: price,
                maint: WeightedPrice::new(asset, price, HealthTier::Maint)
                    .map_err(|_| too_large(Magnitude::WeightedPrice))?,
                liq_end: WeightedPrice::new(asset, price, HealthTier::LiqEnd)
                    .map_err(|_| too_large(Magnitude::WeightedPrice))?,
                deposit_index: Ratio::ONE,
                deposit_shares: Qty::ZERO,
                initial_total: Qty::ZERO,
            };
            markets
                .push(market)
                .map_err(|_| capacity(Capacity::Assets, A, n))?;
        }
        let equilibrium = config.containment.settlement == Settlement::Equilibrium;
        // The largest weighted prices a health uses: collateral at its full
        // price, debts at the liquidation-end weight.
        let mut largest = [WeightedPrice::default(); A];
        for (w, m) in largest.iter_mut().zip(&markets) {
            *w = WeightedPrice {
                asset: m.oracle.0,
                liability: m.liq_end.liability,
            };
        }
        let unit_index = [Ratio::ONE; A];
        for (id, account) in storage.balances.chunks_exact(n).enumerate() {
            if account::health(account, &unit_index, &largest)
                .and_then(|h| h.net())
                .is_err()
            {
                return Err(ConfigError::AccountTooLarge {
                    account: u32::try_from(id).unwrap_or(u32::MAX),
                }
                .into());
            }
            if equilibrium && account.iter().skip(1).any(|b| b.is_negative()) {
                return Err(ConfigError::Engine(EngineParam::Settlement).into());
            }
            for (index, (market, &b)) in markets.iter_mut().zip(account).enumerate() {
                let too_large = ConfigError::TooLarge {
                    asset: u8::try_from(index).unwrap_or(u8::MAX),
                    what: Magnitude::BalanceTotal,
                };
                market.initial_total = market.initial_total.add(b).map_err(|_| too_large)?;
                if b.is_positive() {
                    market.deposit_shares = market.deposit_shares.add(b).map_err(|_| too_large)?;
                }
            }
        }
        let mut report = empty_report();
        report.insurance_fund = config.insurance_fund;
        report.assets = u8::try_from(n).unwrap_or(u8::MAX);
        for (r, m) in report.per_asset.iter_mut().zip(&markets) {
            let p = m.oracle;
            *r = AssetReport {
                initial_price: p,
                final_price: p,
                min_price: p,
                max_price: p,
                deposit_index: Ratio::ONE,
                ..AssetReport::default()
            };
        }
        let state = State {
            markets,
            indices: [Ratio::ONE; A],
            maint_prices: [WeightedPrice::default(); A],
            ledger: Ledger::default(),
            report,
            insurance: config.insurance_fund,
            round: 0,
            history_head: 0,
            next_shock: 0,
            round_liquidations: 0,
            round_changed_accounts: 0,
            limits: LimitState::new(
                config
                    .containment
                    .keepers
                    .map_or(Value::ZERO, |k| k.initial),
            ),
            auctions: heapless::Vec::new(),
            clearing: None,
            untracked_sales: 0,
            untracked_buys: 0,
            phase: Phase::BeginRound,
        };
        let mut engine = Self {
            state,
            saved: &mut storage.checkpoint.state,
            fee_shares: configs.map(|c| liquidate::fee_share(&c)),
            configs,
            history,
            policy: config.policy,
            max_rounds: config.max_rounds,
            lag: usize::from(config.oracle_lag_rounds),
            shocks: config.shocks,
            containment: config.containment,
            budgets: {
                let c = &config.containment;
                c.keepers.is_some()
                    || c.rate_limit.max_notional_per_round.is_some()
                    || c.per_asset
                        .iter()
                        .any(|a| a.max_notional_per_round.is_some())
            },
            initial_insurance: config.insurance_fund,
            skip_empty: true,
            heap_len: 0,
            batch: batch::Batch::Heap,
            sorter: batch::Sorter::new(),
            batch_rounds: batch::BatchRounds::Uncapped,
            scan: scan::ScanState::new(),
            balances: storage.balances,
            scratch: storage.scratch,
            flags: storage.flags,
            accounts,
        };
        engine.refresh_prices();
        Ok(engine)
    }

    /// The market of `asset`; an index past the assets is a kernel bug,
    /// reported as a domain error rather than a panic.
    fn market(&self, asset: usize) -> Result<&Market, ArithError> {
        self.state.markets.get(asset).ok_or(ArithError::Domain)
    }

    /// The configuration of `asset`; an index past the assets is a kernel
    /// bug, reported as a domain error rather than a panic.
    fn config(&self, asset: usize) -> Result<&AssetConfig, ArithError> {
        self.configs.get(asset).ok_or(ArithError::Domain)
    }

    /// Number of assets, the quote included.
    pub fn asset_count(&self) -> usize {
        self.state.markets.len()
    }

    /// Number of accounts.
    pub fn account_count(&self) -> usize {
        self.accounts
    }

    /// The current round (0 before the first).
    pub fn round(&self) -> u32 {
        self.state.round
    }

    /// The report so far.
    pub fn report(&self) -> &Report<A> {
        &self.state.report
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger<A> {
        &self.state.ledger
    }

    /// The insurance fund's quote.
    pub fn insurance_fund(&self) -> Value {
        self.state.insurance
    }

    /// The oracle price of `asset` this round.
    pub fn oracle_price(&self, asset: usize) -> Option<Price> {
        self.state.markets.get(asset).map(|m| m.oracle)
    }

    /// The venue of `asset`.
    pub fn venue(&self, asset: usize) -> Option<&Venue> {
        self.state.markets.get(asset).map(|m| &m.venue)
    }

    /// The deposit index of `asset`.
    pub fn deposit_index(&self, asset: usize) -> Option<Ratio> {
        self.state.markets.get(asset).map(|m| m.deposit_index)
    }

    /// Stored balances of one account.
    pub fn stored_balances(&self, id: usize) -> Option<&[Qty]> {
        let n = self.state.markets.len();
        self.balances
            .get(id.checked_mul(n)?..id.checked_add(1)?.checked_mul(n)?)
    }

    /// Prefetches what the next unit reads of account `id`: its row (the
    /// first and last balance, which may lie in two cache lines) and its
    /// flag words. 1,000,000 accounts' rows are 32 MB, read in health
    /// order, so each is a cache miss; prefetched, it overlaps the unit now
    /// running instead of stalling the next one. A hint only: it changes no
    /// state.
    fn prefetch_account(&self, id: Option<u32>) {
        let Some(id) = id.map(|id| id as usize) else {
            return;
        };
        if let Some(row) = self.stored_balances(id) {
            row.first()
                .into_iter()
                .chain(row.last())
                .for_each(firesale_hint::prefetch);
        }
        // The planes' words for an account lie together (`flag_index`).
        if let Some(word) = self.flags.get(flag_index(FLAG_PLANE_LIQUIDATED, id)) {
            firesale_hint::prefetch(word);
        }
    }

    /// Account `id`'s bit in flag plane `plane`.
    fn flag(&self, plane: usize, id: usize) -> bool {
        self.flag_word_of(plane, id) & (1 << (id % 32)) != 0
    }

    /// The word of flag plane `plane` that holds account `id`'s bit.
    fn flag_word_of(&self, plane: usize, id: usize) -> u32 {
        let at = flag_index(plane, id);
        self.flags.get(at).copied().unwrap_or(0)
    }

    /// Sets or clears account `id`'s bit in flag plane `plane`.
    fn set_flag(&mut self, plane: usize, id: usize, on: bool) {
        let (at, bit) = (flag_index(plane, id), 1u32 << (id % 32));
        if let Some(w) = self.flags.get_mut(at) {
            match on {
                true => *w |= bit,
                false => *w &= !bit,
            }
        }
    }

    /// Effective balance of one account in one asset.
    pub fn balance(&self, id: usize, asset: usize) -> Option<Qty> {
        let stored = *self.stored_balances(id)?.get(asset)?;
        account::effective(stored, self.state.markets.get(asset)?.deposit_index).ok()
    }

    /// Health of one account in `tier` at this round's oracle prices.
    pub fn health(&self, id: usize, tier: HealthTier) -> Option<Health> {
        let stored = self.stored_balances(id)?;
        let mut weighted = [WeightedPrice::default(); A];
        for ((w, m), c) in weighted
            .iter_mut()
            .zip(&self.state.markets)
            .zip(&self.configs)
        {
            *w = WeightedPrice::new(c, m.oracle, tier).ok()?;
        }
        account::health(stored, &self.state.indices, &weighted).ok()
    }

    /// The account the next unit of work will liquidate, if the engine is
    /// liquidating: the first of the queue (see `queue`). `None` while a
    /// round's batch of candidates is being sorted: those units liquidate
    /// nobody (see `batch`).
    pub fn next_liquidation(&self) -> Option<u32> {
        match self.state.phase {
            Phase::Liquidate => self.next_queued(),
            _ => None,
        }
    }

    /// Whether the run has ended, and why.
    pub fn termination(&self) -> Option<Termination> {
        match self.state.phase {
            Phase::Done(t) => Some(t),
            _ => None,
        }
    }

    /// Whether rounds in which nothing can move are skipped to the next
    /// scheduled shock (on by default): the state, report and digest are
    /// the same either way; only the skipped rounds' `RoundStarted` and
    /// `RoundEnded` events are missing. For tests.
    pub fn skip_empty_rounds(&mut self, on: bool) {
        self.skip_empty = on;
    }

    /// Runs at most `budget` units of work.
    pub fn step(&mut self, budget: u32, sink: &mut dyn EventSink) -> StepOutcome {
        let mut used = 0;
        while used < budget && !matches!(self.state.phase, Phase::Done(_)) {
            if let Err(fault) = self.unit(sink) {
                self.finish(self.fault_termination(fault), sink);
            }
            used = used.saturating_add(1);
        }
        // The report is whole whenever the caller can read it.
        if let Err(fault) = self.track_sales() {
            if !matches!(self.state.phase, Phase::Done(_)) {
                self.finish(self.fault_termination((fault, None)), sink);
            }
        }
        match self.state.phase {
            Phase::Done(t) => StepOutcome::Done(t),
            _ => StepOutcome::Pending,
        }
    }

    /// Runs to the end.
    pub fn run(&mut self, sink: &mut dyn EventSink) -> Termination {
        loop {
            if let StepOutcome::Done(t) = self.step(u32::MAX, sink) {
                return t;
            }
        }
    }

    fn fault_termination(&self, fault: (StepFault, Option<u32>)) -> Termination {
        let (fault, account) = fault;
        match fault {
            StepFault::VenueExhausted { asset } => Termination::MarketBroken { asset },
            StepFault::Arith(kind) => Termination::Failed(Error::Arithmetic {
                round: self.failed_round(),
                account,
                asset: None,
                shock: None,
                kind,
            }),
            StepFault::ArithAt { asset, shock, kind } => Termination::Failed(Error::Arithmetic {
                round: self.failed_round(),
                account,
                asset: Some(asset),
                shock,
                kind,
            }),
            StepFault::Invariant(i) => Termination::Failed(Error::Invariant(i)),
        }
    }

    /// The round a failed unit ran in: a round's start that failed was
    /// rolled back, round number included, so it was starting the next.
    fn failed_round(&self) -> u32 {
        match self.state.phase {
            Phase::BeginRound => self.state.round.saturating_add(1),
            _ => self.state.round,
        }
    }

    fn finish(&mut self, termination: Termination, sink: &mut dyn EventSink) {
        self.state.phase = Phase::Done(termination);
        self.state.report.termination = Some(termination);
        self.state.report.insurance_fund = self.state.insurance;
        if self.state.report.backstopped > 0 {
            // The vault's books and the oracle are as the run leaves them:
            // a failed unit was rolled back before the run finishes. A
            // valuation that overflows leaves the P&L at zero; the books
            // hold what it could not value.
            self.state.report.backstop_pnl = self.backstop_pnl().unwrap_or(Value::ZERO);
        }
        sink.emit(&Event::Finished {
            round: self.state.round,
            termination,
        });
    }

    /// One unit of work. A unit that fails leaves the state as it was
    /// before the unit: the run ends on the error with every book balanced.
    fn unit(&mut self, sink: &mut dyn EventSink) -> Result<(), (StepFault, Option<u32>)> {
        match self.state.phase {
            // A scan mutates nothing before its last fallible operation.
            Phase::Scan { next } => self.scan(next).map_err(|f| (f, u32::try_from(next).ok())),
            Phase::Watch => self.watch_unit().map_err(|f| (f, None)),
            Phase::Sweep { next } => {
                self.sweep_unit(next);
                Ok(())
            }
            Phase::Reached { from } => self.reached_unit(from).map_err(|f| (f, None)),
            Phase::Order { remaining } => {
                self.order_unit(remaining);
                Ok(())
            }
            Phase::OrderAppended => {
                self.order_appended_unit();
                Ok(())
            }
            Phase::BeginRound => self.begin_round_unit(sink),
            Phase::EndRound => self.end_round_unit(sink),
            Phase::Liquidate => {
                if self.round_exhausted() {
                    // A rate limit is spent (spent keeper capital stops
                    // sales instead): the remaining candidates keep their
                    // place in the queue, a heap.
                    if self.batch_to_heap_unit() {
                        return Ok(());
                    }
                    self.defer(self.heap_len);
                    self.state.phase = Phase::EndRound;
                    return Ok(());
                }
                if self.sort_batch_unit() {
                    return Ok(());
                }
                match self.dequeue() {
                    None => {
                        self.state.phase = Phase::EndRound;
                        Ok(())
                    }
                    Some(c) => {
                        self.prefetch_account(self.next_queued());
                        let end = self.liquidate_unit(c.id, sink)?;
                        // Its balances changed: watch it from its new health.
                        self.rewatch(c.id, end).map_err(|f| (f, Some(c.id)))
                    }
                }
            }
            Phase::Done(_) => Ok(()),
        }
    }

    // The units that checkpoint the state live in their own frames: inlined
    // into `unit`, their large frames (state copies) would be allocated and
    // stack-probed on every scan unit too, the hottest path of a run.

    #[inline(never)]
    fn begin_round_unit(
        &mut self,
        sink: &mut dyn EventSink,
    ) -> Result<(), (StepFault, Option<u32>)> {
        // The history lives outside the checkpoint: keep the column this
        // round overwrites, and put it back if the round's start fails.
        let head = self.state.history_head.wrapping_add(1) % HISTORY;
        let column: [Option<Price>; A] =
            core::array::from_fn(|i| self.history.get(i).and_then(|h| h.get(head)).copied());
        let result = self.atomically(None, sink, |e, sink| e.begin_round(sink));
        if result.is_err() {
            for (h, saved) in self.history.iter_mut().zip(column) {
                if let (Some(slot), Some(price)) = (h.get_mut(head), saved) {
                    *slot = price;
                }
            }
        }
        result
    }

    #[inline(never)]
    fn end_round_unit(&mut self, sink: &mut dyn EventSink) -> Result<(), (StepFault, Option<u32>)> {
        self.atomically(None, sink, |e, sink| e.end_round(sink))
    }

    /// A liquidation unit; returns the account's row and health at its end
    /// when it computed them (see `liquidate_account`).
    #[inline(never)]
    fn liquidate_unit(
        &mut self,
        id: u32,
        sink: &mut dyn EventSink,
    ) -> Result<Ended<A>, (StepFault, Option<u32>)> {
        self.atomically(Some(id), sink, |e, sink| e.liquidate_account(id, sink))
    }

    fn begin_round(&mut self, sink: &mut dyn EventSink) -> Result<(), StepFault> {
        // Shocks and arbitrage move the venues: the report catches up with
        // the sales before (`track_sale`).
        self.track_sales()?;
        self.state.round = self.state.round.saturating_add(1);
        self.state.report.rounds = self.state.round;
        self.state.round_liquidations = 0;
        self.state.round_changed_accounts = 0;
        while let Some(&shock) = self.shocks.get(self.state.next_shock) {
            if shock.round > self.state.round {
                break;
            }
            let index = u16::try_from(self.state.next_shock).unwrap_or(u16::MAX);
            self.apply_shock(&shock)
                .map_err(|f| f.in_shock(shock.asset, index))?;
            self.state.next_shock = self.state.next_shock.saturating_add(1);
            sink.emit(&Event::ShockApplied {
                round: self.state.round,
                index,
            });
        }
        self.state.history_head = self.state.history_head.wrapping_add(1) % HISTORY;
        let head = self.state.history_head;
        for (asset, m) in self.state.markets.iter_mut().enumerate() {
            let tag = u8::try_from(asset).unwrap_or(u8::MAX);
            let price = m
                .venue
                .price()
                .map_err(|e| StepFault::from(e).in_asset(tag))?;
            if !price.is_positive() {
                // Defence in depth: venues refuse trades that cross their
                // floor, so a price at or below zero means a broken market.
                let asset = u8::try_from(asset).unwrap_or(u8::MAX);
                return Err(StepFault::VenueExhausted { asset });
            }
            if let Some(slot) = self.history.get_mut(asset).and_then(|h| h.get_mut(head)) {
                *slot = price;
            }
        }
        self.update_oracles()?;
        self.trip_breakers(sink)?;
        self.open_budgets()?;
        self.state.clearing = None;
        if self.containment.settlement == Settlement::Equilibrium {
            self.settle_equilibrium(sink)?;
        }
        self.refresh_prices();
        self.track_prices()?;
        self.state.phase = self.start_scan()?;
        self.batch = self.batch_for_round();
        sink.emit(&Event::RoundStarted {
            round: self.state.round,
        });
        Ok(())
    }

    /// Recomputes weighted prices from the oracle.
    fn refresh_prices(&mut self) {
        for ((i, m), c) in self.state.markets.iter_mut().enumerate().zip(&self.configs) {
            if let (Ok(maint), Ok(liq_end)) = (
                WeightedPrice::new(c, m.oracle, HealthTier::Maint),
                WeightedPrice::new(c, m.oracle, HealthTier::LiqEnd),
            ) {
                m.maint = maint;
                m.liq_end = liq_end;
            }
            if let Some(slot) = self.state.maint_prices.get_mut(i) {
                *slot = m.maint;
            }
            if let Some(slot) = self.state.indices.get_mut(i) {
                *slot = m.deposit_index;
            }
        }
    }

    fn apply_shock(&mut self, shock: &Shock) -> Result<(), StepFault> {
        let asset = usize::from(shock.asset);
        let m = self
            .state
            .markets
            .get_mut(asset)
            .ok_or(StepFault::Arith(ArithError::Domain))?;
        let broken = |e| StepFault::from_venue(shock.asset, e);
        let fill = match shock.kind {
            ShockKind::SetPrice(p) => m.venue.move_price(p).map_err(broken)?,
            ShockKind::MovePrice(r) => {
                let target = m.venue.price()?.scale(r, crate::num::Round::Down)?;
                m.venue.move_price(target).map_err(broken)?
            }
            ShockKind::Sell(q) => {
                let proceeds = m.venue.sell(q).map_err(broken)?;
                Fill {
                    base_in: q,
                    quote_out: proceeds,
                }
            }
            ShockKind::Buy(q) => {
                let cost = m.venue.buy(q).map_err(broken)?;
                Fill {
                    base_in: q.neg()?,
                    quote_out: cost.neg()?,
                }
            }
        };
        self.record_fill(asset, Book::Exogenous, fill)
    }

    /// Books an outside party's fill against a venue.
    fn record_fill(&mut self, asset: usize, party: Book, fill: Fill) -> Result<(), StepFault> {
        self.state
            .ledger
            .transfer(asset, party, Book::Venue, fill.base_in)?;
        self.state
            .ledger
            .transfer(0, Book::Venue, party, fill.quote_out.as_quote_qty())?;
        Ok(())
    }

    fn end_round(&mut self, sink: &mut UnitSink<'_, A>) -> Result<(), StepFault> {
        // Auctions and recovery move the venues: the report catches up with
        // the sales before (`track_sale`).
        self.track_sales()?;
        self.run_auctions(sink)?;
        let mut stationary = true;
        // Whether every venue's recovery left it exactly as it was: then
        // so will the next round's (see `skip_to_next_shock`).
        let mut unmoved = true;
        for asset in 0..self.state.markets.len() {
            let Some(m) = self.state.markets.get_mut(asset) else {
                continue;
            };
            let tag = u8::try_from(asset).unwrap_or(u8::MAX);
            let in_asset = |e| StepFault::from(e).in_asset(tag);
            let before = m.venue;
            let fill = m.venue.recover().map_err(in_asset)?;
            unmoved &= m.venue == before;
            let price = m.venue.price().map_err(in_asset)?;
            // The oracle of the next `lag + twap` rounds reads these entries.
            let head = self.state.history_head;
            let span = self
                .lag
                .saturating_add(usize::from(self.containment.oracle.twap_rounds));
            let history = self.history.get(asset);
            let settled = (0..span.max(1))
                .all(|k| history.and_then(|h| h.get(ring_back(head, k))) == Some(&price));
            if !settled || m.oracle != price {
                stationary = false;
            }
            if fill != Fill::default() {
                self.record_fill(asset, Book::Arbitrage, fill)
                    .map_err(|f| f.in_asset(tag))?;
            }
        }
        self.track_prices()?;
        sink.emit(&Event::RoundEnded {
            round: self.state.round,
            liquidations: self.state.round_liquidations,
        });
        let shocks_left = self.state.next_shock < self.shocks.len();
        // A halt still to run, or accounts that waited, will act later.
        let waiting =
            self.halt_pending() || self.state.limits.round_deferred > 0 || self.auctions_running();
        let quiet = self.state.round_changed_accounts == 0 && stationary && !waiting;
        if quiet && !shocks_left {
            self.finish(Termination::FixedPoint, sink);
        } else if self.state.round >= self.max_rounds {
            self.finish(Termination::RoundCap, sink);
        } else if quiet
            && unmoved
            && self.state.round_liquidations == 0
            && self.skip_to_next_shock()
        {
            // The rounds up to the next shock's were skipped, to the round
            // cap (see `skip_to_next_shock`).
            self.finish(Termination::RoundCap, sink);
        } else {
            self.state.phase = Phase::BeginRound;
        }
        Ok(())
    }

    /// After a round in which nothing moved (no account changed, no
    /// liquidation, every price settled, every venue's recovery a no-op,
    /// nothing waiting), every round until the next shock would do the same
    /// and change nothing but the round number: they are skipped, the
    /// state set to what running them would leave. Under containment whose
    /// state moves with the rounds (keeper capital, an oracle rule other
    /// than the spot price, circuit breakers, equilibrium settlement) no
    /// round is skipped. Returns whether the skip reached the round cap.
    fn skip_to_next_shock(&mut self) -> bool {
        let c = &self.containment;
        let round_bound = c.keepers.is_some()
            || c.oracle != crate::containment::OracleRule::SPOT
            || c.settlement != Settlement::Sequential
            || c.per_asset.iter().any(|a| a.breaker.is_some());
        if round_bound || !self.skip_empty || self.heap_len > 0 {
            return false;
        }
        let Some(next) = self.shocks.get(self.state.next_shock).map(|s| s.round) else {
            return false;
        };
        // The last round before the shock's, or the cap.
        let last = next.saturating_sub(1).min(self.max_rounds);
        let skipped = last.saturating_sub(self.state.round);
        if skipped == 0 {
            return false;
        }
        // Each skipped round's start would record the (settled) venue
        // price in the ring and publish it as the oracle.
        let writes = usize::try_from(skipped).unwrap_or(HISTORY).min(HISTORY);
        for _ in 0..writes {
            self.state.history_head = self.state.history_head.wrapping_add(1) % HISTORY;
            let head = self.state.history_head;
            for (asset, m) in self.state.markets.iter().enumerate() {
                if let Some(slot) = self.history.get_mut(asset).and_then(|h| h.get_mut(head)) {
                    *slot = m.oracle;
                }
            }
        }
        let rest = usize::try_from(skipped).unwrap_or(0).saturating_sub(writes) % HISTORY;
        self.state.history_head = self.state.history_head.wrapping_add(rest) % HISTORY;
        self.state.limits.oracle_round = [last; A];
        self.state.round = last;
        self.state.report.rounds = last;
        last >= self.max_rounds
    }

    fn track_prices(&mut self) -> Result<(), StepFault> {
        (0..self.state.markets.len()).try_for_each(|asset| self.track_price(asset))
    }

    /// Records a sale into market `asset`. A constant-product pool's price
    /// only falls with a sale, so after a run of sales its lowest price is
    /// its last: the report catches up with the pool once, before anything
    /// else moves it (`track_sales`), instead of dividing its reserves after
    /// every sale. The run must start from a price the report recorded (not
    /// after the insurance fund's purchase, which it does not record). The
    /// price cannot fail to compute then: it is at most a recorded one, over
    /// a larger base reserve. Other venues are recorded at once.
    fn track_sale(&mut self, asset: usize) -> Result<(), StepFault> {
        let pool = self
            .state
            .markets
            .get(asset)
            .is_some_and(|m| matches!(m.venue.mechanism, Mechanism::Pool { .. }));
        let bit = asset_bit(asset);
        match pool && self.state.untracked_buys & bit == 0 {
            true => {
                self.state.untracked_sales |= bit;
                Ok(())
            }
            false => self.track_price(asset),
        }
    }

    /// Records the price of every pool sold into since the report last
    /// recorded it.
    fn track_sales(&mut self) -> Result<(), StepFault> {
        while self.state.untracked_sales != 0 {
            let asset = self.state.untracked_sales.trailing_zeros() as usize;
            self.state.untracked_sales &= !asset_bit(asset);
            self.track_price(asset)?;
        }
        Ok(())
    }

    /// Records market `asset`'s price if a sale left it untracked: before
    /// anything but another sale moves it.
    fn track_untracked(&mut self, asset: usize) -> Result<(), StepFault> {
        match self.state.untracked_sales & asset_bit(asset) {
            0 => Ok(()),
            _ => self.track_price(asset),
        }
    }

    /// Records market `asset`'s price and deposit index in the report. A
    /// trade calls it for the two markets it touched only: the others did
    /// not move.
    fn track_price(&mut self, asset: usize) -> Result<(), StepFault> {
        let (Some(r), Some(m)) = (
            self.state.report.per_asset.get_mut(asset),
            self.state.markets.get(asset),
        ) else {
            return Ok(());
        };
        let p = m.venue.price()?;
        r.final_price = p;
        r.min_price = r.min_price.min(p);
        r.max_price = r.max_price.max(p);
        r.deposit_index = m.deposit_index;
        let bit = asset_bit(asset);
        self.state.untracked_sales &= !bit;
        self.state.untracked_buys &= !bit;
        Ok(())
    }

    /// The state digest: see `digest` and docs/semantics.md.
    pub fn digest(&self) -> u64 {
        let mut d = Digest::default();
        d.bytes(b"firesale-state-v2");
        d.u32(u32::try_from(self.state.markets.len()).unwrap_or(u32::MAX));
        d.u64(self.accounts as u64);
        d.u32(self.state.round);
        let (tag, at) = match self.state.phase {
            Phase::BeginRound => (0, 0),
            Phase::Scan { next } => (1, next),
            Phase::Watch => (5, 0),
            Phase::Sweep { next } => (6, next),
            Phase::Order { remaining } => (7, remaining),
            Phase::Reached { from } => (8, from),
            Phase::OrderAppended => (9, self.scan.appended),
            Phase::Liquidate => (2, self.heap_len),
            Phase::EndRound => (3, 0),
            Phase::Done(_) => (4, 0),
        };
        d.u32(tag);
        d.u64(at as u64);
        for m in &self.state.markets {
            d.fx(m.oracle.0);
            d.fx(m.deposit_index.0);
            d.fx(m.deposit_shares.0);
            m.venue.for_each_number(|x| d.fx(x));
        }
        self.state
            .ledger
            .for_each_number(self.state.markets.len(), |x| d.fx(x));
        d.fx(self.state.insurance.0);
        d.u64(self.state.report.liquidations);
        d.u32(self.state.report.accounts_liquidated);
        d.u32(self.state.report.bankruptcies);
        for b in self.balances.iter() {
            d.fx(b.0);
        }
        // Containment state only when containment is configured, so that
        // plain runs keep their digests.
        if self.containment != Containment::OFF {
            d.bytes(b"containment");
            self.state
                .limits
                .for_each_number(self.state.markets.len(), |x| d.fx(x));
            d.u64(self.state.report.deferred);
            self.for_each_auction_number(|x| d.fx(x));
            for p in self.state.clearing.iter().flatten() {
                d.fx(p.0);
            }
            // Accounts a budget left waiting, as a set.
            if self.heap_len > 0 {
                d.u64(self.queue_fingerprint());
            }
        }
        d.finish()
    }
}

/// Asset `asset`'s bit in a per-asset mask (the engine holds at most 32
/// assets).
fn asset_bit(asset: usize) -> u32 {
    u32::try_from(asset)
        .ok()
        .and_then(|a| 1u32.checked_shl(a))
        .unwrap_or(0)
}

/// A report of nothing yet.
fn empty_report<const A: usize>() -> Report<A> {
    Report {
        rounds: 0,
        liquidations: 0,
        accounts_liquidated: 0,
        bankruptcies: 0,
        deferred: 0,
        backstopped: 0,
        backstop_assets: Value::ZERO,
        backstop_liabilities: Value::ZERO,
        backstop_equity: Value::ZERO,
        backstop_negative_equity: Value::ZERO,
        backstop_pnl: Value::ZERO,
        auctions: 0,
        zero_bid_takes: 0,
        deleveraged: Value::ZERO,
        bad_debt: Value::ZERO,
        insurance_used: Value::ZERO,
        socialized: Value::ZERO,
        unrecovered: Value::ZERO,
        fees: Value::ZERO,
        keeper_pnl: Value::ZERO,
        insurance_fund: Value::ZERO,
        per_asset: [AssetReport::default(); A],
        assets: 0,
        termination: None,
    }
}

/// The ring slot `back` rounds before `head` (`back < HISTORY`).
fn ring_back(head: usize, back: usize) -> usize {
    head.wrapping_add(HISTORY).wrapping_sub(back) % HISTORY
}

fn capacity(what: Capacity, limit: usize, got: usize) -> Error {
    ConfigError::CapacityExceeded { what, limit, got }.into()
}

/// A liquidation must raise health for every collateral/liability pair:
/// `wa_C·(1 + bonus_C) < wl_L` in maintenance weights (and so in the others).
fn validate_pairs(assets: &[AssetConfig]) -> Result<(), ConfigError> {
    for (c, collateral) in assets.iter().enumerate() {
        if !collateral.asset_weights.maint.is_positive() {
            continue;
        }
        let seized = collateral.seized_weight();
        for (l, liability) in assets.iter().enumerate() {
            if l != c && seized >= liability.liability_weights.maint.0 {
                let index = |i: usize| u8::try_from(i).unwrap_or(u8::MAX);
                return Err(ConfigError::BonusLowersHealth {
                    collateral: index(c),
                    liability: index(l),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

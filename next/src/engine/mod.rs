//! The engine: a round loop over caller storage, driven by `step(budget)`.
//!
//! A round: the shocks scheduled for it move their venues → each oracle
//! reads its venue's price of `oracle_lag_rounds` rounds ago → the watch
//! ([`watch`]) values the accounts the round's moves can have reached
//! (every account in round 1) → the accounts found liquidatable are
//! liquidated one unit each ([`crate::liquidate`]), lowest health first,
//! ties by id (sorted once a round, [`queue`]) → each venue recovers. A run ends at a fixed point
//! (a round without a liquidation, no shock left, every oracle and venue
//! price stationary), at the round cap, when a market breaks, or on a
//! fault.
//!
//! Work is counted in units: a round's start, one account valued, a part
//! of the candidates' sort ([`CHUNK`] of them), one account liquidated, a
//! round's end (a unit that finds only empty buckets passes at most
//! [`watch::RING`] of them). `step(budget)` does at most
//! `budget` units and stops between units, so any sequence of budgets
//! reaches the same state, events and digest as one unbounded call.
//!
//! This is the engine being carried over from `firesale-core` (issue 21):
//! sequential settlement, the three policies, the five venues, the
//! insurance fund and socialized loss, a cap on the accounts liquidated a
//! round ([`queue`]), notional caps, keeper capital, the oracle rule and
//! circuit breakers ([`limits`]), the backstop vault ([`backstop`]) and
//! auto-deleveraging, pro rata ([`deleverage`]) and ranked ([`ranked`]),
//! Dutch auctions ([`auction`]) and equilibrium settlement
//! ([`equilibrium`]).

mod auction;
mod audit;
mod backstop;
mod config;
mod deleverage;
mod equilibrium;
mod limits;
mod queue;
mod rank;
mod ranked;
mod watch;

pub use auction::{Auction, AuctionCurve, AuctionRule, MAX_AUCTIONS};
pub use audit::AuditError;
pub use backstop::Backstop;
pub use config::{
    AssetConfig, ConfigError, EngineConfig, Shock, ShockKind, Weights, MAX_LIABILITY_WEIGHT,
};
pub use deleverage::{Deleveraging, Side, Snap, ACC_BITS, MIN_DEBT_INDEX};
pub use equilibrium::{Cleared, MAX_EQUILIBRIUM_ITERATIONS};
pub use limits::{AssetLimits, Breaker, Containment, KeeperCapital, OracleRule, Settlement};
pub use queue::{Candidate, Sorting, CHUNK};
pub use rank::RankNode;
pub use watch::{BLOCK_IDS, RING};

use crate::account::{health, Health, Terms};
use crate::digest::Digest;
use crate::ledger::{Book, ALL_BOOKS};
use crate::liquidate::{
    fee_share, liquidate_unit, Fault, Idle, Market, MarketState, Moved, Record, Stepped, Tiers,
    Written,
};
use crate::num::{mul_div, ArithError, Index, Price, Qty, Value, RATIO_SCALE};
use crate::policy::Policy;
use crate::venue::{Fill, Mechanism, Venue, VenueError, MAX_BOOK_LEVELS};
use queue::Batch;
use watch::{Lists, Valued, Watch, DRIFT_ONE, FAR, NIL};

/// Longest oracle lag, in rounds.
pub const MAX_ORACLE_LAG: usize = 15;
const HISTORY: usize = MAX_ORACLE_LAG + 1;
/// Most assets an engine's type can hold (a unit marks assets in a `u32`).
pub const ASSET_LIMIT: usize = 32;
/// Whether this build runs auto-deleveraging (the `deleveraging` feature):
/// without it none of its code is linked (a firmware's flash), and a
/// configuration that asks for it is refused.
pub const DELEVERAGING_BUILT: bool = cfg!(any(test, feature = "deleveraging"));
/// Whether this build runs containment beyond the cap on accounts (the
/// `containment` feature: [`limits`]): without it none of its code is
/// linked, and a configuration that asks for it is refused.
pub const CONTAINMENT_BUILT: bool = cfg!(any(test, feature = "containment"));
/// Containment's state: for every asset in a build with it, none without.
#[cfg(any(test, feature = "containment"))]
type Limits<const A: usize> = limits::LimitState<A>;
/// Containment's state (see above).
#[cfg(not(any(test, feature = "containment")))]
type Limits<const A: usize> = limits::LimitState<0>;
/// The sides an engine keeps: one an asset in a build with
/// auto-deleveraging, none without (the engine is on a firmware's stack).
#[cfg(any(test, feature = "deleveraging"))]
type Sides<const A: usize> = heapless::Vec<Side, A>;
/// The sides an engine keeps (see above).
#[cfg(not(any(test, feature = "deleveraging")))]
type Sides<const A: usize> = heapless::Vec<Side, 0>;
/// Trees of ranked deleveraging's order: both sides of every asset in a
/// build with auto-deleveraging, none without.
const RANK_TREES: usize = if DELEVERAGING_BUILT {
    2 * ASSET_LIMIT
} else {
    0
};
/// Running auctions: up to [`MAX_AUCTIONS`] in a build with containment,
/// none without.
#[cfg(any(test, feature = "containment"))]
type Auctions = heapless::Vec<Auction, MAX_AUCTIONS>;
/// Running auctions (see above).
#[cfg(not(any(test, feature = "containment")))]
type Auctions = heapless::Vec<Auction, 0>;
/// Write-offs a unit hands to deleveraging: one an asset in a build with
/// it, none without.
#[cfg(any(test, feature = "deleveraging"))]
type Losses<const A: usize> = heapless::Vec<Written, A>;
/// Write-offs a unit hands to deleveraging (see above).
#[cfg(not(any(test, feature = "deleveraging")))]
type Losses<const A: usize> = heapless::Vec<Written, 0>;

/// Caller-provided storage for `accounts` accounts: their balances, the
/// watch's [`Storage::link_words`] and the queue's [`Storage::queue_slots`].
pub struct Storage<'s> {
    /// Stored balances, `assets` per account, account-major: the starting
    /// balances, written by the caller (a deposit in shares at index one,
    /// that is in base units; a debt negative, in base units).
    pub balances: &'s mut [Qty],
    /// The watch's lists ([`Storage::link_words`]): about 1.2 words an
    /// account, in blocks of [`BLOCK_IDS`].
    pub links: &'s mut [u32],
    /// The round's liquidation candidates and the spare their sort uses:
    /// two slots per account.
    pub queue: &'s mut [Candidate],
    /// Each account's place on each risky asset's sides, under
    /// auto-deleveraging ([`Storage::snap_slots`]); empty without it.
    pub snaps: &'s mut [Snap],
    /// Each account's place in ranked deleveraging's order, one an account
    /// under it ([`Storage::rank_slots`]); empty otherwise.
    pub ranks: &'s mut [RankNode],
}

impl Storage<'_> {
    /// Words of `links` for `accounts` accounts.
    pub const fn link_words(accounts: usize) -> usize {
        Lists::words_for(accounts)
    }
    /// Slots of `queue` for `accounts` accounts.
    pub const fn queue_slots(accounts: usize) -> usize {
        accounts.saturating_mul(2)
    }
    /// Slots of `snaps` for `accounts` accounts over `assets` assets under
    /// auto-deleveraging: one per risky asset an account.
    pub const fn snap_slots(accounts: usize, assets: usize) -> usize {
        accounts.saturating_mul(assets.saturating_sub(1))
    }
    /// Slots of `ranks` for `accounts` accounts under ranked
    /// deleveraging: one an account (40 B).
    pub const fn rank_slots(accounts: usize) -> usize {
        accounts
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// A round without a liquidation, no shock left, prices stationary.
    FixedPoint,
    /// The round cap.
    RoundCap,
    /// A venue could not fill a trade or a shock.
    MarketBroken {
        /// The asset.
        asset: u8,
    },
    /// An amount left its range.
    Fault(ArithError),
}

/// What a call to [`Engine::step`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// More work remains.
    Pending,
    /// The run has ended.
    Done(Termination),
}

/// What the engine tells its caller as it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A round began (after its shocks and oracle update).
    RoundStarted {
        /// The round.
        round: u32,
    },
    /// An account was liquidated.
    Liquidated {
        /// The round.
        round: u32,
        /// The account.
        account: u32,
        /// Pair steps taken.
        steps: u32,
        /// The last of them.
        last: Option<Stepped>,
    },
    /// What a liquidation moved in one asset (emitted before its
    /// [`Event::Liquidated`], one for each asset it touched).
    Moved {
        /// The account.
        account: u32,
        /// The record.
        moved: Moved,
    },
    /// The backstop vault took an account over whole.
    BackstopTakeover {
        /// The round.
        round: u32,
        /// The account.
        account: u32,
        /// Its equity at the oracle (negative: the vault took a loss).
        equity: Value,
    },
    /// A bankrupt position was closed against the opposite side at its
    /// bankruptcy price (auto-deleveraging).
    Deleveraged {
        /// The round.
        round: u32,
        /// The bankrupt account.
        account: u32,
        /// The risky asset.
        asset: u8,
        /// The account was long it (it gave `size` up and its quote debt
        /// fell by `quote`), else short (it received `size` and paid
        /// `quote`).
        long: bool,
        /// Units of the asset that changed hands.
        size: Qty,
        /// Quote that changed hands the other way.
        quote: Value,
        /// The account on the other side (ranked), or `None`: every
        /// opposite position in proportion (pro rata).
        counterparty: Option<u32>,
    },
    /// One of an account's debts went down the waterfall.
    WrittenOff {
        /// The account.
        account: u32,
        /// The record.
        written: Written,
    },
    /// A liquidation started a Dutch auction.
    AuctionStarted {
        /// The round.
        round: u32,
        /// The auction.
        auction: u32,
        /// The account liquidated.
        account: u32,
        /// The collateral on sale.
        asset: u8,
        /// Base units of it on sale.
        lot: Qty,
        /// The debt it is to raise (quote base units).
        debt: Value,
        /// Paid from the insurance fund to the keeper that started it.
        incentive: Value,
        /// Its start price.
        top: Price,
    },
    /// An auction restarted at a fresh price (its tail, or its cusp).
    AuctionReset {
        /// The round.
        round: u32,
        /// The auction.
        auction: u32,
        /// The collateral on sale.
        asset: u8,
        /// Its new start price.
        top: Price,
    },
    /// Keepers took part of an auction's lot.
    AuctionTaken {
        /// The round.
        round: u32,
        /// The auction.
        auction: u32,
        /// The collateral on sale.
        asset: u8,
        /// Base units taken.
        qty: Qty,
        /// Quote paid for them (nothing at a price of zero).
        paid: Value,
        /// The part of it that paid the penalty, to the insurance fund.
        penalty: Value,
        /// Quote the keepers sold them for in the venue.
        proceeds: Value,
        /// The venue's price after that sale (before the round's recovery).
        venue_price: Price,
    },
    /// An auction ended.
    AuctionEnded {
        /// The round.
        round: u32,
        /// The auction.
        auction: u32,
        /// The collateral that was on sale.
        asset: u8,
        /// The account liquidated.
        account: u32,
        /// Collateral returned to it.
        returned: Qty,
        /// Debt not raised: bad debt.
        shortfall: Value,
        /// The part of it the insurance fund covered.
        covered: Value,
    },
    /// An asset's circuit breaker tripped: liquidations touching it wait
    /// until round `resumes`.
    BreakerTripped {
        /// The round.
        round: u32,
        /// The asset.
        asset: u8,
        /// The first round liquidations may touch it again.
        resumes: u32,
    },
    /// A round's sales of an asset clear at one price (equilibrium
    /// settlement): every account is marked at it this round. Emitted just
    /// after the round's [`Event::RoundStarted`].
    Cleared {
        /// The round.
        round: u32,
        /// The asset.
        asset: u8,
        /// The clearing price.
        price: Price,
        /// Applications of the price map it took.
        iterations: u32,
        /// Whether the iteration stopped by itself, not at
        /// [`MAX_EQUILIBRIUM_ITERATIONS`].
        converged: bool,
    },
    /// A round ended.
    RoundEnded {
        /// The round.
        round: u32,
        /// Accounts liquidated in it.
        liquidations: u32,
    },
    /// The run ended.
    Finished(Termination),
}

/// Where events go.
pub trait EventSink {
    /// Receives one event.
    fn emit(&mut self, event: &Event);
}

impl EventSink for () {
    fn emit(&mut self, _: &Event) {}
}

/// Counts over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Rounds begun.
    pub rounds: u32,
    /// Liquidation units that changed an account.
    pub liquidations: u64,
    /// Pair steps.
    pub steps: u64,
    /// Units that ended in the waterfall.
    pub bankruptcies: u64,
    /// Accounts valued by the watch (every account in round 1).
    pub valued: u64,
    /// Accounts a spent cap, a halt or a stale oracle left waiting, one
    /// per account and round.
    pub deferred: u64,
    /// Bankrupt positions closed against the opposite side.
    pub deleveraged: u64,
    /// Accounts the backstop vault took over.
    pub backstopped: u64,
    /// Σ of their equity at takeover, in quote base units.
    pub backstop_equity: i64,
    /// Dutch auctions started.
    pub auctions: u64,
    /// Auction takes that paid nothing (a price of zero).
    pub zero_bid_takes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    BeginRound,
    /// Round 1: every account, from `next`.
    ScanAll {
        next: u32,
    },
    /// Valuing the far list again: account `at` of `block`.
    Far {
        block: u32,
        at: u8,
    },
    /// Taking the buckets up to the drift's: account `at` of `block` of a
    /// bucket taken, then bucket `next`.
    Due {
        next: u64,
        block: u32,
        at: u8,
    },
    Liquidate,
    EndRound,
    Done(Termination),
}

/// The cascade engine over caller storage, for up to `A` assets (the
/// quote included) whose order books have up to `N` levels a side.
pub struct Engine<'s, const A: usize, const N: usize = MAX_BOOK_LEVELS> {
    markets: heapless::Vec<Market<N>, A>,
    /// What the engine reads of each asset's configuration after set-up.
    risks: heapless::Vec<Risk, A>,
    maint: heapless::Vec<Terms, A>,
    liq_end: heapless::Vec<Terms, A>,
    /// Each asset's share price and price ([`Price::at_finest`]) when the
    /// drift was last grown.
    seen: heapless::Vec<(u128, u128), A>,
    /// Venue price mantissas at the last round starts (each asset's
    /// exponent is fixed); `head` is the newest.
    history: heapless::Vec<[u64; HISTORY], A>,
    head: usize,
    /// Σ of each asset's effective balances at the start.
    initial: heapless::Vec<i128, A>,
    insurance: Value,
    initial_insurance: Value,
    policy: Policy,
    max_rounds: u32,
    lag: usize,
    shocks: &'s [Shock],
    next_shock: usize,
    round: u32,
    round_liquidations: u32,
    /// Accounts liquidated a round at most (0: no cap).
    cap: u32,
    phase: Phase,
    /// The largest maintenance weight: a term's rounding slack.
    max_weight: u64,
    watch: Watch,
    lists: Lists<'s>,
    batch: Batch<'s>,
    balances: &'s mut [Qty],
    accounts: usize,
    report: Report,
    deleveraging: Option<Deleveraging>,
    /// Per asset under auto-deleveraging (the quote's holds its slack
    /// only); empty without it.
    sides: Sides<A>,
    snaps: &'s mut [Snap],
    ranks: rank::Ranks<'s, RANK_TREES>,
    auctions: Auctions,
    containment: Containment<'s>,
    /// Whether units are held to the round's gate ([`Containment::gates`]).
    gated: bool,
    /// Whether quiet rounds before a shock are skipped.
    skip_empty: bool,
    limits: Limits<A>,
}

impl<'s, const A: usize, const N: usize> Engine<'s, A, N> {
    /// Validates the configuration and the storage and builds the engine.
    pub fn new(config: &EngineConfig<'s>, storage: Storage<'s>) -> Result<Self, ConfigError> {
        let mut e = Self::blank(config, checked::<A>(config, storage)?);
        e.fill(config)?;
        Ok(e)
    }

    /// [`Engine::new`], handing the engine to `f`: for callers whose stack
    /// is counted. The engine is built where it stays, in this call's
    /// frame, where a caller of `new` may hold it twice, the result and the
    /// binding it moves into (3.9 KB each for three assets on a Cortex-M3).
    #[inline(never)]
    pub fn with<R>(
        config: &EngineConfig<'s>,
        storage: Storage<'s>,
        f: impl FnOnce(&mut Self) -> R,
    ) -> Result<R, ConfigError> {
        let mut e = Self::blank(config, checked::<A>(config, storage)?);
        e.fill(config)?;
        Ok(f(&mut e))
    }

    /// The engine with no assets yet, over checked storage.
    #[inline(always)]
    fn blank(config: &EngineConfig<'s>, parts: Parts<'s>) -> Self {
        Self {
            markets: heapless::Vec::new(),
            risks: heapless::Vec::new(),
            maint: heapless::Vec::new(),
            liq_end: heapless::Vec::new(),
            seen: heapless::Vec::new(),
            history: heapless::Vec::new(),
            head: 0,
            initial: heapless::Vec::new(),
            insurance: config.insurance_fund,
            initial_insurance: config.insurance_fund,
            policy: config.policy,
            max_rounds: config.max_rounds,
            lag: usize::from(config.oracle_lag_rounds),
            shocks: config.shocks,
            next_shock: 0,
            round: 0,
            round_liquidations: 0,
            cap: config.max_accounts_per_round,
            phase: Phase::BeginRound,
            max_weight: RATIO_SCALE,
            watch: Watch::default(),
            lists: parts.lists,
            batch: Batch::new(parts.slots, parts.spare),
            balances: parts.balances,
            accounts: parts.accounts,
            report: Report::default(),
            deleveraging: config.deleveraging,
            sides: heapless::Vec::new(),
            snaps: parts.snaps,
            ranks: rank::Ranks::new(parts.ranks),
            auctions: heapless::Vec::new(),
            containment: config.containment,
            gated: CONTAINMENT_BUILT && config.containment.gates(),
            skip_empty: true,
            limits: limits::LimitState::new(&config.containment),
        }
    }

    /// Adds the assets and sums the starting balances. Out of line, as are
    /// the round's phases below: inlined into one caller, their
    /// temporaries shared no stack (docs/targets.md).
    #[inline(never)]
    fn fill(&mut self, config: &EngineConfig<'s>) -> Result<(), ConfigError> {
        for (i, asset) in config.assets.iter().enumerate() {
            self.add_market(asset, u8::try_from(i).unwrap_or(u8::MAX))?;
        }
        self.add_balances()?;
        if self.deleveraging_on() {
            self.add_sides()?;
        }
        if self.ranked_on() {
            self.add_ranks()?;
        }
        Ok(())
    }

    /// Auto-deleveraging's sides: every debt its shares at an index of
    /// one; the quote's losses go to the shorts, not its lenders.
    fn add_sides(&mut self) -> Result<(), ConfigError> {
        let n = self.markets.len();
        for _ in 0..n {
            self.sides
                .push(Side::default())
                .map_err(|_| ConfigError::Assets)?;
        }
        if let Some(q) = self.markets.first_mut() {
            q.socialized = false;
        }
        if !self.pro_rata_on() {
            return Ok(());
        }
        // Storage may come from an earlier run: every snapshot starts anew.
        self.snaps.fill(Snap::default());
        let rows = self.balances.chunks_exact(n.max(1));
        for (row, snaps) in rows.zip(self.snaps.chunks_exact_mut(n.saturating_sub(1).max(1))) {
            let risky = row
                .iter()
                .skip(1)
                .zip(snaps.iter_mut())
                .zip(self.sides.iter_mut().skip(1));
            for ((&b, snap), side) in risky {
                if b.is_negative() {
                    snap.debt_shares = Qty(b.0.saturating_neg());
                    side.debt_shares = side
                        .debt_shares
                        .saturating_add(i128::from(snap.debt_shares.0));
                    side.shorts = side.shorts.saturating_add(1);
                }
            }
        }
        Ok(())
    }

    /// Ranked deleveraging's order: every account filed, and no market's
    /// loss left to its lenders (it goes to the other side), so no index
    /// moves and the order's keys hold.
    fn add_ranks(&mut self) -> Result<(), ConfigError> {
        for m in self.markets.iter_mut() {
            m.socialized = false;
        }
        for id in 0..self.accounts {
            let id = u32::try_from(id).map_err(|_| ConfigError::Storage)?;
            self.note_written(id).map_err(|_| ConfigError::Storage)?;
        }
        Ok(())
    }

    fn add_market(&mut self, asset: &AssetConfig, id: u8) -> Result<(), ConfigError> {
        let bad = ConfigError::Venue { asset: id };
        let venue = match asset.venue {
            crate::venue::VenueConfig::Quote => None,
            ref v => Some(Venue::new(v, asset.price, asset.dust).map_err(|_| bad)?),
        };
        let price = asset.price;
        let market = Market {
            oracle: price,
            discounted: price.discounted(asset.liquidation_bonus).map_err(|_| bad)?,
            fee_share: fee_share(asset.liquidation_bonus, asset.protocol_fee).map_err(|_| bad)?,
            dust: asset.dust,
            socialized: true,
            clears_at_oracle: venue.is_some() && self.equilibrium_on(),
            state: MarketState {
                index: Index::ONE,
                venue,
                deposit_shares: Qty::ZERO,
            },
            books: Default::default(),
        };
        let risk = Risk {
            asset_weights: asset.asset_weights,
            liability_weights: asset.liability_weights,
            liquidation_bonus: asset.liquidation_bonus,
        };
        let (maint, liq_end) = tiers(&risk, price, Index::ONE).map_err(|_| bad)?;
        self.max_weight = self.max_weight.max(asset.liability_weights.maint.0);
        let seen = (maint.share_price().at_finest(), price.at_finest());
        let full = ConfigError::Assets;
        self.markets.push(market).map_err(|_| full)?;
        self.risks.push(risk).map_err(|_| full)?;
        self.maint.push(maint).map_err(|_| full)?;
        self.liq_end.push(liq_end).map_err(|_| full)?;
        self.seen.push(seen).map_err(|_| full)?;
        self.history
            .push([price.mantissa(); HISTORY])
            .map_err(|_| full)?;
        self.initial.push(0).map_err(|_| full)
    }

    /// Sums the starting balances: each asset's deposit shares and total.
    fn add_balances(&mut self) -> Result<(), ConfigError> {
        let n = self.markets.len().max(1);
        let columns = self.markets.iter_mut().zip(self.initial.iter_mut());
        // One asset's column at a time: a tight loop the compiler keeps in
        // registers, where a row at a time took 67 instructions an account.
        for (asset, (m, total)) in columns.enumerate() {
            let (mut sum, mut shares) = (0i128, 0i64);
            let mut overflow = false;
            for b in self.balances.iter().skip(asset).step_by(n) {
                // Under 2^32 accounts of balances under 2^63: no wrap.
                sum = sum.wrapping_add(i128::from(b.0));
                let (added, o) = shares.overflowing_add(b.0.max(0));
                (shares, overflow) = (added, overflow | o);
            }
            match (overflow, m.state.deposit_shares.add(Qty(shares))) {
                (false, Ok(deposits)) => m.state.deposit_shares = deposits,
                _ => {
                    let asset = u8::try_from(asset).unwrap_or(u8::MAX);
                    return Err(ConfigError::Venue { asset });
                }
            }
            *total = sum;
        }
        match self.equilibrium_on() && !self.rows_settle_at_equilibrium() {
            true => Err(ConfigError::Settlement),
            false => Ok(()),
        }
    }

    /// Whether every row is one equilibrium settlement can price: no short
    /// in a risky asset (a purchase would push its price up) and deposits
    /// in one asset at most (one that holds two would switch the
    /// collateral it sells as their prices move, and sell less of a
    /// falling asset): the demand for each asset then only grows as its
    /// price falls, and the price map is monotone.
    fn rows_settle_at_equilibrium(&self) -> bool {
        let n = self.markets.len().max(1);
        self.balances.chunks_exact(n).all(|row| {
            let short = row.iter().skip(1).any(|b| b.is_negative());
            let deposits = row.iter().filter(|b| b.is_positive()).count();
            !short && deposits <= 1
        })
    }

    /// Assets.
    pub fn asset_count(&self) -> usize {
        self.markets.len()
    }

    /// Accounts.
    pub fn account_count(&self) -> usize {
        self.accounts
    }

    /// The current round (0 before the first).
    pub fn round(&self) -> u32 {
        self.round
    }

    /// The run's counts.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The insurance fund.
    pub fn insurance_fund(&self) -> Value {
        self.insurance
    }

    /// The markets: oracle, venue, index, shares, books.
    pub fn markets(&self) -> &[Market<N>] {
        &self.markets
    }

    /// Whether units are held to a gate: containment configured, in a
    /// build that has it (a build without it keeps none of the code this
    /// guards).
    #[inline]
    fn gates(&self) -> bool {
        CONTAINMENT_BUILT && self.gated
    }

    /// Whether auto-deleveraging runs: configured, in a build that has it
    /// (a build without it keeps none of the code this guards).
    #[inline]
    fn deleveraging_on(&self) -> bool {
        DELEVERAGING_BUILT && self.deleveraging.is_some()
    }

    /// Whether pro-rata auto-deleveraging runs (see above): rows settle
    /// with their sides' indices and accumulators.
    #[inline]
    fn pro_rata_on(&self) -> bool {
        DELEVERAGING_BUILT && self.deleveraging == Some(Deleveraging::ProRata)
    }

    /// Whether each round's sales clear at one price an asset (see
    /// above).
    #[inline]
    fn equilibrium_on(&self) -> bool {
        CONTAINMENT_BUILT && self.containment.settlement == Settlement::Equilibrium
    }

    /// Whether ranked auto-deleveraging runs (see above).
    #[inline]
    fn ranked_on(&self) -> bool {
        DELEVERAGING_BUILT && self.deleveraging == Some(Deleveraging::Ranked)
    }

    /// Each asset's deleveraging sides (the quote's holds its slack only);
    /// empty without auto-deleveraging.
    pub fn sides(&self) -> &[Side] {
        &self.sides
    }

    /// Account `id`'s stored balances. Under auto-deleveraging these are
    /// as of the account's last settlement ([`Engine::balances_now`]).
    pub fn row(&self, id: usize) -> Option<&[Qty]> {
        self.balances.get(self.row_range(id))
    }

    /// Where account `id`'s row lies in the balances (past their end, for
    /// an id past the accounts: `get` then finds nothing).
    fn row_range(&self, id: usize) -> core::ops::Range<usize> {
        let n = self.markets.len();
        let start = id.saturating_mul(n);
        start..start.saturating_add(n)
    }

    /// Whether the round is in its liquidation phase: its scan is done, and
    /// [`Engine::queued`] holds every account it found liquidatable, after
    /// those a cap left waiting.
    pub fn liquidating(&self) -> bool {
        self.phase == Phase::Liquidate
    }

    /// The accounts waiting to be liquidated: those a cap left waiting, in
    /// their order, then the ones this round found, in no order until
    /// sorted.
    pub fn queued(&self) -> impl Iterator<Item = &Candidate> + '_ {
        self.batch.waiting()
    }

    /// How many of [`Engine::queued`]'s first accounts a cap left waiting
    /// from earlier rounds, as the round's liquidations begin (before any
    /// is taken).
    pub fn carried_over(&self) -> usize {
        self.batch.carried()
    }

    /// Account `id`'s maintenance health now (its balances as settled).
    pub fn health(&self, id: usize) -> Option<Health> {
        health(&self.balances_now(id)?, &self.maint).ok()
    }

    /// How the run ended, once it has.
    pub fn termination(&self) -> Option<Termination> {
        match self.phase {
            Phase::Done(t) => Some(t),
            _ => None,
        }
    }

    /// Does at most `budget` units of work.
    pub fn step(&mut self, budget: u32, sink: &mut impl EventSink) -> StepOutcome {
        for _ in 0..budget {
            if let Phase::Done(t) = self.phase {
                return StepOutcome::Done(t);
            }
            if let Err(t) = self.unit(sink) {
                self.phase = Phase::Done(t);
                sink.emit(&Event::Finished(t));
            }
        }
        match self.phase {
            Phase::Done(t) => StepOutcome::Done(t),
            _ => StepOutcome::Pending,
        }
    }

    /// Runs to the end.
    pub fn run(&mut self, sink: &mut impl EventSink) -> Termination {
        loop {
            if let StepOutcome::Done(t) = self.step(u32::MAX, sink) {
                return t;
            }
        }
    }

    fn unit(&mut self, sink: &mut impl EventSink) -> Result<(), Termination> {
        match self.phase {
            Phase::BeginRound => self.begin_round(sink),
            Phase::ScanAll { next } => {
                if next as usize >= self.accounts {
                    self.watch.cursor = self.watch.target();
                    self.start_liquidations();
                    return Ok(());
                }
                self.phase = Phase::ScanAll {
                    next: next.saturating_add(1),
                };
                self.value_and_place(next)
            }
            Phase::Far { block, at } => {
                if block == NIL {
                    self.phase = self.due_phase();
                    return Ok(());
                }
                let (block, at) = self.walk(block, at)?;
                self.phase = Phase::Far { block, at };
                Ok(())
            }
            Phase::Due { next, block, at } => self.due_unit(next, block, at),
            Phase::Liquidate => self.liquidate(sink),
            Phase::EndRound => self.end_round(sink),
            Phase::Done(_) => Ok(()),
        }
    }

    fn due_phase(&self) -> Phase {
        let target = self.watch.target();
        let first = target
            .saturating_sub((RING as u64).saturating_sub(1))
            .max(self.watch.cursor);
        Phase::Due {
            next: first,
            block: NIL,
            at: 0,
        }
    }

    /// Values account `at` of a taken `block`, or, past its last, frees it
    /// and moves to the next block. Starting a block prefetches its
    /// accounts' rows and the next block.
    fn walk(&mut self, block: u32, at: u8) -> Result<(u32, u8), Termination> {
        let ids = self.lists.ids(block);
        if at == 0 {
            ids.iter().for_each(|&id| self.prefetch(id));
            self.lists.prefetch(self.lists.next_block(block));
        }
        if let Some(&id) = ids.get(usize::from(at)) {
            self.value_and_place(id)?;
            return Ok((block, at.saturating_add(1)));
        }
        let next = self.lists.next_block(block);
        self.lists.release(block);
        Ok((next, 0))
    }

    /// Values the account `at` of a taken bucket, or takes the next
    /// non-empty bucket up to the drift's.
    fn due_unit(&mut self, next: u64, block: u32, at: u8) -> Result<(), Termination> {
        if block != NIL {
            let (block, at) = self.walk(block, at)?;
            self.phase = Phase::Due { next, block, at };
            return Ok(());
        }
        let target = self.watch.target();
        let mut bucket = next;
        while bucket <= target {
            let head = self.lists.take(watch::slot_of(bucket));
            bucket = bucket.saturating_add(1);
            if head != NIL {
                self.phase = Phase::Due {
                    next: bucket,
                    block: head,
                    at: 0,
                };
                return Ok(());
            }
        }
        self.watch.cursor = target;
        self.start_liquidations();
        Ok(())
    }

    /// Ends the scan: the candidates are sorted, then liquidated.
    fn start_liquidations(&mut self) {
        self.batch.start_sort();
        self.phase = Phase::Liquidate;
    }

    /// Starts loading account `id`'s row, which a unit soon reads in no
    /// order the caches can guess: a hint, with no effect on results
    /// (`firesale_hint`).
    fn prefetch(&self, id: u32) {
        if let Some(first) = self.balances.get(self.row_range(id as usize).start) {
            firesale_hint::prefetch(first);
        }
    }

    /// Values account `id` and queues it, watches it, or lets it be.
    fn value_and_place(&mut self, id: u32) -> Result<(), Termination> {
        let valued = self.value(id)?;
        self.place(id, valued)
    }

    fn value(&mut self, id: u32) -> Result<Valued, Termination> {
        self.report.valued = self.report.valued.saturating_add(1);
        if self.pro_rata_on() {
            return self.value_settled(id);
        }
        let row = self
            .balances
            .get(self.row_range(id as usize))
            .ok_or(Termination::Fault(ArithError::Domain))?;
        let (drift, max_weight) = (self.watch.drift, self.max_weight);
        watch::value(row, &self.maint, drift, max_weight, &mut self.watch.owed)
            .map_err(Termination::Fault)
    }

    /// [`Engine::value`] under auto-deleveraging: the row settled first,
    /// and a base unit more of slack for each asset it owes, for the charge
    /// its next settlement rounds up.
    #[inline(never)]
    fn value_settled(&mut self, id: u32) -> Result<Valued, Termination> {
        self.settle_row(id)?;
        let row = self
            .balances
            .get(self.row_range(id as usize))
            .ok_or(Termination::Fault(ArithError::Domain))?;
        let mut s = crate::account::sums(row, &self.maint).map_err(Termination::Fault)?;
        s.terms = s.terms.wrapping_add(i128::from(s.owes.count_ones()));
        self.watch.owed |= s.owes;
        Ok(watch::place(&s, self.watch.drift, self.max_weight))
    }

    fn place(&mut self, id: u32, valued: Valued) -> Result<(), Termination> {
        match valued {
            Valued::Liquidatable(h) => {
                if !self.batch.push(Candidate::new(h, id)) {
                    return Err(Termination::Fault(ArithError::Domain));
                }
            }
            Valued::Watch(trigger) => {
                if !self.lists.push(self.watch.list(trigger), id) {
                    return Err(Termination::Fault(ArithError::Domain));
                }
            }
            Valued::Settled => {}
        }
        Ok(())
    }

    /// Counts an account that waits for a later round.
    fn defer(&mut self) {
        self.limits.round_deferred = self.limits.round_deferred.saturating_add(1);
        self.report.deferred = self.report.deferred.saturating_add(1);
    }

    #[inline(never)]
    fn begin_round(&mut self, sink: &mut impl EventSink) -> Result<(), Termination> {
        self.round = self.round.saturating_add(1);
        self.report.rounds = self.round;
        self.round_liquidations = 0;
        while let Some(&shock) = self.shocks.get(self.next_shock) {
            if shock.round > self.round {
                break;
            }
            self.apply_shock(&shock)?;
            self.next_shock = self.next_shock.saturating_add(1);
        }
        self.head = (self.head.saturating_add(1)) % HISTORY;
        let fault = Termination::Fault;
        for asset in 0..self.markets.len() {
            let Some(m) = self.markets.get(asset) else {
                continue;
            };
            let price = match &m.state.venue {
                Some(v) => v.price().map_err(fault)?,
                None => Price::ONE,
            };
            let published = m.oracle.mantissa();
            let Some(h) = self.history.get_mut(asset) else {
                continue;
            };
            if let Some(slot) = h.get_mut(self.head) {
                *slot = price.mantissa();
            }
            let last = self.limits.published.get_mut(asset);
            let mut unused = 0;
            let last = last.unwrap_or(&mut unused);
            let rule = &self.containment.oracle;
            let history = (&*h, self.head, self.lag);
            let updated = limits::oracle_update(rule, history, (published, last), self.round);
            if let Some(mantissa) = updated.map_err(fault)? {
                self.publish(asset, price.with_mantissa(mantissa).map_err(fault)?)?;
            }
            self.refresh_terms(asset)?;
        }
        let cleared = match self.equilibrium_on() {
            true => Some(self.clear()?),
            false => None,
        };
        if self.gates() {
            self.trip_breakers(sink);
            self.open_gate().map_err(fault)?;
        }
        self.grow_drift()?;
        self.phase = if self.round == 1 {
            Phase::ScanAll { next: 0 }
        } else if self.watch.far_due() {
            self.watch.far_from = self.watch.cursor;
            Phase::Far {
                block: self.lists.take(FAR),
                at: 0,
            }
        } else {
            self.due_phase()
        };
        sink.emit(&Event::RoundStarted { round: self.round });
        if let Some(cleared) = cleared {
            self.report_cleared(cleared, sink);
        }
        Ok(())
    }

    /// Publishes `oracle` as asset `asset`'s oracle price (its terms are
    /// refreshed apart).
    fn publish(&mut self, asset: usize, oracle: Price) -> Result<(), Termination> {
        let bonus = self.risks.get(asset).map(|c| c.liquidation_bonus);
        if let Some(m) = self.markets.get_mut(asset) {
            m.oracle = oracle;
            m.discounted = oracle
                .discounted(bonus.unwrap_or_default())
                .map_err(Termination::Fault)?;
        }
        Ok(())
    }

    /// Recomputes asset `asset`'s terms from its oracle and index.
    fn refresh_terms(&mut self, asset: usize) -> Result<(), Termination> {
        let (Some(m), Some(c)) = (self.markets.get(asset), self.risks.get(asset)) else {
            return Ok(());
        };
        let (maint, liq_end) = tiers(c, m.oracle, m.state.index).map_err(Termination::Fault)?;
        if let (Some(a), Some(b)) = (self.maint.get_mut(asset), self.liq_end.get_mut(asset)) {
            *a = maint;
            *b = liq_end;
        }
        Ok(())
    }

    /// Grows the drift by the round's largest adverse move since it was
    /// last grown: a share price's fall, or the rise of a price some
    /// watched account owes.
    fn grow_drift(&mut self) -> Result<(), Termination> {
        let mut worst = DRIFT_ONE;
        for (asset, (t, seen)) in self.maint.iter().zip(self.seen.iter_mut()).enumerate() {
            let (share, price) = (t.share_price().at_finest(), t.price().at_finest());
            let (old_share, old_price) = *seen;
            *seen = (share, price);
            if share < old_share {
                worst = worst.max(ratio_up(old_share, share));
            }
            let owed = self.watch.owed.checked_shr(asset as u32).unwrap_or(0) & 1 == 1;
            if owed && price > old_price {
                worst = worst.max(ratio_up(price, old_price));
            }
        }
        // A charge on the shorts acts after the round's moves: its bound
        // multiplies theirs.
        let charged = self.sides.iter_mut().fold(0u64, |most, side| {
            most.max(core::mem::take(&mut side.charge_drift))
        });
        if charged > 0 {
            let grown = u128::from(worst)
                .saturating_mul(u128::from(DRIFT_ONE.saturating_add(charged)))
                .div_ceil(u128::from(DRIFT_ONE));
            worst = u64::try_from(grown).unwrap_or(u64::MAX);
        }
        if worst > DRIFT_ONE {
            self.watch.grow(worst).map_err(Termination::Fault)?;
        }
        Ok(())
    }

    fn apply_shock(&mut self, shock: &Shock) -> Result<(), Termination> {
        let asset = usize::from(shock.asset);
        let broken = |e| venue_termination(shock.asset, e);
        let m = self
            .markets
            .get_mut(asset)
            .ok_or(Termination::Fault(ArithError::Domain))?;
        let venue = m
            .state
            .venue
            .as_mut()
            .ok_or(Termination::Fault(ArithError::Domain))?;
        let fill = match shock.kind {
            ShockKind::SetPrice(p) => venue.move_price(p).map_err(broken)?,
            ShockKind::MovePrice(r) => {
                let now = venue.price().map_err(Termination::Fault)?;
                let moved = mul_div(now.mantissa(), r.0, RATIO_SCALE, false)
                    .and_then(|m| now.with_mantissa(m.unsigned_abs()))
                    .map_err(|_| Termination::MarketBroken { asset: shock.asset })?;
                venue.move_price(moved).map_err(broken)?
            }
            ShockKind::Sell(q) => {
                let proceeds = venue.sell(q).map_err(broken)?;
                Fill {
                    base_in: q,
                    quote_out: proceeds,
                }
            }
            ShockKind::Buy(q) => {
                let cost = venue.buy(q).map_err(broken)?;
                Fill {
                    base_in: Qty(q.0.saturating_neg()),
                    quote_out: Value(cost.0.saturating_neg()),
                }
            }
        };
        self.book_fill(asset, Book::Exogenous, fill);
        Ok(())
    }

    /// Books an outside party's fill against venue `asset`.
    fn book_fill(&mut self, asset: usize, party: Book, fill: Fill) {
        if let Some(m) = self.markets.get_mut(asset) {
            m.books.transfer(party, Book::Venue, fill.base_in);
        }
        if let Some(q) = self.markets.first_mut() {
            q.books.transfer(Book::Venue, party, Qty(fill.quote_out.0));
        }
    }

    #[inline(never)]
    fn liquidate(&mut self, sink: &mut impl EventSink) -> Result<(), Termination> {
        if self.batch.sorting() != Sorting::Sorted {
            self.batch.sort_unit();
            return Ok(());
        }
        let exhausted = self.gates() && self.limits.gate.exhausted();
        if exhausted || (self.cap != 0 && self.round_liquidations >= self.cap) {
            // The cap is spent: who is left waits, ahead of the next
            // round's candidates.
            let waiting = self.batch.len() as u64;
            self.report.deferred = self.report.deferred.saturating_add(waiting);
            self.phase = Phase::EndRound;
            return Ok(());
        }
        let Some(candidate) = self.batch.take() else {
            self.phase = Phase::EndRound;
            return Ok(());
        };
        if let Some(after) = self.batch.peek_after_next() {
            self.prefetch(after.id);
        }
        let id = candidate.id;
        let adl = self.deleveraging_on();
        let ranked = self.ranked_on();
        let mut closed = false;
        if self.pro_rata_on() {
            // Settled, so that the unit reads base units.
            self.settle_row(id)?;
        }
        if self.gates() && self.try_backstop(id, sink)? {
            // Taken over whole: it owes and holds nothing now.
            self.round_liquidations = self.round_liquidations.saturating_add(1);
            if ranked {
                self.note_written(id).map_err(Termination::Fault)?;
            }
            return Ok(());
        }
        if self.gates() {
            match self.try_auction(id, sink)? {
                auction::Auctioned::No => {}
                auction::Auctioned::Started => return self.rewatch(id),
                auction::Auctioned::Part | auction::Auctioned::Full => {
                    self.defer();
                    return self.rewatch(id);
                }
            }
        }
        if adl {
            // A bankrupt position closed against the other side first.
            closed = match ranked {
                true => self.close_ranked(id, sink)?,
                false => self.close_bankrupt(id, sink)?,
            };
        }
        let range = self.row_range(id as usize);
        let row = self
            .balances
            .get_mut(range)
            .ok_or(Termination::Fault(ArithError::Domain))?;
        let tiers = Tiers {
            maint: &self.maint,
            liq_end: &self.liq_end,
        };
        let mut written = 0u32;
        // Under auto-deleveraging a quote loss waits for the shorts (ranked:
        // any loss, for the other side).
        let mut losses = Losses::<A>::new();
        let done = liquidate_unit::<A, N, _>(
            row,
            tiers,
            &mut self.markets,
            &mut self.insurance,
            &self.policy,
            (CONTAINMENT_BUILT && self.gated).then_some(&mut self.limits.gate),
            |r| {
                let w = match r {
                    Record::Moved(moved) => {
                        sink.emit(&Event::Moved { account: id, moved });
                        return;
                    }
                    Record::Written(w) => w,
                };
                written |= 1u32.checked_shl(w.asset as u32).unwrap_or(0);
                // (The constant first: the closure runs in a unit out of line,
                // where `adl` is not known.)
                let held = DELEVERAGING_BUILT && adl && (w.asset == 0 || ranked);
                let unheld = match held {
                    true => losses.push(w).err(),
                    false => Some(w),
                };
                if let Some(w) = unheld {
                    sink.emit(&Event::WrittenOff {
                        account: id,
                        written: w,
                    });
                }
            },
        );
        let mut settled = false;
        if closed && !matches!(done, Ok(Ok(_))) {
            self.round_liquidations = self.round_liquidations.saturating_add(1);
        }
        match done {
            Ok(Ok(done)) => {
                settled = done.settled;
                if done.waiting {
                    self.defer();
                }
                if adl {
                    if self.pro_rata_on() {
                        self.resnap_row(id)?;
                    }
                    let exposure = done.last.map(|s| s.collateral);
                    for &w in losses.iter() {
                        match ranked {
                            true => self.take_ranked(id, w, exposure, sink)?,
                            false => self.deleverage_loss(id, w, exposure, sink),
                        }
                    }
                }
                let r = &mut self.report;
                r.liquidations = r.liquidations.saturating_add(1);
                r.steps = r.steps.saturating_add(u64::from(done.steps));
                if done.bankrupt {
                    r.bankruptcies = r.bankruptcies.saturating_add(1);
                }
                self.round_liquidations = self.round_liquidations.saturating_add(1);
                // A write-off moved the index of each asset it socialized.
                while written != 0 {
                    let asset = written.trailing_zeros() as usize;
                    written &= written.wrapping_sub(1);
                    self.refresh_terms(asset)?;
                }
                sink.emit(&Event::Liquidated {
                    round: self.round,
                    account: id,
                    steps: done.steps,
                    last: done.last,
                });
            }
            Ok(Err(Idle::Waiting)) => self.defer(),
            Ok(Err(_idle)) => {}
            Err(f) => return Err(fault_termination(f)),
        }
        if ranked {
            self.note_written(id).map_err(Termination::Fault)?;
        }
        // An account that owes nothing has no health to watch.
        if settled {
            return Ok(());
        }
        self.rewatch(id)
    }

    /// Values account `id` after its liquidation: still liquidatable, it
    /// waits in the drift's bucket, which the next round takes whatever
    /// moves; else it is watched or let be.
    fn rewatch(&mut self, id: u32) -> Result<(), Termination> {
        match self.value(id)? {
            Valued::Liquidatable(_) => {
                match self.lists.push(watch::slot_of(self.watch.cursor), id) {
                    true => Ok(()),
                    false => Err(Termination::Fault(ArithError::Domain)),
                }
            }
            other => self.place(id, other),
        }
    }

    #[inline(never)]
    fn end_round(&mut self, sink: &mut impl EventSink) -> Result<(), Termination> {
        // Keepers take from the auctions before the venues recover.
        if CONTAINMENT_BUILT && self.auctions_running() {
            self.run_auctions(sink)?;
        }
        let (mut stationary, mut at_rest) = (true, true);
        for asset in 0..self.markets.len() {
            let Some(venue) = self
                .markets
                .get_mut(asset)
                .and_then(|m| m.state.venue.as_mut())
            else {
                continue;
            };
            let a = u8::try_from(asset).unwrap_or(u8::MAX);
            let (fill, moved) = venue
                .recover_or_rest()
                .map_err(|e| venue_termination(a, e))?;
            at_rest &= !moved;
            let price = venue.price().map_err(Termination::Fault)?;
            if fill != Fill::default() {
                self.book_fill(asset, Book::Arbitrage, fill);
            }
            // The next `lag + twap` rounds' oracles read the entries before
            // this.
            let twap = usize::from(self.containment.oracle.twap_rounds.max(1));
            let span = self.lag.saturating_add(twap);
            let settled = self.history.get(asset).is_some_and(|h| {
                (0..span).all(|k| h.get(ring_back(self.head, k)) == Some(&price.mantissa()))
            });
            let oracle = self.markets.get(asset).map(|m| m.oracle);
            stationary &= settled && oracle == Some(price);
        }
        sink.emit(&Event::RoundEnded {
            round: self.round,
            liquidations: self.round_liquidations,
        });
        let shocks_left = self.next_shock < self.shocks.len();
        // A halt still to run, or accounts that waited, act later.
        let waiting =
            self.limits.round_deferred > 0 || self.halt_pending() || self.auctions_running();
        let quiet = self.round_liquidations == 0 && stationary && !waiting;
        if quiet && !shocks_left {
            return Err(Termination::FixedPoint);
        }
        if quiet && at_rest && self.skips_empty_rounds() {
            self.skip_empty_rounds();
        }
        if self.round >= self.max_rounds {
            return Err(Termination::RoundCap);
        }
        self.phase = Phase::BeginRound;
        Ok(())
    }

    /// Whether quiet rounds may be skipped: on (see
    /// [`Engine::set_skip_empty_rounds`]), and no state moves with the
    /// rounds (a gate's keepers, caps, breakers or staleness guard, an
    /// oracle rule other than the spot price, equilibrium settlement).
    fn skips_empty_rounds(&self) -> bool {
        // A build without containment runs none of these (its configuration
        // is refused): the constant drops the tests.
        let moving = CONTAINMENT_BUILT
            && (self.gated
                || self.containment.oracle != OracleRule::SPOT
                || self.containment.settlement == Settlement::Equilibrium);
        self.skip_empty && !moving
    }

    /// After a round that liquidated nothing, whose venues are at rest
    /// (recovery changed no state) and whose oracles read the settled
    /// prices, with nothing waiting, every round up to the next shock
    /// would do the same: the round moves to the one before the next
    /// shock's (at most the round cap). The price history stays as it is:
    /// the window every later oracle reads (the lag and the average)
    /// already holds the settled prices, and nothing else reads it when
    /// rounds are skipped (breakers are a gate). The state and digest are
    /// those of running the rounds one by one; only their `RoundStarted`
    /// and `RoundEnded` are not emitted.
    fn skip_empty_rounds(&mut self) {
        let next = self.shocks.get(self.next_shock).map(|s| s.round);
        let target = next
            .map_or(self.max_rounds, |r| r.saturating_sub(1))
            .min(self.max_rounds);
        if target > self.round {
            self.round = target;
            self.report.rounds = target;
        }
    }

    /// Whether quiet rounds before a shock are skipped (on by default):
    /// off runs them one by one, for tests that compare the two.
    pub fn set_skip_empty_rounds(&mut self, on: bool) {
        self.skip_empty = on;
    }

    /// The state digest: every number a run's result rests on, fed as
    /// integers (the same on every target).
    pub fn digest(&self) -> u64 {
        let mut d = Digest::default();
        d.bytes(b"firesale-next-engine-v1");
        d.u64(self.markets.len() as u64);
        d.u64(self.accounts as u64);
        d.u64(u64::from(self.round));
        let (tag, at) = match self.phase {
            Phase::BeginRound => (0, 0),
            Phase::ScanAll { next } => (1, u64::from(next)),
            Phase::Far { block, at } => (2, u64::from(block) ^ (u64::from(at) << 32)),
            Phase::Due { next, block, at } => {
                (3, next ^ (u64::from(block) << 20) ^ (u64::from(at) << 56))
            }
            Phase::Liquidate => (
                4,
                (self.batch.len() as u64) ^ sorting_word(self.batch.sorting()),
            ),
            Phase::EndRound => (5, 0),
            Phase::Done(_) => (6, 0),
        };
        d.u64(tag);
        d.u64(at);
        for m in &self.markets {
            d.u64(m.oracle.mantissa());
            d.u64(m.state.index.0);
            d.i64(m.state.deposit_shares.0);
            if let Some(v) = &m.state.venue {
                feed_venue(&mut d, v);
            }
            ALL_BOOKS.iter().for_each(|&b| d.i128(m.books.balance(b)));
        }
        d.i64(self.insurance.0);
        d.u64(self.report.liquidations);
        d.u64(self.report.steps);
        d.u64(self.report.bankruptcies);
        self.balances.iter().for_each(|b| d.i64(b.0));
        if self.deleveraging_on() {
            d.u64(self.report.deleveraged);
            for side in &self.sides {
                d.u64(side.debt_index.0);
                d.i128(side.debt_shares);
                d.i128(side.charged);
                d.i128(side.credited);
                d.u64(side.charge_drift);
                d.i128(side.slack);
            }
            for snap in self.snaps.iter() {
                d.i64(snap.debt_shares.0);
                d.i128(snap.paid);
            }
        }
        // Containment's state, whenever a rule of it runs: the gate, or an
        // oracle rule whose publication rounds decide later ones.
        let ruled = CONTAINMENT_BUILT && self.containment.oracle != OracleRule::SPOT;
        if self.gates() || ruled {
            let g = &self.limits.gate;
            let room = |v: Option<Value>| v.map_or(-1, |v| v.0);
            d.u64(u64::from(g.blocked));
            d.i64(room(g.notional));
            d.i64(room(g.keepers));
            d.i64(g.returns.0);
            g.per_asset.iter().for_each(|&r| d.i64(room(r)));
            self.limits
                .halted_until
                .iter()
                .for_each(|&u| d.u64(u64::from(u)));
            self.limits
                .published
                .iter()
                .for_each(|&p| d.u64(u64::from(p)));
            d.u64(self.report.deferred);
            d.u64(u64::from(self.limits.round_deferred));
            d.u64(self.report.backstopped);
            d.i64(self.report.backstop_equity);
            d.u64(self.report.auctions);
            d.u64(self.report.zero_bid_takes);
            for a in &self.auctions {
                d.u64(u64::from(a.id));
                d.u64(u64::from(a.account));
                d.u64(u64::from(a.asset));
                d.i64(a.lot.0);
                d.i64(a.owed.0);
                d.i64(a.penalty.0);
                d.u64(a.top.mantissa());
                d.u64(u64::from(a.started));
            }
        }
        d.finish()
    }
}

/// Storage checked against the configuration, split for the engine.
struct Parts<'s> {
    lists: Lists<'s>,
    slots: &'s mut [Candidate],
    spare: &'s mut [Candidate],
    balances: &'s mut [Qty],
    snaps: &'s mut [Snap],
    ranks: &'s mut [RankNode],
    accounts: usize,
}

/// Checks the configuration, whatever can be checked before the assets are
/// built, and the storage's sizes.
fn checked<'s, const A: usize>(
    config: &EngineConfig<'s>,
    storage: Storage<'s>,
) -> Result<Parts<'s>, ConfigError> {
    let n = config.assets.len();
    if n == 0 || n > A || A > ASSET_LIMIT {
        return Err(ConfigError::Assets);
    }
    for (i, asset) in config.assets.iter().enumerate() {
        asset.validate(u8::try_from(i).unwrap_or(u8::MAX))?;
    }
    config::validate_policy(&config.policy)?;
    config::validate_shocks(config.shocks, n)?;
    config
        .containment
        .validate(n, usize::from(config.oracle_lag_rounds))?;
    if config.max_rounds == 0
        || usize::from(config.oracle_lag_rounds) > MAX_ORACLE_LAG
        || config.insurance_fund.is_negative()
    {
        return Err(ConfigError::Engine);
    }
    let accounts = storage.balances.len().checked_div(n).unwrap_or(0);
    let sized = accounts.checked_mul(n) == Some(storage.balances.len())
        && u32::try_from(accounts).is_ok_and(|a| a < NIL)
        && storage.queue.len() >= Storage::queue_slots(accounts)
        && (config.deleveraging != Some(Deleveraging::ProRata)
            || storage.snaps.len() == Storage::snap_slots(accounts, n))
        && (config.deleveraging != Some(Deleveraging::Ranked)
            || storage.ranks.len() == Storage::rank_slots(accounts));
    let equilibrium = config.containment.settlement == Settlement::Equilibrium;
    if equilibrium && (config.max_accounts_per_round != 0 || config.deleveraging.is_some()) {
        return Err(ConfigError::Settlement);
    }
    if config.deleveraging.is_some() && !DELEVERAGING_BUILT {
        return Err(ConfigError::Deleveraging);
    }
    let lists = Lists::new(storage.links, accounts).filter(|_| sized);
    let lists = lists.ok_or(ConfigError::Storage)?;
    let (slots, spare) = storage
        .queue
        .split_at_mut_checked(accounts)
        .ok_or(ConfigError::Storage)?;
    Ok(Parts {
        lists,
        slots,
        spare,
        balances: storage.balances,
        snaps: storage.snaps,
        ranks: storage.ranks,
        accounts,
    })
}

/// The price history's slot `back` rounds before slot `head`
/// (`back < HISTORY`).
fn ring_back(head: usize, back: usize) -> usize {
    head.saturating_add(HISTORY).saturating_sub(back) % HISTORY
}

/// What the engine reads of an asset's configuration once it is built.
#[derive(Clone, Copy, Debug)]
struct Risk {
    asset_weights: Weights,
    liability_weights: Weights,
    liquidation_bonus: crate::num::Ratio,
}

/// Asset `asset`'s terms in the two tiers at `price` and `index`.
fn tiers(c: &Risk, price: Price, index: Index) -> Result<(Terms, Terms), ArithError> {
    let (a, l) = (c.asset_weights, c.liability_weights);
    Ok((
        Terms::new(price, index, a.maint, l.maint)?,
        Terms::new(price, index, a.liq_end, l.liq_end)?,
    ))
}

/// `num / den` in Q32.32, rounded up, saturating (a factor that fell to
/// nothing is an unbounded move): [`watch::ratio_bound`], an upper bound.
fn ratio_up(num: u128, den: u128) -> u64 {
    watch::ratio_bound(num, den, true)
}

/// A sort's place as one word, for the digest.
fn sorting_word(s: Sorting) -> u64 {
    let (tag, pass, at) = match s {
        Sorting::Count { pass, at } => (1u64, pass, at),
        Sorting::Scatter { pass, at } => (2, pass, at),
        Sorting::CopyBack { at } => (3, 0, at),
        Sorting::Sorted => (0, 0, 0),
    };
    (tag << 62) | (u64::from(pass) << 48) | (at as u64) << 20
}

/// How a unit's fault ends the run.
fn fault_termination(f: Fault) -> Termination {
    match f {
        Fault::VenueExhausted { asset } => Termination::MarketBroken {
            asset: u8::try_from(asset).unwrap_or(u8::MAX),
        },
        Fault::Arith(e) => Termination::Fault(e),
    }
}

fn venue_termination(asset: u8, e: VenueError) -> Termination {
    match e {
        VenueError::Exhausted => Termination::MarketBroken { asset },
        VenueError::Arith(e) => Termination::Fault(e),
        VenueError::Invalid(_) => Termination::Fault(ArithError::Domain),
    }
}

fn feed_venue<const N: usize>(d: &mut Digest, v: &Venue<N>) {
    d.i64(v.base_in.0);
    d.i64(v.quote_out.0);
    match &v.mechanism {
        Mechanism::Quote => {}
        Mechanism::Curve(c) => {
            d.u64(c.reference_mantissa);
            d.i64(c.outstanding.0);
        }
        Mechanism::Pool(p) => {
            d.i64(p.pool.base.0);
            d.i64(p.pool.quote.0);
            d.u64(p.reference_mantissa);
        }
        Mechanism::Book(b) => {
            d.u64(b.reference_mantissa);
            b.bids.iter().chain(b.asks.iter()).for_each(|q| d.i64(q.0));
        }
    }
}

#[cfg(test)]
mod auction_tests;
#[cfg(test)]
mod deleverage_tests;
#[cfg(test)]
mod equilibrium_tests;
#[cfg(test)]
mod ranked_tests;
#[cfg(test)]
mod tests;

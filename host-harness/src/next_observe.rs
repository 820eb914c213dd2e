//! A scenario run by the next engine (issue 21) and watched unit by unit:
//! its report ([`RunReport`]) and per-round timeline, built from the
//! engine's events and from its state between units (prices, books, the
//! fund), with the audit after every unit when asked.
//!
//! Values are at the oracle of the moment, as the engine's units read it:
//! a unit never changes an oracle, so the oracle read after a unit is the
//! one its events were valued at.

use crate::audit::AuditFailure;
use crate::next_bridge::{asset_units, price_units, quote_units, Drive, NextRun};
use crate::observe::{AssetRound, RoundRow};
use crate::run_report::{AssetOutcome, Ended, RunReport};
use firesale_next::engine::{Engine, Event, EventSink, StepOutcome, Termination};
use firesale_next::ledger::Book;
use firesale_next::liquidate::Written;
use firesale_next::num::ArithError;

/// A watched next run.
#[derive(Clone, Debug)]
pub struct NextObserved {
    /// The report.
    pub report: RunReport,
    /// One row per round.
    pub timeline: Vec<RoundRow>,
    /// The final state digest.
    pub digest: u64,
}

/// Runs `run` to its end, a unit at a time, auditing after every unit when
/// `audit` is set, keeping the per-round timeline when `timeline` is, and
/// hands each event to `sink` as it goes.
pub fn observe_next(
    run: &mut NextRun,
    (audit, timeline): (bool, bool),
    sink: &mut dyn FnMut(&Event),
) -> Result<Result<NextObserved, AuditFailure>, crate::next_bridge::BridgeError> {
    run.drive(Watch {
        audit,
        timeline,
        sink,
    })
}

struct Watch<'s> {
    audit: bool,
    timeline: bool,
    sink: &'s mut dyn FnMut(&Event),
}

/// One step's events.
#[derive(Default)]
struct Pending(Vec<Event>);

impl EventSink for Pending {
    fn emit(&mut self, event: &Event) {
        self.0.push(*event);
    }
}

impl Drive for Watch<'_> {
    type Output = Result<NextObserved, AuditFailure>;

    fn drive<const A: usize, const N: usize>(self, e: &mut Engine<'_, A, N>) -> Self::Output {
        let mut book = Bookkeeper::new(e, self.timeline);
        let check = |e: &Engine<'_, A, N>| match self.audit {
            true => e.audit().map_err(|error| AuditFailure {
                round: e.round(),
                error,
            }),
            false => Ok(()),
        };
        check(e)?;
        let mut pending = Pending::default();
        let end = loop {
            let outcome = e.step(1, &mut pending);
            // A unit that moves a price or a book emits an event; one that
            // values an account does not.
            if !pending.0.is_empty() {
                check(e)?;
                book.track_prices(e);
            }
            for event in pending.0.drain(..) {
                book.record(e, &event);
                (self.sink)(&event);
            }
            if let StepOutcome::Done(t) = outcome {
                break t;
            }
        };
        check(e)?;
        Ok(book.finish(e, end))
    }
}

/// The report and timeline as the events come.
struct Bookkeeper {
    report: RunReport,
    timeline: Vec<RoundRow>,
    /// Whether to keep the timeline (a sweep point or a path does not).
    keep_timeline: bool,
    /// Whether each account was liquidated, and how many were.
    liquidated: (Vec<bool>, u32),
    /// The backstop vault's holdings per asset when last read.
    vault: Vec<i128>,
}

impl Bookkeeper {
    fn new<const A: usize, const N: usize>(e: &Engine<'_, A, N>, timeline: bool) -> Self {
        let assets = (0..e.asset_count())
            .map(|a| {
                let p = venue_price(e, a);
                AssetOutcome {
                    initial_price: p,
                    final_price: p,
                    min_price: p,
                    max_price: p,
                    deposit_index: 1.0,
                    ..AssetOutcome::default()
                }
            })
            .collect();
        Self {
            report: RunReport {
                assets,
                ..RunReport::default()
            },
            timeline: Vec::new(),
            keep_timeline: timeline,
            liquidated: (vec![false; e.account_count()], 0),
            vault: vec![0; e.asset_count()],
        }
    }

    fn record<const A: usize, const N: usize>(&mut self, e: &Engine<'_, A, N>, event: &Event) {
        let r = &mut self.report;
        let row = self.timeline.last_mut();
        match *event {
            Event::RoundStarted { round } if self.keep_timeline => {
                let assets = (0..e.asset_count())
                    .map(|a| AssetRound {
                        open: venue_price(e, a),
                        oracle: oracle_price(e, a),
                        ..AssetRound::default()
                    })
                    .collect();
                self.timeline.push(RoundRow {
                    round,
                    assets,
                    ..RoundRow::default()
                });
            }
            Event::Moved { account, moved } => {
                mark(&mut self.liquidated, account);
                let (sold, bought) = (
                    asset_units(moved.asset, moved.seized.0.into()),
                    asset_units(moved.asset, moved.repaid.0.into()),
                );
                let (traded, fee) = (
                    quote_units(moved.traded.0.into()),
                    quote_units(moved.fee.0.into()),
                );
                r.fees += fee;
                r.keeper_pnl += match moved.seized.is_positive() {
                    true => traded - fee,
                    false => -traded,
                };
                // The quote is not traded: repaying it is a transfer.
                if moved.asset != 0 {
                    if let Some(a) = r.assets.get_mut(moved.asset) {
                        a.sold += sold;
                        a.bought += bought;
                    }
                    if let Some(cell) = row.and_then(|row| row.assets.get_mut(moved.asset)) {
                        cell.sold += sold;
                        cell.bought += bought;
                        cell.volume_quote += traded;
                    }
                }
            }
            Event::Liquidated { steps, .. } => {
                r.liquidations += u64::from(steps);
                if let Some(row) = row {
                    row.liquidations += steps;
                }
            }
            Event::WrittenOff { written, .. } => {
                r.bankruptcies += 1;
                self.write_off(e, &written);
                if let Some(row) = self.timeline.last_mut() {
                    row.bankruptcies += 1;
                }
            }
            Event::BackstopTakeover {
                account, equity, ..
            } => {
                mark(&mut self.liquidated, account);
                let equity = quote_units(equity.0.into());
                r.backstopped += 1;
                r.backstop_equity += equity;
                r.backstop_negative_equity += equity.min(0.0);
                if let Some(row) = row {
                    row.backstopped += 1;
                }
                self.take_over(e);
            }
            Event::Deleveraged { asset, size, .. } => {
                let a = usize::from(asset);
                r.deleveraged += asset_units(a, size.0.into()) * oracle_price(e, a);
            }
            Event::AuctionStarted {
                account, incentive, ..
            } => {
                // Starting an auction is the liquidation's one step.
                mark(&mut self.liquidated, account);
                r.keeper_pnl += quote_units(incentive.0.into());
                r.liquidations += 1;
                if let Some(row) = row {
                    row.liquidations += 1;
                }
            }
            Event::AuctionTaken {
                asset,
                qty,
                paid,
                penalty,
                proceeds,
                venue_price,
                ..
            } => {
                let asset = usize::from(asset);
                // The take's low, before the round's end lets the venue
                // recover.
                if let Some(a) = r.assets.get_mut(asset) {
                    let p = price_units(asset, venue_price);
                    a.min_price = a.min_price.min(p);
                    a.max_price = a.max_price.max(p);
                }
                let sold = asset_units(asset, qty.0.into());
                r.fees += quote_units(penalty.0.into());
                r.keeper_pnl += quote_units(i128::from(proceeds.0) - i128::from(paid.0));
                if let Some(a) = r.assets.get_mut(asset) {
                    a.sold += sold;
                }
                if let Some(cell) = row.and_then(|row| row.assets.get_mut(asset)) {
                    cell.sold += sold;
                    cell.volume_quote += quote_units(paid.0.into());
                }
            }
            Event::AuctionEnded {
                shortfall, covered, ..
            } => {
                // Debt not raised is the quote's bad debt.
                let (shortfall, covered) = (shortfall.0.max(0), covered.0);
                let (lost, paid) = (quote_units(shortfall.into()), quote_units(covered.into()));
                r.bad_debt += lost;
                r.insurance_used += paid;
                r.unrecovered += lost - paid;
                if let Some(q) = r.assets.first_mut() {
                    q.written_off += lost;
                    q.covered += paid;
                    q.unrecovered += lost - paid;
                }
            }
            Event::RoundEnded { .. } | Event::Finished(_) => self.close_round(e),
            Event::RoundStarted { .. }
            | Event::Cleared { .. }
            | Event::AuctionReset { .. }
            | Event::BreakerTripped { .. } => {}
        }
    }

    /// Books a debt's way down the waterfall, valued at its oracle.
    fn write_off<const A: usize, const N: usize>(&mut self, e: &Engine<'_, A, N>, w: &Written) {
        let asset = w.asset;
        let price = oracle_price(e, asset);
        let units = |q: firesale_next::num::Qty| asset_units(asset, q.0.into());
        let r = &mut self.report;
        r.bad_debt += units(w.written_off) * price;
        r.insurance_used += quote_units(w.insurance_paid.0.into());
        r.socialized += units(w.socialized) * price;
        r.deleveraged += units(w.deleveraged) * price;
        r.unrecovered += units(w.unrecovered) * price;
        if let Some(a) = r.assets.get_mut(asset) {
            a.written_off += units(w.written_off);
            a.covered += units(w.covered);
            a.socialized += units(w.socialized);
            a.deleveraged += units(w.deleveraged);
            a.unrecovered += units(w.unrecovered);
        }
    }

    /// Books what the backstop vault just took over: the change of its
    /// holdings, deposits and debts valued at the oracle.
    fn take_over<const A: usize, const N: usize>(&mut self, e: &Engine<'_, A, N>) {
        for (asset, (m, last)) in e.markets().iter().zip(self.vault.iter_mut()).enumerate() {
            let now = m.books.balance(Book::Backstop);
            let value = asset_units(asset, now - *last) * oracle_price(e, asset);
            match value >= 0.0 {
                true => self.report.backstop_assets += value,
                false => self.report.backstop_liabilities -= value,
            }
            *last = now;
        }
    }

    fn close_round<const A: usize, const N: usize>(&mut self, e: &Engine<'_, A, N>) {
        let r = &self.report;
        if let Some(row) = self.timeline.last_mut() {
            for (a, cell) in row.assets.iter_mut().enumerate() {
                cell.close = venue_price(e, a);
            }
            row.bad_debt = r.bad_debt;
            row.socialized = r.socialized;
            row.backstop_equity = r.backstop_equity;
            row.insurance_fund = quote_units(e.insurance_fund().0.into());
        }
    }

    /// Widens each asset's price range by its venue price now.
    fn track_prices<const A: usize, const N: usize>(&mut self, e: &Engine<'_, A, N>) {
        for (a, outcome) in self.report.assets.iter_mut().enumerate() {
            let p = venue_price(e, a);
            outcome.min_price = outcome.min_price.min(p);
            outcome.max_price = outcome.max_price.max(p);
        }
    }

    fn finish<const A: usize, const N: usize>(
        mut self,
        e: &Engine<'_, A, N>,
        end: Termination,
    ) -> NextObserved {
        let counts = e.report();
        let r = &mut self.report;
        r.rounds = counts.rounds;
        r.deferred = counts.deferred;
        r.auctions = u32::try_from(counts.auctions).unwrap_or(u32::MAX);
        r.zero_bid_takes = u32::try_from(counts.zero_bid_takes).unwrap_or(u32::MAX);
        r.accounts_liquidated = self.liquidated.1;
        r.insurance_fund = quote_units(e.insurance_fund().0.into());
        let holdings: f64 = (0..e.asset_count())
            .map(|a| {
                let held = e.markets()[a].books.balance(Book::Backstop);
                asset_units(a, held) * oracle_price(e, a)
            })
            .sum();
        r.backstop_pnl = holdings - r.backstop_equity;
        for (a, outcome) in r.assets.iter_mut().enumerate() {
            outcome.final_price = venue_price(e, a);
            outcome.deposit_index =
                e.markets()[a].state.index.0 as f64 / firesale_next::num::INDEX_SCALE as f64;
        }
        r.ended = Some(ended(end));
        NextObserved {
            report: self.report,
            timeline: self.timeline,
            digest: e.digest(),
        }
    }
}

/// Marks `account` liquidated, counting it the first time.
fn mark((seen, count): &mut (Vec<bool>, u32), account: u32) {
    if let Some(s) = seen.get_mut(account as usize).filter(|s| !**s) {
        *s = true;
        *count += 1;
    }
}

/// A next engine's ending in the harness's terms.
pub fn ended(t: Termination) -> Ended {
    match t {
        Termination::FixedPoint => Ended::FixedPoint,
        Termination::RoundCap => Ended::RoundCap,
        Termination::MarketBroken { asset } => Ended::MarketBroken { asset },
        Termination::Fault(ArithError::Overflow) => Ended::Failed(
            "an amount's exact value did not fit its 64 bits: the scenario's amounts are too large for the engine's base units".into(),
        ),
        Termination::Fault(ArithError::Domain) => Ended::Failed(
            "a division by zero or a parameter outside its domain in the engine".into(),
        ),
    }
}

/// Asset `a`'s venue price (the quote's: 1), in quote a whole unit.
fn venue_price<const A: usize, const N: usize>(e: &Engine<'_, A, N>, a: usize) -> f64 {
    match e.markets().get(a).and_then(|m| m.state.venue.as_ref()) {
        Some(v) => v.price().map_or(f64::NAN, |p| price_units(a, p)),
        None => 1.0,
    }
}

/// Asset `a`'s oracle price, in quote a whole unit.
fn oracle_price<const A: usize, const N: usize>(e: &Engine<'_, A, N>, a: usize) -> f64 {
    e.markets()
        .get(a)
        .map_or(f64::NAN, |m| price_units(a, m.oracle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::run_scenario;
    use crate::run_report::from_kernel;
    use crate::Scenario;
    use firesale_core::{Event as KernelEvent, EventSink as KernelSink};

    /// The kernel's per-round figures its events give: pair steps (an
    /// auction's start counts as one), bankruptcies, and each asset's sales
    /// and quote traded; one row per round started.
    struct KernelRounds(Vec<RoundRow>, usize);

    impl KernelSink for KernelRounds {
        fn emit(&mut self, e: &KernelEvent) {
            if let KernelEvent::RoundStarted { round } = *e {
                self.0.push(RoundRow {
                    round,
                    assets: vec![AssetRound::default(); self.1],
                    ..RoundRow::default()
                });
            }
            let Some(row) = self.0.last_mut() else {
                return;
            };
            let mut trade = |asset: u8, sold: f64, quote: f64| {
                if let Some(cell) = row
                    .assets
                    .get_mut(usize::from(asset))
                    .filter(|_| asset != 0)
                {
                    cell.sold += sold;
                    cell.volume_quote += quote;
                }
            };
            match *e {
                KernelEvent::Liquidation {
                    liability,
                    collateral,
                    seized,
                    proceeds,
                    cost,
                    ..
                } => {
                    trade(collateral, seized.to_f64(), proceeds.to_f64());
                    trade(liability, 0.0, cost.to_f64());
                    row.liquidations += 1;
                }
                KernelEvent::AuctionTaken {
                    asset, qty, paid, ..
                } => trade(asset, qty.to_f64(), paid.to_f64()),
                KernelEvent::AuctionStarted { .. } => row.liquidations += 1,
                KernelEvent::Bankruptcy { .. } => row.bankruptcies += 1,
                _ => {}
            }
        }
    }

    /// `s` run by the kernel: its report in the harness's units and its
    /// rounds.
    fn kernel_run(s: &Scenario) -> (RunReport, Vec<RoundRow>) {
        let mut rounds = KernelRounds(Vec::new(), s.assets.len());
        let outcome = run_scenario(s, &mut rounds).unwrap();
        let mut report = outcome.report;
        report.termination = Some(outcome.termination);
        (from_kernel(&report, &s.asset_names), rounds.0)
    }

    /// Relative closeness: the engines hold amounts in different units, so
    /// their figures part by roundings.
    fn close(a: f64, b: f64, what: &str) {
        let tolerance = 1e-4 * a.abs().max(b.abs()).max(1.0);
        assert!((a - b).abs() <= tolerance, "{what}: next {a}, kernel {b}");
    }

    /// Each bundled scenario the bridge carries, watched on both engines
    /// (the next one audited after every unit): the next engine's report
    /// and timeline, built from its events, say what the kernel's say.
    /// Only the count of quiet rounds after the last liquidation parts
    /// (on order books by many): each engine's venues come to rest at its
    /// own resolution.
    #[test]
    fn the_next_engines_report_says_what_the_kernels_says() {
        let (mut compared, mut bankrupt, mut zero_bids, mut taken_over) = (0, 0, 0, 0);
        // Not `million` (10^6 accounts audited after every unit is minutes),
        // nor the perp-crash replay at full size, where the engines part by
        // an insurance rounding (0.012 USDC) and so close different
        // positions later: the bridge's tests compare it at 1,375 accounts.
        let bundled = crate::bundled::ALL
            .iter()
            .filter(|b| !matches!(b.name, "million" | "perp-crash-2025"))
            .map(|b| (b.name.to_string(), b.scenario().unwrap()));
        let default = crate::markets::default_lending();
        let presets = crate::presets::all()
            .into_iter()
            .map(|p| (format!("default under {}", p.name), p.apply(&default)));
        for (name, s) in bundled.chain(presets) {
            let mut run = NextRun::from_scenario(&s).unwrap();
            let next = observe_next(&mut run, (true, true), &mut |_| {})
                .unwrap()
                .unwrap();
            let (k, kernel_rounds) = kernel_run(&s);
            let n = &next.report;
            let name = name.as_str();
            let last = |t: &[RoundRow]| t.iter().rposition(|r| r.liquidations > 0);
            assert_eq!(last(&next.timeline), last(&kernel_rounds), "{name}");
            assert_eq!(n.ended, k.ended, "{name}");
            assert_eq!(n.liquidations, k.liquidations, "{name}");
            assert_eq!(n.accounts_liquidated, k.accounts_liquidated, "{name}");
            assert_eq!(n.bankruptcies, k.bankruptcies, "{name}");
            assert_eq!(n.deferred, k.deferred, "{name}");
            assert_eq!(n.auctions, k.auctions, "{name}");
            assert_eq!(n.zero_bid_takes, k.zero_bid_takes, "{name}");
            assert_eq!(n.backstopped, k.backstopped, "{name}");
            close(n.backstop_equity, k.backstop_equity, name);
            close(n.backstop_assets, k.backstop_assets, name);
            close(n.backstop_liabilities, k.backstop_liabilities, name);
            close(n.backstop_pnl, k.backstop_pnl, name);
            close(n.deleveraged, k.deleveraged, name);
            close(n.bad_debt, k.bad_debt, name);
            close(n.insurance_used, k.insurance_used, name);
            close(n.socialized, k.socialized, name);
            close(n.unrecovered, k.unrecovered, name);
            close(n.fees, k.fees, name);
            close(n.keeper_pnl, k.keeper_pnl, name);
            close(n.insurance_fund, k.insurance_fund, name);
            for (a, (x, y)) in n.assets.iter().zip(&k.assets).enumerate() {
                let what = format!("{name} asset {a}");
                close(x.min_price, y.min_price, &what);
                close(x.max_price, y.max_price, &what);
                close(x.final_price, y.final_price, &what);
                close(x.sold, y.sold, &what);
                close(x.bought, y.bought, &what);
                close(x.written_off, y.written_off, &what);
                close(x.deposit_index, y.deposit_index, &what);
            }
            for (x, y) in next.timeline.iter().zip(&kernel_rounds) {
                let what = format!("{name} round {}", x.round);
                assert_eq!(x.round, y.round, "{what}");
                assert_eq!(x.liquidations, y.liquidations, "{what}");
                assert_eq!(x.bankruptcies, y.bankruptcies, "{what}");
                for (p, q) in x.assets.iter().zip(&y.assets) {
                    close(p.sold, q.sold, &what);
                    close(p.volume_quote, q.volume_quote, &what);
                }
            }
            compared += 1;
            bankrupt += usize::from(n.bad_debt > 0.0);
            zero_bids += n.zero_bid_takes;
            taken_over += n.backstopped;
        }
        assert!(
            compared >= 13 && bankrupt >= 3 && zero_bids > 0 && taken_over > 0,
            "{compared} compared, {bankrupt} with bad debt, {zero_bids} zero bids, \
             {taken_over} taken over"
        );
    }
}

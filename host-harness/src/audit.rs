//! `--audit`: the kernel's conservation audit (`Engine::audit`) after every
//! unit of work that moved anything, so that a user can check the engine's
//! books on their own scenarios (docs/report.md, "`--audit`").
//!
//! A run is stepped one unit at a time; after each unit that emitted an
//! event (every unit that can move a balance or a book does: a round's
//! start and end, a liquidation, a takeover, an auction) and once more at
//! the end, every book of every asset is checked. Units that only evaluate
//! health write no book. An audit costs a pass over the accounts.

use firesale_core::engine::AuditError;
use firesale_core::ledger::Book;
use firesale_core::{Engine, Event, EventSink, StepOutcome, Termination};

/// A book that did not balance, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditFailure {
    /// The round in which the unit ran (0: before round 1).
    pub round: u32,
    /// What the kernel's audit found.
    pub error: AuditError,
}

impl AuditFailure {
    /// [`AuditFailure::message`] with the scenario's asset names, as a
    /// user is told it: the audit guards the kernel, so a failure is a bug.
    pub fn report(&self, scenario: &crate::scenario::Scenario) -> String {
        format!(
            "{} (a kernel bug: please report it with the scenario)",
            self.message(|a| scenario.asset_name(a).to_string())
        )
    }

    /// The message, naming the round, the asset, the book and by how much
    /// (`asset_name` gives an asset's name):
    ///
    /// `audit failed in round 3: asset ETH (1), book Venue: booked 10, found 9.5 (off by -0.5)`
    pub fn message(&self, asset_name: impl Fn(usize) -> String) -> String {
        let when = match self.round {
            0 => "before round 1".to_string(),
            r => format!("in round {r}"),
        };
        let asset = self
            .error
            .asset()
            .map(|a| format!("asset {} ({a})", asset_name(usize::from(a))));
        let book = match self.error.book() {
            Some(b) => format!("book {}", book_name(b)),
            None => match self.error {
                AuditError::BooksUnbalanced { .. } => "all books".to_string(),
                AuditError::ReportBehind { .. } => "the report's deposit index".to_string(),
                _ => String::new(),
            },
        };
        let (booked, found) = match self.error {
            AuditError::BooksUnbalanced { sum, .. } => {
                let what = format!("the books sum to {sum}, not 0 (off by {sum})");
                return format!("audit failed {when}: {}, {book}: {what}", or_none(asset));
            }
            AuditError::AccountsMismatch { booked, held, .. }
            | AuditError::SharesMismatch { booked, held, .. }
            | AuditError::VenueMismatch { booked, held, .. }
            | AuditError::BadDebtMismatch { booked, held, .. } => (booked.0, held.0),
            AuditError::KeepersHoldInventory { held, .. } => (firesale_core::num::Fx::ZERO, held.0),
            AuditError::Insurance { booked, held } => (booked.0, held.0),
            AuditError::ReportBehind { booked, held, .. } => (booked.0, held.0),
            AuditError::Overflow => {
                return format!("audit failed {when}: the audit's own arithmetic overflowed");
            }
        };
        let off = found
            .checked_sub(booked)
            .map_or("overflow".into(), |d| d.to_string());
        let what = match self.error {
            AuditError::SharesMismatch { .. } => "deposit shares booked",
            AuditError::KeepersHoldInventory { .. } => "keepers should hold",
            _ => "booked",
        };
        format!(
            "audit failed {when}: {}, {book}: {what} {booked}, found {found} (off by {off})",
            or_none(asset)
        )
    }
}

fn or_none(asset: Option<String>) -> String {
    asset.unwrap_or_else(|| "no asset".into())
}

/// A book's name as the kernel's `Book` spells it.
pub fn book_name(book: Book) -> &'static str {
    match book {
        Book::Accounts => "Accounts",
        Book::Venue => "Venue",
        Book::Keepers => "Keepers",
        Book::Insurance => "Insurance",
        Book::BadDebt => "BadDebt",
        Book::Exogenous => "Exogenous",
        Book::Arbitrage => "Arbitrage",
        Book::Backstop => "Backstop",
        Book::Auction => "Auction",
    }
}

/// Passes events on and counts them.
struct Counting<'s> {
    inner: &'s mut dyn EventSink,
    events: u64,
}

impl EventSink for Counting<'_> {
    fn emit(&mut self, event: &Event) {
        self.events += 1;
        self.inner.emit(event);
    }
}

/// Steps `engine` one unit at a time and audits after every unit that
/// emitted an event, then at the end. `after_unit` sees the engine after
/// each unit (a timeline reads it).
pub fn step_audited<const A: usize>(
    engine: &mut Engine<'_, A>,
    sink: &mut dyn EventSink,
) -> Result<Termination, AuditFailure> {
    let check = |e: &Engine<'_, A>| {
        e.audit().map_err(|error| AuditFailure {
            round: e.round(),
            error,
        })
    };
    check(engine)?;
    loop {
        let mut counting = Counting {
            inner: &mut *sink,
            events: 0,
        };
        let outcome = engine.step(1, &mut counting);
        if counting.events > 0 {
            check(engine)?;
        }
        if let StepOutcome::Done(t) = outcome {
            check(engine)?;
            return Ok(t);
        }
    }
}

/// Why a command that runs scenarios stopped without a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Bad input, or a scenario the kernel refused (exit code 2).
    Input(String),
    /// `--audit` found a book that does not balance (exit code 3).
    Audit(String),
}

impl From<String> for Stopped {
    fn from(message: String) -> Self {
        Stopped::Input(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firesale_core::{Qty, Value};

    fn name(a: usize) -> String {
        ["USDC", "ETH"][a].to_string()
    }

    /// The message names the round, the asset, the book and by how much,
    /// as docs/report.md shows.
    #[test]
    fn the_message_names_round_asset_book_and_amount() {
        let venue = AuditFailure {
            round: 3,
            error: AuditError::VenueMismatch {
                asset: 1,
                booked: Qty::from_int(10),
                held: Qty::from_f64(9.5),
            },
        };
        assert_eq!(
            venue.message(name),
            "audit failed in round 3: asset ETH (1), book Venue: booked 10, found 9.5 (off by -0.5)"
        );
        let sum = AuditFailure {
            round: 0,
            error: AuditError::BooksUnbalanced {
                asset: 0,
                sum: Qty::from_int(2),
            },
        };
        assert_eq!(
            sum.message(name),
            "audit failed before round 1: asset USDC (0), all books: the books sum to 2, not 0 (off by 2)"
        );
        let insurance = AuditFailure {
            round: 12,
            error: AuditError::Insurance {
                booked: Value::from_int(-5),
                held: Value::from_int(-7),
            },
        };
        assert_eq!(
            insurance.message(name),
            "audit failed in round 12: asset USDC (0), book Insurance: booked -5, found -7 (off by -2)"
        );
        let keepers = AuditFailure {
            round: 4,
            error: AuditError::KeepersHoldInventory {
                asset: 1,
                held: Qty::from_int(1),
            },
        };
        assert_eq!(
            keepers.message(name),
            "audit failed in round 4: asset ETH (1), book Keepers: keepers should hold 0, found 1 (off by 1)"
        );
    }
}

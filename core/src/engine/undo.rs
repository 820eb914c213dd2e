//! What a failed unit undoes.
//!
//! A unit may write the engine's own state, its own account's row and, one
//! at a time, another account's row: an auto-deleveraging counterparty, an
//! account a loss is taken from, an auction's owner. Before it writes
//! another row it journals it; after each such group of writes, whose books
//! balance, it takes a savepoint: the group is then kept even if the unit
//! fails later. A failure restores the state and rows of the last savepoint
//! (the unit's start if it took none), so the books always balance and the
//! memory stays one state copy and two rows however many accounts a
//! deleveraging reaches.
//!
//! The copy is caller storage, a [`Checkpoint`], which every unit and
//! savepoint overwrites in place, field by field: it writes only the live
//! markets and auctions, not the whole capacity, and no state passes
//! through a unit's stack frame. A firmware keeps it beside the balances;
//! a runtime with small stack frames (on chain) keeps it wherever it keeps
//! them.

use super::liquidate::Balances;
use super::{flag_index, Engine, State, FLAG_PLANE_LIQUIDATED};
use crate::error::{Invariant, StepFault};
use crate::event::{Event, EventSink};
use crate::ledger::MAX_ASSETS;

/// One account's row as it was.
#[derive(Clone, Copy)]
struct Row<const A: usize> {
    id: u32,
    balances: Balances<A>,
    flags: u32,
}

/// Caller storage for a unit's checkpoint: the engine's own state as the
/// unit found it (or at its last savepoint), restored if the unit fails.
/// Its contents before a run do not matter.
pub struct Checkpoint<const A: usize = MAX_ASSETS> {
    pub(super) state: State<A>,
}

impl<const A: usize> Checkpoint<A> {
    /// Storage for an engine of capacity `A`.
    pub fn new() -> Self {
        Self {
            state: State::blank(),
        }
    }
}

impl<const A: usize> Default for Checkpoint<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// The rows to restore (the state is in the checkpoint).
struct Undo<const A: usize> {
    own: Option<Row<A>>,
    other: Option<Row<A>>,
}

/// The sink a unit emits through, holding what a failure restores: it
/// counts the events since the last savepoint, which a rollback reports as
/// undone.
pub(super) struct UnitSink<'a, const A: usize> {
    inner: &'a mut dyn EventSink,
    events: u32,
    undo: Undo<A>,
}

impl<const A: usize> EventSink for UnitSink<'_, A> {
    fn emit(&mut self, event: &Event) {
        self.events = self.events.saturating_add(1);
        self.inner.emit(event);
    }
}

impl<const A: usize> Engine<'_, A> {
    fn row(&self, id: u32) -> Row<A> {
        Row {
            id,
            balances: self.load(id as usize),
            flags: self.flag_word(id),
        }
    }

    fn restore_row(&mut self, row: &Row<A>) {
        let n = self.state.markets.len();
        let start = (row.id as usize).saturating_mul(n);
        if let Some(stored) = self.balances.get_mut(start..start.saturating_add(n)) {
            stored
                .iter_mut()
                .zip(row.balances)
                .for_each(|(s, b)| *s = b);
        }
        let at = flag_index(FLAG_PLANE_LIQUIDATED, row.id as usize);
        if let Some(word) = self.flags.get_mut(at) {
            *word = row.flags;
        }
    }

    /// Runs `work` as one unit on account `account` (if any). A venue that
    /// cannot fill a trade fails before anything of that trade is applied,
    /// so the state stays as it is and the run ends with the market broken.
    /// Any other failure (overflow, a broken invariant) restores the last
    /// savepoint and reports how many events were undone
    /// ([`Event::RolledBack`]).
    pub(super) fn atomically<T>(
        &mut self,
        account: Option<u32>,
        sink: &mut dyn EventSink,
        work: impl FnOnce(&mut Self, &mut UnitSink<'_, A>) -> Result<T, StepFault>,
    ) -> Result<T, (StepFault, Option<u32>)> {
        self.saved.copy_from(&self.state);
        let mut unit = UnitSink {
            inner: sink,
            events: 0,
            undo: Undo {
                own: account.map(|id| self.row(id)),
                other: None,
            },
        };
        let fault = match work(self, &mut unit) {
            Ok(done) => return Ok(done),
            Err(fault) => fault,
        };
        if let StepFault::VenueExhausted { .. } = fault {
            return Err((fault, account));
        }
        self.state.copy_from(self.saved);
        for row in [unit.undo.own, unit.undo.other].into_iter().flatten() {
            self.restore_row(&row);
        }
        if unit.events > 0 {
            unit.inner.emit(&Event::RolledBack {
                round: self.state.round,
                events: unit.events,
            });
        }
        Err((fault, account))
    }

    /// Journals account `id`'s row before the unit writes it. One other
    /// row at a time: a second one before a savepoint is a kernel bug.
    pub(super) fn journal(&mut self, sink: &mut UnitSink<'_, A>, id: u32) -> Result<(), StepFault> {
        // A row changed outside its own liquidation: the next round's scan
        // must see it (see `scan`).
        self.scan.rescan = true;
        let undo = &mut sink.undo;
        if undo.own.is_some_and(|r| r.id == id) {
            return Ok(());
        }
        match undo.other {
            Some(r) if r.id == id => Ok(()),
            Some(_) => Err(StepFault::Invariant(Invariant::UndoJournalFull)),
            None => {
                undo.other = Some(self.row(id));
                Ok(())
            }
        }
    }

    /// Keeps everything the unit did so far: a later failure restores this.
    pub(super) fn savepoint(&mut self, sink: &mut UnitSink<'_, A>) {
        self.saved.copy_from(&self.state);
        let undo = &mut sink.undo;
        if let Some(own) = undo.own {
            undo.own = Some(self.row(own.id));
        }
        undo.other = None;
        sink.events = 0;
    }
}

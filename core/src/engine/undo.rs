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
//! deleveraging reaches. The copy lives in the unit's frame, and savepoints
//! overwrite it in place: a firmware's stack holds the engine, and a
//! temporary third state would not fit.

use super::liquidate::Balances;
use super::{Engine, State};
use crate::error::{Invariant, StepFault};
use crate::event::{Event, EventSink};

/// One account's row as it was.
#[derive(Clone, Copy)]
struct Row<const A: usize> {
    id: u32,
    balances: Balances<A>,
    flags: u32,
}

/// The state and rows to restore.
struct Undo<const A: usize> {
    state: State<A>,
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
        if let Some(word) = self.flags.get_mut((row.id / 32) as usize) {
            *word = row.flags;
        }
    }

    /// Runs `work` as one unit on account `account` (if any). A venue that
    /// cannot fill a trade fails before anything of that trade is applied,
    /// so the state stays as it is and the run ends with the market broken.
    /// Any other failure (overflow, a broken invariant) restores the last
    /// savepoint and reports how many events were undone
    /// ([`Event::RolledBack`]).
    pub(super) fn atomically(
        &mut self,
        account: Option<u32>,
        sink: &mut dyn EventSink,
        work: impl FnOnce(&mut Self, &mut UnitSink<'_, A>) -> Result<(), StepFault>,
    ) -> Result<(), (StepFault, Option<u32>)> {
        let mut unit = UnitSink {
            inner: sink,
            events: 0,
            undo: Undo {
                state: self.state.clone(),
                own: account.map(|id| self.row(id)),
                other: None,
            },
        };
        let Err(fault) = work(self, &mut unit) else {
            return Ok(());
        };
        if let StepFault::VenueExhausted { .. } = fault {
            return Err((fault, account));
        }
        self.state.copy_from(&unit.undo.state);
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
    pub(super) fn savepoint(&self, sink: &mut UnitSink<'_, A>) {
        let undo = &mut sink.undo;
        undo.state.copy_from(&self.state);
        if let Some(own) = undo.own {
            undo.own = Some(self.row(own.id));
        }
        undo.other = None;
        sink.events = 0;
    }
}

//! A sweep of the watch list: what a round does instead of popping the
//! list when its drift reaches a large part of it (`due` decides when).
//!
//! Two passes, each a run of bounded units:
//!
//! 1. `Sweep`: every entry in slot order, up to `VISITS_PER_UNIT` a unit.
//!    One the drift has not reached stays; one it has reached leaves the
//!    list (the last entry takes its place, visited next), and its account
//!    is marked in the reached plane of `Storage::flags`.
//! 2. `Reached`: the marked accounts in id order, each evaluated (queued,
//!    or appended to the list again with a trigger above the drift) and
//!    unmarked, the next one's row read ahead. A unit reads at most
//!    `WORDS_PER_UNIT` words of the plane.
//!
//! The list is then out of heap order, and stays so while rounds sweep it:
//! only a round that pops it first restores the order bottom-up (Floyd's
//! construction), one parent a unit (`Order`). On a long decline most
//! rounds sweep, and each restore would have been undone by the next sweep.
//!
//! The marks put the evaluations in id order, which is the order of the
//! rows in memory: at 10^6 accounts a sweep reaches about 172,000 accounts
//! spread over 32 MB of rows, and evaluating them in slot order read each
//! row at random (docs/performance.md). The accounts found are the same
//! in either order, and the same as the pops' and the full scan's: the
//! queue orders its candidates by a total order.

use super::scan::Found;
use super::{Engine, Phase, FLAG_PLANE_REACHED};
use crate::error::StepFault;
use crate::num::Value;

/// Entries a `Sweep` unit visits at most: a run of 1.5 KB of the list,
/// read in order, about the work of one evaluation.
pub(super) const VISITS_PER_UNIT: usize = 64;

/// Words of the reached plane a `Reached` unit reads at most before it
/// yields: 256 accounts, so that a unit stays bounded on a sparse plane.
pub(super) const WORDS_PER_UNIT: usize = 8;

impl<const A: usize> Engine<'_, A> {
    /// One unit of the first pass: the entries from heap position `next`
    /// on, up to `VISITS_PER_UNIT` of them, stay while the drift has not
    /// reached their triggers; the first it has reached leaves the list
    /// and its account is marked, which ends the unit. Past the last
    /// entry, the second pass.
    pub(super) fn sweep_unit(&mut self, next: usize) {
        let drift = Value(self.scan.drift);
        let mut watch = self.watch();
        let at = match watch.first_at_most(next, VISITS_PER_UNIT, drift) {
            Ok(at) => at,
            Err(end) => {
                self.state.phase = match end < watch.len {
                    true => Phase::Sweep { next: end },
                    false => Phase::Reached { from: 0 },
                };
                return;
            }
        };
        // The last entry takes its place: the next unit starts there.
        let Some(entry) = watch.swap_remove(at) else {
            // Not taken: `at` is below the length.
            self.state.phase = Phase::Reached { from: 0 };
            return;
        };
        self.scan.watch_len = watch.len;
        self.state.phase = Phase::Sweep { next: at };
        self.unwatched(&entry);
        self.set_flag(FLAG_PLANE_REACHED, entry.id as usize, true);
    }

    /// One unit of the second pass: evaluates the first marked account from
    /// account `from` on, if one is marked within `WORDS_PER_UNIT` words.
    /// Past the last account, the third pass.
    pub(super) fn reached_unit(&mut self, from: usize) -> Result<(), StepFault> {
        let first_word = from / 32;
        if let Some(id) = self.first_marked(from, first_word.saturating_add(WORDS_PER_UNIT)) {
            self.set_flag(FLAG_PLANE_REACHED, id, false);
            self.prefetch_account(self.next_reached(id));
            self.state.phase = Phase::Reached {
                from: id.saturating_add(1),
            };
            return self.evaluate(id, Found::Candidate);
        }
        let next = first_word.saturating_add(WORDS_PER_UNIT).saturating_mul(32);
        if next < self.accounts {
            self.state.phase = Phase::Reached { from: next };
        } else {
            // The sweep visited the appended entries too; the whole list
            // now waits for its order.
            self.scan.appended = 0;
            self.scan.unordered = true;
            self.state.phase = Phase::Liquidate;
        }
        Ok(())
    }

    /// The first account from `from` on marked in the reached plane, in the
    /// plane's words from `from`'s up to `end_word` (not included).
    fn first_marked(&self, from: usize, end_word: usize) -> Option<usize> {
        let words = from / 32..end_word;
        let mut words = words.take_while(|w| w.saturating_mul(32) < self.accounts);
        words.find_map(|word| {
            let start = word.saturating_mul(32);
            // The bits of accounts below `from` are not looked at.
            let below = from.saturating_sub(start).min(32);
            let unseen = u32::MAX.checked_shl(below as u32).unwrap_or(0);
            let bits = self.flag_word_of(FLAG_PLANE_REACHED, start) & unseen;
            (bits != 0).then(|| start.saturating_add(bits.trailing_zeros() as usize))
        })
    }

    /// The first account after `id` marked in the reached plane, within
    /// this word of the plane or the next: the next `Reached` unit's, whose
    /// row is read ahead.
    pub(super) fn next_reached(&self, id: usize) -> Option<u32> {
        let next = self.first_marked(id.saturating_add(1), (id / 32).saturating_add(2))?;
        u32::try_from(next).ok()
    }

    /// One unit of restoring the order a sweep left, before the pops:
    /// settles one parent, from the last to the root.
    pub(super) fn order_unit(&mut self, remaining: usize) {
        let mut watch = self.watch();
        self.state.phase = match remaining.checked_sub(1) {
            Some(i) => {
                watch.restore_order(i);
                Phase::Order { remaining: i }
            }
            None => {
                // Entries appended since the sweep are ordered with the rest.
                self.scan.appended = 0;
                self.scan.unordered = false;
                Phase::Watch
            }
        };
    }
}

//! The liquidation queue: the accounts found liquidatable, across rounds.
//!
//! A round's scan queues every liquidatable account that is not queued
//! already, keyed by `(this round, its health now, its id)`, and the
//! liquidation phase takes the lowest key first. With no budget in force
//! the queue empties every round, so a round liquidates its accounts
//! lowest health first, ties by id.
//!
//! When a budget ends a round early (a rate limit, the keepers' capital),
//! the accounts left keep their place: the next round's scan does not
//! evaluate them again, and the accounts it finds queue behind them. An
//! account taken from the queue is liquidated at its health now (not at
//! all if the price came back); if it is still liquidatable after its
//! step, it queues again at the next round's scan, behind those that
//! waited. Every waiting account thus gets its turn before any account gets
//! a second one, and a round's cost is its liquidations and the accounts
//! the price reached, not every account still waiting: a cascade held to
//! 1,000 liquidations a round over hundreds of rounds re-evaluates nobody
//! who waits (docs/performance.md).
//!
//! The queue is a heap when a budget can leave accounts waiting. Without
//! one it empties every round, and a round's candidates are appended as
//! they are found and sorted once, before the round liquidates (`batch`):
//! the same order, read from the end of a sorted run instead of popped.
//! A batch cut short all the same becomes a heap before its candidates
//! wait (`batch_to_heap_unit`).
//!
//! Membership is one bit per account in the queued plane of
//! `Storage::flags`, so that a full scan can skip queued accounts.

use super::batch::{self, Batch, BatchRounds};
use super::{Candidate, Candidates, Engine, FLAG_PLANE_QUEUED};
use crate::error::StepFault;
use crate::num::{ArithError, Value};

impl<const A: usize> Engine<'_, A> {
    /// The queue, over the scratch below the watch list.
    pub(super) fn candidates(&mut self) -> Candidates<'_> {
        let end = self
            .scratch
            .len()
            .saturating_sub(self.scan.watch_len)
            .min(self.scratch.len());
        Candidates {
            slots: self.scratch.get_mut(..end).unwrap_or(&mut []),
            len: self.heap_len,
        }
    }

    /// Queues account `id`, found liquidatable with `health` this round;
    /// the queue grows into the slots the watch list gave up.
    /// A round's batch is appended unordered, and sorted before the first
    /// liquidation (see `batch`).
    pub(super) fn queue(&mut self, id: u32, health: Value) -> Result<(), StepFault> {
        let round = self.state.round;
        let batch = !matches!(self.batch, Batch::Heap);
        let mut heap = self.candidates();
        let entry = Candidate::queued(round, health, id);
        let pushed = match batch {
            true => heap.push_unordered(entry),
            false => heap.push(entry),
        };
        if !pushed {
            return Err(StepFault::Arith(ArithError::Overflow));
        }
        self.heap_len = heap.len;
        // Scans queue before the round liquidates, so a batch is still
        // collecting; were it not, this sorts it again.
        if batch && !matches!(self.batch, Batch::Collecting) {
            self.batch = Batch::Collecting;
        }
        self.set_queued(id, true);
        Ok(())
    }

    /// Takes the first account of the queue: the root of the heap, or the
    /// last slot of a sorted batch.
    pub(super) fn dequeue(&mut self) -> Option<Candidate> {
        let first = match self.batch {
            Batch::Sorted => {
                let last = self.heap_len.checked_sub(1)?;
                self.heap_len = last;
                self.scratch.get(last).copied()
            }
            _ => {
                let mut heap = self.candidates();
                let first = heap.pop();
                self.heap_len = heap.len;
                first
            }
        };
        if let Some(c) = first {
            self.set_queued(c.id, false);
        }
        first
    }

    /// The account first in the queue, without taking it (`None` while a
    /// batch is not sorted yet).
    pub(super) fn next_queued(&self) -> Option<u32> {
        let at = match self.batch {
            Batch::Heap => 0,
            Batch::Sorted => self.heap_len.checked_sub(1)?,
            Batch::Collecting | Batch::Sorting | Batch::Reversing { .. } => return None,
        };
        self.scratch
            .get(at)
            .filter(|_| self.heap_len > 0)
            .map(|c| c.id)
    }

    /// How this round keeps its queue: as a batch if its queue is empty
    /// when it starts and no budget can cut it short (see `BatchRounds`),
    /// else as a heap.
    pub(super) fn batch_for_round(&self) -> Batch {
        let sorted = match self.batch_rounds {
            BatchRounds::Never => false,
            BatchRounds::Uncapped => !self.rounds_can_leave_accounts_waiting(),
            #[cfg(test)]
            BatchRounds::Always => true,
        };
        match sorted && self.heap_len == 0 {
            true => Batch::Collecting,
            false => Batch::Heap,
        }
    }

    /// Sorts the round's batch on by one unit, if it is not sorted yet;
    /// `true` if it did (the unit's work is done).
    pub(super) fn sort_batch_unit(&mut self) -> bool {
        if let Batch::Collecting = self.batch {
            if self.heap_len <= 1 {
                self.batch = Batch::Sorted;
                return false;
            }
            self.batch = Batch::Sorting;
            self.sorter.start(self.heap_len);
        }
        if self.batch != Batch::Sorting {
            return false;
        }
        let slots = self.scratch.get_mut(..self.heap_len).unwrap_or(&mut []);
        if self.sorter.unit(slots) {
            self.batch = Batch::Sorted;
        }
        true
    }

    /// One unit of turning a batch that a budget cut short into the heap
    /// its candidates wait in: the sort finishes (a budget may be spent
    /// before the first liquidation), then the sorted run is reversed.
    /// `false` once the queue is a heap (nothing was done).
    pub(super) fn batch_to_heap_unit(&mut self) -> bool {
        if self.sort_batch_unit() {
            return true;
        }
        let done = match self.batch {
            Batch::Sorted => 0,
            Batch::Reversing { done } => done,
            Batch::Heap | Batch::Collecting | Batch::Sorting => return false,
        };
        let slots = self.scratch.get_mut(..self.heap_len).unwrap_or(&mut []);
        let done = batch::reverse_unit(slots, done);
        self.batch = match done >= slots.len() / 2 {
            true => Batch::Heap,
            false => Batch::Reversing { done },
        };
        true
    }

    /// Whether a round without a budget that can leave accounts waiting
    /// sorts its candidates as one batch instead of keeping a heap (on by
    /// default). The results are the same either way; off, for tests and
    /// benchmarks of the heap.
    pub fn sort_batches(&mut self, on: bool) {
        self.batch_rounds = match on {
            true => BatchRounds::Uncapped,
            false => BatchRounds::Never,
        };
    }

    /// Whether account `id` waits in the queue.
    pub(super) fn is_queued(&self, id: usize) -> bool {
        self.flag(FLAG_PLANE_QUEUED, id)
    }

    fn set_queued(&mut self, id: u32, on: bool) {
        self.set_flag(FLAG_PLANE_QUEUED, id as usize, on);
    }

    /// The queue's entries as a set, for the digest: the sum of their
    /// fingerprints, which does not depend on the heap's layout (the full
    /// and the incremental scan queue the same accounts in other orders).
    pub(super) fn queue_fingerprint(&self) -> u64 {
        self.scratch
            .get(..self.heap_len)
            .unwrap_or(&[])
            .iter()
            .fold(0u64, |sum, c| sum.wrapping_add(c.fingerprint()))
    }
}

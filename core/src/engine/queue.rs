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
//! Membership is one bit per account in the queued plane of
//! `Storage::flags`, so that a full scan can skip queued accounts.

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
    pub(super) fn queue(&mut self, id: u32, health: Value) -> Result<(), StepFault> {
        let round = self.state.round;
        let mut heap = self.candidates();
        if !heap.push(Candidate::queued(round, health, id)) {
            return Err(StepFault::Arith(ArithError::Overflow));
        }
        self.heap_len = heap.len;
        self.set_queued(id, true);
        Ok(())
    }

    /// Takes the first account of the queue.
    pub(super) fn dequeue(&mut self) -> Option<Candidate> {
        let mut heap = self.candidates();
        let first = heap.pop();
        self.heap_len = heap.len;
        if let Some(c) = first {
            self.set_queued(c.id, false);
        }
        first
    }

    /// The account first in the queue, without taking it.
    pub(super) fn next_queued(&self) -> Option<u32> {
        self.scratch
            .first()
            .filter(|_| self.heap_len > 0)
            .map(|c| c.id)
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

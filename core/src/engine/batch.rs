//! The liquidation queue as one sorted batch, when nothing can leave an
//! account waiting.
//!
//! Without a rate limit (accounts or notional per round) a round's
//! liquidation phase takes every account its scan queued: the queue is
//! empty when each scan starts, everything in it was queued this round,
//! and it is drained in `(health, id)` order. A heap pays for that order
//! pop by pop, each descending ten levels of a 6 MB heap at 10^6 accounts.
//! A batch instead appends the candidates unordered while the round scans
//! and sorts them once, before the first liquidation, largest key first:
//! the next candidate is then always the last slot, and a pop is
//! `len − 1`. The order is the heap's exactly (the same total order), so
//! runs, events and digests do not change; a test compares the two.
//!
//! The sort is an in-place most-significant-digit radix sort (American flag
//! sort) over the 160 bits of `(health, id)`, four bits a digit, in units of
//! at most `STEPS_PER_UNIT` element steps, like every other unit of the
//! engine bounded whatever the batch. A segment is first measured: where
//! it ends (a bucket's entries are contiguous, so it ends where its
//! parent's digit changes) and the first digit its keys differ in (so a run
//! of equal leading digits, the high bits of healths of one magnitude,
//! costs one pass, not one each). It is then counted by that digit,
//! permuted into its 16 buckets in place, and each bucket sorted as a
//! segment of its own, depth first. Segments of at most `SMALL` entries
//! are sorted by insertion; a bucket that small (most are) is found and
//! sorted by its parent, without a frame of its own to measure it. The
//! stack holds one frame per digit at most: 41 frames of 16 bytes, about
//! 800 bytes of engine state in all.
//!
//! A round a rate limit can cut short keeps the heap (`BatchRounds`): its
//! waiting accounts carry across rounds, and each round's candidates join
//! them. Were such a round ever sorted as a batch and cut short, its
//! sorted remainder would be reversed into ascending order, which is a
//! heap, before it waits (`Batch::Reversing`): the batch is correct
//! whatever ends a round, and the choice of rounds is one of cost only.

use super::Candidate;

/// Element steps a sort unit takes at most: a count or a move of one
/// entry, or one bucket skipped.
const STEPS_PER_UNIT: usize = 128;
/// Segments this small are sorted by insertion, in one unit.
const SMALL: usize = 16;
/// Digits in a key: 128 bits of health and 32 of id, four bits each.
const DIGITS: u8 = 40;
/// One frame per digit, and the first.
const DEPTH: usize = DIGITS as usize + 1;
const BUCKETS: usize = 16;

/// A key as three words whose order, compared in turn, is the queue's order
/// within a round.
type Key = (u64, u64, u32);

/// Where digit `d` of a key lies: its word and the shift that brings it to
/// the bottom (digits count four bits from the most significant).
#[derive(Clone, Copy)]
struct Place {
    word: u8,
    shift: u32,
}

impl Place {
    fn of(d: u8) -> Self {
        let d = u32::from(d);
        let (word, within, bits) = match d {
            0..=15 => (0, d, 64u32),
            16..=31 => (1, d.saturating_sub(16), 64),
            _ => (2, d.saturating_sub(32), 32),
        };
        Self {
            word,
            shift: bits
                .saturating_sub(4)
                .saturating_sub(within.saturating_mul(4)),
        }
    }

    /// The digit's value in `key`.
    #[inline]
    fn digit(self, key: &Key) -> usize {
        let word = match self.word {
            0 => key.0,
            1 => key.1,
            _ => u64::from(key.2),
        };
        ((word >> self.shift) & 0xf) as usize
    }
}

/// The bucket of digit `value`: largest first, so that the least key ends
/// up in the last slot.
fn bucket(value: usize) -> usize {
    (BUCKETS - 1).saturating_sub(value)
}

/// The first digit in which keys differ from a first key, given the OR of
/// each key XOR that first key; `None` if they are all equal.
fn first_difference(x: &Key) -> Option<u8> {
    let nibbles = |zeros: u32| (zeros / 4) as u8;
    match *x {
        (0, 0, 0) => None,
        (0, 0, id) => Some(32u8.saturating_add(nibbles(id.leading_zeros()))),
        (0, low, _) => Some(16u8.saturating_add(nibbles(low.leading_zeros()))),
        (high, _, _) => Some(nibbles(high.leading_zeros())),
    }
}

/// Which rounds sort their candidates as a batch (a round whose queue is
/// not empty when it starts keeps the heap in any case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BatchRounds {
    /// None: the queue is a heap throughout (a reference, for tests).
    Never,
    /// Those no budget can cut short (the default). A round a cap can
    /// stop usually leaves most of its candidates waiting, and a heap's
    /// pushes cost less than sorting what waits anyway.
    Uncapped,
    /// All (a test of the cut-short path, which is then exercised).
    #[cfg(test)]
    Always,
}

/// How the queue keeps its order this round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Batch {
    /// A heap: a budget may leave accounts waiting into later rounds.
    Heap,
    /// This round's candidates, appended unordered as the scan finds them.
    Collecting,
    /// The candidates being sorted (by the engine's `Sorter`), before the
    /// first liquidation.
    Sorting,
    /// Sorted, largest key first: the next candidate is the last slot.
    Sorted,
    /// A budget ended the round with candidates left: their sorted run is
    /// being reversed into ascending order, a valid heap, before they wait
    /// in it; the first `done` pairs are swapped.
    Reversing { done: usize },
}

/// Reverses `slots` on from pair `done` (the first `done` slots and as many
/// last ones are swapped already) for at most `STEPS_PER_UNIT` pairs;
/// returns the pairs done, `slots.len() / 2` once it is reversed. An
/// ascending run is a heap: every parent comes before its children.
pub(super) fn reverse_unit(slots: &mut [Candidate], done: usize) -> usize {
    let half = slots.len() / 2;
    let end = done.saturating_add(STEPS_PER_UNIT).min(half);
    let last = slots.len().saturating_sub(1);
    for i in done..end {
        swap(slots, i, last.saturating_sub(i));
    }
    end
}

/// A segment `[lo, hi)` of the batch, being sorted by digit `digit` (if it
/// is the top frame) or waiting for its buckets, from `cursor`, to be
/// sorted (a frame below the top).
#[derive(Clone, Copy, Debug)]
struct Frame {
    lo: u32,
    hi: u32,
    digit: u8,
    cursor: u32,
}

/// What the top frame is doing.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Finding, from `at`, where it ends and the first digit its keys
    /// differ in. A new bucket's frame does not know its end yet: `parent`
    /// is the digit and the value its entries share, and the segment ends
    /// at the first entry without it.
    Measure { at: u32, parent: Option<(u8, u8)> },
    /// Counting its entries by its digit, from `at`.
    Count { at: u32 },
    /// Moving entries into their buckets, bucket `bucket` now.
    Permute { bucket: u8 },
    /// Sorting its buckets one by one, as frames above it.
    Buckets,
}

/// An in-progress sort of a batch, in the engine's own state.
#[derive(Clone, Debug)]
pub(super) struct Sorter {
    frames: heapless::Vec<Frame, DEPTH>,
    stage: Stage,
    /// The count of each bucket while counting; each bucket's next free
    /// slot while permuting.
    next: [u32; BUCKETS],
    /// Each bucket's end while permuting.
    end: [u32; BUCKETS],
    /// The OR of every counted key XOR the segment's first key.
    differs: Key,
}

impl Sorter {
    /// A sorter with nothing to sort.
    pub(super) const fn new() -> Self {
        Self {
            frames: heapless::Vec::new(),
            stage: Stage::Buckets,
            next: [0; BUCKETS],
            end: [0; BUCKETS],
            differs: (0, 0, 0),
        }
    }

    /// Starts a sort of a batch of `len` entries.
    pub(super) fn start(&mut self, len: usize) {
        self.frames.clear();
        // The first frame always fits.
        let _ = self.frames.push(Frame {
            lo: 0,
            hi: u32::try_from(len).unwrap_or(u32::MAX),
            digit: 0,
            cursor: 0,
        });
        self.stage = Stage::Measure {
            at: 0,
            parent: None,
        };
        self.differs = (0, 0, 0);
    }

    /// Sorts on for at most `STEPS_PER_UNIT` element steps; `true` once
    /// `slots` (the whole batch, as at `start`) are sorted, largest first.
    #[inline(never)]
    pub(super) fn unit(&mut self, slots: &mut [Candidate]) -> bool {
        let mut steps = STEPS_PER_UNIT;
        while steps > 0 {
            let Some(top) = self.frames.last().copied() else {
                return true;
            };
            let spent = match self.stage {
                Stage::Measure { at, parent } => self.measure(slots, top, at, parent, steps),
                Stage::Count { at } => self.count(slots, top, at, steps),
                Stage::Permute { bucket } => self.permute(slots, top, bucket, steps),
                Stage::Buckets => self.next_bucket(slots, top),
            };
            steps = steps.saturating_sub(spent.max(1));
        }
        self.frames.is_empty()
    }

    fn key(slots: &[Candidate], i: u32) -> Key {
        slots
            .get(i as usize)
            .map_or((0, 0, 0), Candidate::order_words)
    }

    fn top_mut(&mut self) -> Option<&mut Frame> {
        self.frames.last_mut()
    }

    /// Measures the top frame's segment from `at`: where it ends (a new
    /// bucket's frame ends at the first entry without its parent's digit)
    /// and the first digit its keys differ in. Then sorts a small segment
    /// or starts counting by that digit. Returns the steps taken.
    fn measure(
        &mut self,
        slots: &mut [Candidate],
        top: Frame,
        at: u32,
        parent: Option<(u8, u8)>,
        steps: usize,
    ) -> usize {
        let first = Self::key(slots, top.lo);
        let stop = top.hi.min(at.saturating_add(steps as u32));
        let bound = parent.map(|(d, v)| (Place::of(d), usize::from(v)));
        let mut differs = self.differs;
        let mut i = at;
        let mut hi = top.hi;
        while i < stop {
            let key = Self::key(slots, i);
            if bound.is_some_and(|(place, v)| place.digit(&key) != v) {
                hi = i;
                break;
            }
            differs.0 |= key.0 ^ first.0;
            differs.1 |= key.1 ^ first.1;
            differs.2 |= key.2 ^ first.2;
            i = i.saturating_add(1);
        }
        let spent = i.saturating_sub(at) as usize;
        if i == stop && stop < hi {
            self.differs = differs;
            self.stage = Stage::Measure { at: i, parent };
            return spent;
        }
        self.differs = (0, 0, 0);
        if let Some(f) = self.top_mut() {
            f.hi = hi;
        }
        let len = hi.saturating_sub(top.lo) as usize;
        match first_difference(&differs) {
            Some(d) if len > SMALL => {
                // Every key shares the digits before `d`: count by `d`.
                if let Some(f) = self.top_mut() {
                    f.digit = d;
                }
                self.next = [0; BUCKETS];
                self.stage = Stage::Count { at: top.lo };
                spent
            }
            // Small, or all equal (cannot happen: ids differ).
            _ => {
                insertion_sort(
                    slots
                        .get_mut(top.lo as usize..hi as usize)
                        .unwrap_or(&mut []),
                );
                self.finish_frame(hi);
                spent.saturating_add(len.saturating_mul(len) / 4)
            }
        }
    }

    /// Counts the top frame's entries by its digit from `at`; once all are
    /// counted, places the buckets and starts the permutation. Returns the
    /// steps taken.
    fn count(&mut self, slots: &[Candidate], top: Frame, at: u32, steps: usize) -> usize {
        let stop = top.hi.min(at.saturating_add(steps as u32));
        let place = Place::of(top.digit);
        for i in at..stop {
            if let Some(c) = self.next.get_mut(place.digit(&Self::key(slots, i))) {
                *c = c.saturating_add(1);
            }
        }
        let spent = stop.saturating_sub(at) as usize;
        if stop < top.hi {
            self.stage = Stage::Count { at: stop };
            return spent;
        }
        // Buckets in slot order, largest digit first.
        let counts = self.next;
        let mut start = top.lo;
        for value in (0..BUCKETS).rev() {
            let b = bucket(value);
            let count = counts.get(value).copied().unwrap_or(0);
            if let (Some(n), Some(e)) = (self.next.get_mut(b), self.end.get_mut(b)) {
                *n = start;
                start = start.saturating_add(count);
                *e = start;
            }
        }
        self.stage = Stage::Permute { bucket: 0 };
        spent
    }

    /// Moves entries into their buckets (each move places one entry for
    /// good, or finds one in place); returns the steps taken.
    fn permute(
        &mut self,
        slots: &mut [Candidate],
        top: Frame,
        bucket_now: u8,
        steps: usize,
    ) -> usize {
        let mut b = usize::from(bucket_now);
        let mut spent = 0;
        let place = Place::of(top.digit);
        while spent < steps && b < BUCKETS {
            spent = spent.saturating_add(1);
            let (Some(&at), Some(&end)) = (self.next.get(b), self.end.get(b)) else {
                break;
            };
            if at >= end {
                b = b.saturating_add(1);
                continue;
            }
            let home = bucket(place.digit(&Self::key(slots, at)));
            let Some(&to) = self.next.get(home) else {
                break;
            };
            if home != b {
                swap(slots, at as usize, to as usize);
            }
            if let Some(n) = self.next.get_mut(home) {
                *n = to.saturating_add(1);
            }
        }
        self.stage = match b < BUCKETS {
            true => Stage::Permute { bucket: b as u8 },
            false => {
                if let Some(f) = self.top_mut() {
                    f.cursor = top.lo;
                }
                Stage::Buckets
            }
        };
        spent
    }

    /// Sorts the top frame's next bucket if it is small, else starts
    /// sorting it as a frame of its own; ends the frame once its buckets
    /// are sorted. Returns the steps taken.
    fn next_bucket(&mut self, slots: &mut [Candidate], top: Frame) -> usize {
        if top.cursor >= top.hi {
            self.finish_frame(top.hi);
            return 1;
        }
        let place = Place::of(top.digit);
        let value = place.digit(&Self::key(slots, top.cursor));
        // A bucket of at most `SMALL` entries (most are) is sorted here,
        // without a frame of its own to measure it.
        let within = top
            .hi
            .min(top.cursor.saturating_add(SMALL as u32).saturating_add(1));
        let mut end = top.cursor.saturating_add(1);
        while end < within && place.digit(&Self::key(slots, end)) == value {
            end = end.saturating_add(1);
        }
        let len = end.saturating_sub(top.cursor) as usize;
        if (end < within || end == top.hi) && len <= SMALL {
            let bucket = slots.get_mut(top.cursor as usize..end as usize);
            insertion_sort(bucket.unwrap_or(&mut []));
            if let Some(f) = self.top_mut() {
                f.cursor = end;
            }
            return len.saturating_add(len.saturating_mul(len) / 4);
        }
        let value = value as u8;
        let child = Frame {
            lo: top.cursor,
            hi: top.hi,
            digit: top.digit.saturating_add(1).min(DIGITS),
            cursor: top.cursor,
        };
        // Each frame sorts by a later digit than the one below it, so the
        // stack holds at most one frame per digit and the first.
        if self.frames.push(child).is_err() {
            // Unreachable; ending the frame keeps the sort finite.
            self.finish_frame(top.hi);
            return 1;
        }
        self.stage = Stage::Measure {
            at: top.cursor,
            parent: Some((top.digit, value)),
        };
        len
    }

    /// Ends the top frame, sorted up to `hi`: the frame below goes on with
    /// its next bucket from there.
    fn finish_frame(&mut self, hi: u32) {
        self.frames.pop();
        if let Some(below) = self.top_mut() {
            below.cursor = hi;
        }
        self.stage = Stage::Buckets;
    }
}

/// Swaps two slots through two borrows apart: `slice::swap` may alias its
/// slots, and pulled a 1.6 KB `memmove` into the firmware for 24 bytes.
fn swap(slots: &mut [Candidate], a: usize, b: usize) {
    let (low, high) = (a.min(b), a.max(b));
    if low == high {
        return;
    }
    let (below, above) = slots.split_at_mut(high.min(slots.len()));
    if let (Some(x), Some(y)) = (below.get_mut(low), above.first_mut()) {
        core::mem::swap(x, y);
    }
}

/// Sorts a small segment, largest key first: each entry's key is read once,
/// and the smaller entries before it shift up one slot.
fn insertion_sort(slots: &mut [Candidate]) {
    for i in 1..slots.len() {
        let Some(&entry) = slots.get(i) else {
            break;
        };
        let key = entry.order_words();
        let mut j = i;
        while let Some(&before) = j.checked_sub(1).and_then(|k| slots.get(k)) {
            if before.order_words() >= key {
                break;
            }
            if let Some(slot) = slots.get_mut(j) {
                *slot = before;
            }
            j = j.saturating_sub(1);
        }
        if let Some(slot) = slots.get_mut(j) {
            *slot = entry;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::{Fx, Value};
    extern crate std;
    use std::vec::Vec;

    /// Sorts `keys` unit by unit; checks every unit's bound and the result
    /// against a comparison sort. Returns the deepest stack.
    fn sorts_like_a_comparison_sort(batch: Vec<Candidate>) -> usize {
        let mut slots = batch.clone();
        let mut sorter = Sorter::new();
        sorter.start(slots.len());
        let (mut units, mut deepest) = (0usize, 0);
        while !sorter.unit(&mut slots) {
            units += 1;
            deepest = deepest.max(sorter.frames.len());
            assert!(units <= 64 * batch.len() + 64, "the sort does not end");
        }
        let mut expected = batch;
        expected.sort_by_key(|c| core::cmp::Reverse(c.order_words()));
        assert_eq!(slots, expected);
        deepest
    }

    /// A candidate whose 160-bit key (health bits, sign flipped, then id)
    /// is `top · 2^32 + id`.
    fn keyed(top: u128, id: u32) -> Candidate {
        candidate((top ^ (1 << 127)) as i128, id)
    }

    /// At each of the key's 40 digits, 15 keys branch off a run of keys
    /// whose digits there are zero: the run goes on down every digit, so
    /// the stack goes nearly as deep as the digits. No frame is ever
    /// refused (a refused one would leave its segment unsorted).
    #[test]
    fn a_run_down_every_nibble_fills_the_stack() {
        let mut batch = Vec::new();
        for nibble in 0..40u32 {
            let shift = 156 - 4 * nibble;
            for value in 1..16u32 {
                batch.push(match shift.checked_sub(32) {
                    Some(s) => keyed(u128::from(value) << s, 0),
                    None => keyed(0, value << shift),
                });
            }
        }
        let deepest = sorts_like_a_comparison_sort(batch);
        assert!((37..=DEPTH).contains(&deepest), "{deepest} frames");
    }

    fn candidate(bits: i128, id: u32) -> Candidate {
        Candidate::queued(3, Value(Fx::from_bits(bits)), id)
    }

    #[test]
    fn sorts_batches_of_every_shape_largest_first() {
        let mut next = crate::test_rng::xorshift(0x6a09_e667_f3bc_c908);
        for len in [0usize, 1, 2, 3, 15, 16, 17, 100, 1_000, 5_000] {
            // Random healths over the whole range, around zero, and few
            // distinct ones (ties broken by id).
            let wide = (0..len)
                .map(|i| {
                    candidate(
                        (next() as i128) << (next() % 64) ^ -(next() as i128),
                        i as u32,
                    )
                })
                .collect();
            sorts_like_a_comparison_sort(wide);
            let near = (0..len)
                .map(|i| candidate(-((next() % 4096) as i128) << 20, (len - i) as u32 * 7))
                .collect();
            sorts_like_a_comparison_sort(near);
            let few = (0..len)
                .map(|i| candidate(-((next() % 3) as i128), (next() as u32) ^ i as u32))
                .collect::<Vec<_>>();
            let mut ids: Vec<u32> = few.iter().map(|c| c.id).collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.len() == len {
                sorts_like_a_comparison_sort(few);
            }
        }
    }

    /// Keys that differ one bit at a time, deeper and deeper: the stack
    /// reaches its full depth and the sort stays correct.
    #[test]
    fn a_comb_of_keys_reaches_every_digit() {
        let mut batch = Vec::new();
        for bit in 0..128u32 {
            batch.push(candidate(1i128 << bit, 0));
            batch.push(candidate(-(1i128 << bit.min(126)), 1 + bit));
        }
        for i in 0..40u32 {
            batch.push(candidate(0, 1000 + (1 << (i % 32))));
        }
        batch.sort_by_key(|c| c.order_words());
        batch.dedup_by_key(|c| c.order_words());
        sorts_like_a_comparison_sort(batch);
    }

    /// A sorted run cut short, reversed unit by unit: ascending (so a
    /// heap), the same entries, and `STEPS_PER_UNIT` pairs a unit.
    #[test]
    fn a_sorted_run_reverses_into_ascending_order_in_bounded_units() {
        let mut next = crate::test_rng::xorshift(0x3c6e_f372_fe94_f82b);
        for len in [0usize, 1, 2, 3, 255, 256, 257, 1_001] {
            let mut slots: Vec<Candidate> = (0..len)
                .map(|i| candidate(-((next() % 5_000) as i128) << 24, i as u32))
                .collect();
            slots.sort_by_key(|c| core::cmp::Reverse(c.order_words()));
            let mut expected = slots.clone();
            expected.reverse();
            let (mut done, mut units) = (0, 0);
            loop {
                let before = done;
                done = reverse_unit(&mut slots, done);
                units += 1;
                assert!(done - before <= STEPS_PER_UNIT);
                if done >= len / 2 {
                    break;
                }
                assert!(done > before, "no progress at {done} of {len}");
            }
            assert_eq!(slots, expected, "{len} entries");
            assert!(units <= len / 2 / STEPS_PER_UNIT + 1, "{units} units");
        }
    }

    #[test]
    fn a_unit_stays_within_its_steps() {
        let mut next = crate::test_rng::xorshift(0xbb67_ae85_84ca_a73b);
        let mut slots: Vec<Candidate> = (0..20_000)
            .map(|i| candidate(-((next() % 1_000_000) as i128) << 30, i))
            .collect();
        let mut sorter = Sorter::new();
        sorter.start(slots.len());
        let mut units = 0;
        while !sorter.unit(&mut slots) {
            units += 1;
        }
        // Each unit takes at most `STEPS_PER_UNIT` steps, so 20,000 entries
        // need at least 156 units a pass; a bound on every unit shows as a
        // floor on their number.
        assert!(units >= 20_000 / STEPS_PER_UNIT, "{units} units");
        assert!(units <= 20 * 20_000 / STEPS_PER_UNIT, "{units} units");
    }
}

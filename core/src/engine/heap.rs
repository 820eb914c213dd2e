//! A 4-ary min-heap of liquidation candidates over caller-provided scratch:
//! earliest round queued first, then lowest health, ties by lower account
//! id. No allocation, no recursion; `push` and `pop` are O(log n).
//!
//! Two heaps share one scratch: this round's candidates grow up from the
//! bottom, and the watch list of the incremental scan (see `scan`) grows
//! down from the top, each over a slice that excludes the other's entries.

use crate::num::Value;

/// One slot of the scratch: an account and its key (the round it joined
/// the liquidation queue and its health then, for a candidate; its trigger,
/// on the watch list, which orders by the trigger alone). The key's
/// `I80F48` bits are kept as two 64-bit halves: an `i128` field would align
/// the slot to 32 bytes, and this one is 24 (the round, or on the watch
/// list a tag, fills what would be padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Candidate {
    /// The round queued; on the watch list, a tag the heap does not order.
    round: u32,
    key_high: i64,
    key_low: u64,
    /// The account.
    pub id: u32,
}

impl Candidate {
    /// Account `id` with key `value` (a watch-list entry).
    pub fn new(value: Value, id: u32) -> Self {
        Self::queued(0, value, id)
    }

    /// A watch-list entry carrying `tag`, which the watch list's order
    /// ignores.
    pub(crate) fn tagged(value: Value, id: u32, tag: u32) -> Self {
        Self::queued(tag, value, id)
    }

    /// Account `id`, queued in `round` with health `value`.
    pub(crate) fn queued(round: u32, value: Value, id: u32) -> Self {
        let bits = value.0.to_bits();
        Self {
            round,
            // The halves of the bits: truncation is the point.
            key_high: (bits >> 64) as i64,
            key_low: bits as u64,
            id,
        }
    }

    /// The round the account joined the queue (on the watch list, its tag).
    pub fn round(&self) -> u32 {
        self.round
    }

    /// The key: a candidate's maintenance health at the scan, or a watched
    /// account's trigger.
    pub fn value(&self) -> Value {
        let bits = (i128::from(self.key_high) << 64) | i128::from(self.key_low);
        Value(crate::num::Fx::from_bits(bits))
    }

    /// The order as a tuple, `(round, value, id)`: the value by its signed
    /// high half, then its low half. The heap compares field by field
    /// (`Heap::before`); the tests check it against this.
    #[cfg(test)]
    fn key(&self) -> (u32, i64, u64, u32) {
        (self.round, self.key_high, self.key_low, self.id)
    }

    /// The key within one round as three words whose order, compared in
    /// turn, is the queue's: the value's bits with the sign flipped (so
    /// that unsigned order is signed order), then the id.
    pub(crate) fn order_words(&self) -> (u64, u64, u32) {
        (
            // The bits reinterpreted: the sign flip makes the order.
            (self.key_high as u64) ^ (1 << 63),
            self.key_low,
            self.id,
        )
    }

    /// A fingerprint of the slot, for the digest of the queue as a set.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut d = crate::digest::Digest::default();
        d.u32(self.round);
        d.fx(self.value().0);
        d.u32(self.id);
        d.finish()
    }
}

/// Children per node: four 24-byte entries span two cache lines, and the
/// tree is half as deep as a binary one (a large watch list's pops are
/// cache misses, one per level).
const ARITY: usize = 4;

/// A min-heap occupying `slots[..len]`, or with `TOP` the last `len` slots
/// in reverse (heap position `i` at `slots[slots.len() - 1 - i]`).
pub(crate) struct Heap<'a, const TOP: bool = false> {
    pub slots: &'a mut [Candidate],
    pub len: usize,
}

/// This round's liquidation candidates, from the bottom of the scratch.
pub(crate) type Candidates<'a> = Heap<'a, false>;
/// The incremental scan's watch list, from the top of the scratch.
pub(crate) type Watch<'a> = Heap<'a, true>;

impl<const TOP: bool> Heap<'_, TOP> {
    /// The order as a tuple: the queue's key whole; the watch list's
    /// without the tag.
    #[cfg(test)]
    fn key(c: &Candidate) -> (u32, i64, u64, u32) {
        let key = c.key();
        if TOP {
            (0, key.1, key.2, key.3)
        } else {
            key
        }
    }

    /// The slot of heap position `i`.
    fn at(&self, i: usize) -> usize {
        if TOP {
            self.slots.len().wrapping_sub(1).wrapping_sub(i)
        } else {
            i
        }
    }

    fn get(&self, i: usize) -> Option<Candidate> {
        self.slots.get(self.at(i)).copied()
    }

    /// Writes heap position `i`; positions past the scratch are ignored
    /// (they cannot occur: every caller passes positions below `len`).
    fn set(&mut self, i: usize, c: Candidate) {
        let at = self.at(i);
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = c;
        }
    }

    /// The lowest entry, without removing it.
    pub fn peek(&self) -> Option<Candidate> {
        if self.len == 0 {
            return None;
        }
        self.get(0)
    }

    /// Adds a candidate; `false` when the scratch is full (cannot happen when
    /// the scratch holds one slot per account, as validated).
    pub fn push(&mut self, c: Candidate) -> bool {
        if self.len >= self.slots.len() {
            return false;
        }
        let hole = self.len;
        self.len = self.len.saturating_add(1);
        self.rise(hole, c);
        true
    }

    /// Puts `entry` at heap position `hole` or above it: a hole rises while
    /// its parent is larger, each level moving one entry instead of
    /// swapping two. Positions below `hole` must be in heap order.
    fn rise(&mut self, mut hole: usize, c: Candidate) {
        while hole > 0 {
            let parent = hole.saturating_sub(1) / ARITY;
            let Some(above) = self.get(parent) else {
                break;
            };
            if !Self::before(&c, &above) {
                break;
            }
            self.set(hole, above);
            hole = parent;
        }
        self.set(hole, c);
    }

    /// Orders the entry at heap position `i`, appended by `push_unordered`,
    /// into the positions below it, which must be in heap order: one
    /// `push`, later.
    pub fn order_appended(&mut self, i: usize) {
        if let Some(entry) = self.at_position(i) {
            self.rise(i, entry);
        }
    }

    /// Removes and returns the lowest candidate.
    pub fn pop(&mut self) -> Option<Candidate> {
        let top = self.peek()?;
        self.len = self.len.checked_sub(1)?;
        let last = self.get(self.len)?;
        if self.len > 0 {
            self.settle(0, last);
        }
        Some(top)
    }

    /// Puts `entry` at heap position `hole` or below it: a hole sinks while
    /// its least child is below the entry, which fills it where it stops.
    /// The children are compared in place, by reference: this loop is most
    /// of a pop.
    fn settle(&mut self, mut hole: usize, entry: Candidate) {
        loop {
            let first = hole.saturating_mul(ARITY).saturating_add(1);
            let end = first.saturating_add(ARITY).min(self.len);
            let Some(mut least) = self.slot(first).filter(|_| first < end) else {
                break;
            };
            let mut least_at = first;
            for child in first.saturating_add(1)..end {
                if let Some(c) = self.slot(child).filter(|c| Self::before(c, least)) {
                    (least, least_at) = (c, child);
                }
            }
            // Taken by value and compared so: a copy from slot to slot may
            // alias, and pulled a 1.6 KB `memmove` into the firmware.
            let least = *least;
            if !Self::before(&least, &entry) {
                break;
            }
            self.set(hole, least);
            hole = least_at;
        }
        self.set(hole, entry);
    }

    /// Copies the entry at heap position `from` to position `to`, between
    /// two slots borrowed apart: a copy within one slice may alias, and
    /// pulled a 1.6 KB `memmove` into the firmware for 24 bytes.
    fn copy_position(&mut self, from: usize, to: usize) {
        let (from, to) = (self.at(from), self.at(to));
        let split = from.max(to);
        let Some((below, above)) = self
            .slots
            .get_mut(..split.saturating_add(1))
            .map(|s| s.split_at_mut(split))
        else {
            return;
        };
        let (Some(low), Some(high)) = (below.get_mut(from.min(to)), above.first_mut()) else {
            return;
        };
        // `copy_from_slice` copies as non-overlapping, which a plain
        // assignment between slots is not known to be; one-entry slices
        // of two references have equal lengths, so it cannot panic.
        let (low, high) = (core::slice::from_mut(low), core::slice::from_mut(high));
        match from < to {
            true => high.copy_from_slice(low),
            false => low.copy_from_slice(high),
        }
    }

    /// Strictly before in this heap's order, field by field.
    #[inline]
    fn before(a: &Candidate, b: &Candidate) -> bool {
        if !TOP && a.round != b.round {
            return a.round < b.round;
        }
        if a.key_high != b.key_high {
            return a.key_high < b.key_high;
        }
        if a.key_low != b.key_low {
            return a.key_low < b.key_low;
        }
        a.id < b.id
    }

    /// Whether every entry is in heap order under its parent.
    #[cfg(test)]
    pub(crate) fn is_ordered(&self) -> bool {
        (1..self.len).all(|i| match (self.get((i - 1) / ARITY), self.get(i)) {
            (Some(parent), Some(child)) => !Self::before(&child, &parent),
            _ => false,
        })
    }

    /// The slot of heap position `i`.
    #[inline]
    fn slot(&self, i: usize) -> Option<&Candidate> {
        self.slots.get(self.at(i))
    }

    /// The entry at heap position `i`, in no particular order (a sweep).
    pub fn at_position(&self, i: usize) -> Option<Candidate> {
        if i >= self.len {
            return None;
        }
        self.get(i)
    }

    /// The first heap position from `from` on, of at most `count`, whose
    /// entry's value is at most `bound`; else the position after the last
    /// one looked at. A sweep's window: a plain run of slots, read in
    /// order.
    pub fn first_at_most(&self, from: usize, count: usize, bound: Value) -> Result<usize, usize> {
        let end = from.saturating_add(count).min(self.len);
        if end <= from {
            return Err(from);
        }
        let reached = |c: &Candidate| c.value() <= bound;
        let found = match TOP {
            // Positions `from..end` are the slots below `at(from)`, downwards.
            true => {
                let (low, high) = (self.at(end.saturating_sub(1)), self.at(from));
                let window = self.slots.get(low..=high).unwrap_or(&[]);
                window.iter().rev().position(reached)
            }
            false => self
                .slots
                .get(from..end)
                .unwrap_or(&[])
                .iter()
                .position(reached),
        };
        found.map(|offset| from.saturating_add(offset)).ok_or(end)
    }

    /// Removes the entry at heap position `i`, moving the last entry into
    /// its place: heap order is lost until `restore_order`.
    pub fn swap_remove(&mut self, i: usize) -> Option<Candidate> {
        let entry = self.at_position(i)?;
        self.len = self.len.checked_sub(1)?;
        self.copy_position(self.len, i);
        Some(entry)
    }

    /// Appends an entry without ordering it (a sweep); `false` when the
    /// scratch is full.
    pub fn push_unordered(&mut self, c: Candidate) -> bool {
        if self.len >= self.slots.len() {
            return false;
        }
        self.set(self.len, c);
        self.len = self.len.saturating_add(1);
        true
    }

    /// How many heap positions have children: `restore_order` visits them
    /// from the last to the first.
    pub fn parents(&self) -> usize {
        self.len.saturating_add(ARITY - 2) / ARITY
    }

    /// One step of restoring heap order bottom-up (Floyd): settles the
    /// entry at position `i`, whose subtrees must be in order already.
    pub fn restore_order(&mut self, i: usize) {
        if let Some(entry) = self.at_position(i) {
            self.settle(i, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_lowest_health_first_then_lowest_id() {
        let mut slots = [Candidate::default(); 8];
        let mut heap = Candidates {
            slots: &mut slots,
            len: 0,
        };
        for (h, id) in [(5, 1), (-3, 7), (-3, 2), (0, 4), (-10, 9), (5, 0)] {
            assert!(heap.push(Candidate::new(Value::from_int(h), id)));
        }
        let order: [u32; 6] = core::array::from_fn(|_| heap.pop().map_or(99, |c| c.id));
        assert_eq!(order, [9, 2, 7, 4, 0, 1]);
        assert_eq!(heap.pop(), None);
    }

    /// A window of a sweep finds what a position-by-position walk finds,
    /// in both layouts, and never looks past the length.
    #[test]
    fn a_sweep_window_finds_the_first_entry_at_most_its_bound() {
        fn check<const TOP: bool>() {
            // Slots past the length hold a value every bound reaches.
            let mut slots = [Candidate::new(Value::from_int(-1), 99); 12];
            let mut heap: Heap<'_, TOP> = Heap {
                slots: &mut slots,
                len: 0,
            };
            assert_eq!(heap.first_at_most(0, 4, Value::from_int(100)), Err(0));
            for (value, id) in [(9, 0), (7, 1), (8, 2), (3, 3), (9, 4), (2, 5), (6, 6)] {
                assert!(heap.push_unordered(Candidate::new(Value::from_int(value), id)));
            }
            for bound in 0..10 {
                for from in 0..9 {
                    for count in 1..9 {
                        let walk = (from..(from + count).min(heap.len)).find(|&i| {
                            heap.at_position(i)
                                .is_some_and(|c| c.value() <= Value::from_int(bound))
                        });
                        let end = (from + count).min(heap.len).max(from);
                        let window = heap.first_at_most(from, count, Value::from_int(bound));
                        assert_eq!(window, walk.ok_or(end), "{bound} {from} {count}");
                    }
                }
            }
        }
        check::<false>();
        check::<true>();
    }

    #[test]
    fn a_full_scratch_refuses_instead_of_panicking() {
        let mut slots = [Candidate::default(); 1];
        let mut heap = Candidates {
            slots: &mut slots,
            len: 0,
        };
        assert!(heap.push(Candidate::default()));
        assert!(!heap.push(Candidate::default()));
    }

    #[test]
    fn a_top_heap_fills_the_scratch_from_its_end() {
        let mut slots = [Candidate::default(); 4];
        let mut heap: Heap<'_, true> = Heap {
            slots: &mut slots[1..],
            len: 0,
        };
        for (h, id) in [(3, 1), (1, 2), (2, 3)] {
            assert!(heap.push(Candidate::new(Value::from_int(h), id)));
        }
        assert!(!heap.push(Candidate::default()), "its slice is full");
        assert_eq!(heap.pop().map(|c| c.id), Some(2));
        assert_eq!(heap.pop().map(|c| c.id), Some(3));
        assert_eq!(heap.pop().map(|c| c.id), Some(1));
        assert_eq!(
            slots[0],
            Candidate::default(),
            "the slot below is untouched"
        );
    }

    /// Interleaved pushes and pops against a sorted reference, both ends of
    /// the scratch, with repeated rounds and healths (an earlier round
    /// first whatever the health, ties go to the lower id).
    #[test]
    fn pops_match_a_sorted_reference() {
        extern crate std;
        use std::vec::Vec;
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1du64);
        for top in [false, true] {
            let mut slots = std::vec![Candidate::default(); 600];
            let mut bottom = Candidates {
                slots: &mut slots,
                len: 0,
            };
            let mut slots_top = std::vec![Candidate::default(); 600];
            let mut top_heap = Watch {
                slots: &mut slots_top,
                len: 0,
            };
            let mut reference: Vec<Candidate> = Vec::new();
            for id in 0..600u32 {
                // Rounds as the queue has them at the bottom; tags the watch
                // list ignores at the top.
                let round = (next() % 3) as u32;
                let c = Candidate::queued(round, Value::from_int((next() % 50) as i64 - 25), id);
                let pushed = if top {
                    top_heap.push(c)
                } else {
                    bottom.push(c)
                };
                assert!(pushed);
                reference.push(c);
                if next() % 3 == 0 {
                    match top {
                        true => reference.sort_by_key(Heap::<'_, true>::key),
                        false => reference.sort_by_key(Heap::<'_, false>::key),
                    }
                    let expected = reference.remove(0);
                    let got = if top { top_heap.pop() } else { bottom.pop() };
                    assert_eq!(got, Some(expected));
                }
            }
            match top {
                true => reference.sort_by_key(Heap::<'_, true>::key),
                false => reference.sort_by_key(Heap::<'_, false>::key),
            }
            for expected in reference {
                let got = if top { top_heap.pop() } else { bottom.pop() };
                assert_eq!(got, Some(expected));
            }
            assert_eq!(if top { top_heap.pop() } else { bottom.pop() }, None);
        }
    }

    /// A sweep removes entries anywhere and appends others unordered;
    /// restoring order from the last parent to the root makes a heap that
    /// pops in order again.
    #[test]
    fn a_swept_heap_pops_in_order_after_its_order_is_restored() {
        extern crate std;
        use std::vec::Vec;
        let mut next = crate::test_rng::xorshift(0x51ed_270b_a15e_c0de);
        for len in [0usize, 1, 2, 5, 17, 300] {
            let mut slots = std::vec![Candidate::default(); 400];
            let mut heap = Watch {
                slots: &mut slots,
                len: 0,
            };
            let mut kept: Vec<Candidate> = Vec::new();
            for id in 0..len as u32 {
                assert!(heap.push(Candidate::new(Value::from_int((next() % 100) as i64), id)));
            }
            // Remove every entry below 30 and append a replacement above 50.
            let mut i = 0;
            while let Some(c) = heap.at_position(i) {
                if c.value() < Value::from_int(30) {
                    assert_eq!(heap.swap_remove(i), Some(c));
                    let again = Candidate::new(Value::from_int(50 + (next() % 50) as i64), c.id);
                    assert!(heap.push_unordered(again));
                } else {
                    i += 1;
                }
            }
            for i in (0..heap.parents()).rev() {
                heap.restore_order(i);
            }
            for i in 0..heap.len {
                kept.extend(heap.at_position(i));
            }
            kept.sort_by_key(|c| (c.value(), c.id));
            assert_eq!(kept.len(), len);
            for expected in kept {
                assert_eq!(heap.pop(), Some(expected));
            }
            assert_eq!(heap.pop(), None);
        }
    }

    /// Entries appended unordered and then ordered one by one, first
    /// appended first, pop as if each had been pushed.
    #[test]
    fn appended_entries_ordered_later_pop_in_order() {
        extern crate std;
        use std::vec::Vec;
        let mut next = crate::test_rng::xorshift(0x0dde_0a11_5eed_0001);
        for (pushed, appended) in [(0usize, 1usize), (1, 1), (5, 20), (300, 7), (40, 200)] {
            let mut slots = std::vec![Candidate::default(); 300 + 200];
            let mut heap = Watch {
                slots: &mut slots,
                len: 0,
            };
            let mut all: Vec<Candidate> = Vec::new();
            for id in 0..(pushed + appended) as u32 {
                let c = Candidate::new(Value::from_int((next() % 64) as i64), id);
                all.push(c);
                match (id as usize) < pushed {
                    true => assert!(heap.push(c)),
                    false => assert!(heap.push_unordered(c)),
                }
            }
            for i in pushed..heap.len {
                heap.order_appended(i);
            }
            assert!(heap.is_ordered());
            all.sort_by_key(|c| (c.value(), c.id));
            for expected in all {
                assert_eq!(heap.pop(), Some(expected));
            }
            assert_eq!(heap.pop(), None);
        }
    }

    #[test]
    fn a_slot_keeps_its_key_exactly_in_24_bytes() {
        use crate::num::Fx;
        assert_eq!(core::mem::size_of::<Candidate>(), 24);
        for bits in [
            0i128,
            1,
            -1,
            i128::MAX,
            i128::MIN,
            1 << 64,
            -(1 << 64),
            (1 << 64) - 1,
        ] {
            let v = Value(Fx::from_bits(bits));
            assert_eq!(Candidate::new(v, 7).value(), v);
        }
        let (low, high) = (
            Candidate::new(Value(Fx::from_bits(-(1 << 64))), 0),
            Candidate::new(Value(Fx::from_bits((1 << 64) - 1)), 0),
        );
        assert!(low.key() < high.key(), "order by the whole 128 bits");
    }
}

//! A binary min-heap of liquidation candidates over caller-provided scratch:
//! lowest health first, ties by lower account id. No allocation, no
//! recursion; `push` and `pop` are O(log n).
//!
//! Two heaps share one scratch: this round's candidates grow up from the
//! bottom, and the watch list of the incremental scan (see `scan`) grows
//! down from the top, each over a slice that excludes the other's entries.

use crate::num::Value;

/// An account found liquidatable by a scan, with its health then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Candidate {
    /// Maintenance health at the scan.
    pub health: Value,
    /// The account.
    pub id: u32,
}

impl Candidate {
    fn key(&self) -> (Value, u32) {
        (self.health, self.id)
    }
}

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
    /// The slot of heap position `i`.
    fn at(&self, i: usize) -> usize {
        if TOP {
            self.slots.len().wrapping_sub(1).wrapping_sub(i)
        } else {
            i
        }
    }

    /// Swaps two occupied positions; indices past the scratch are ignored
    /// (they cannot occur: every caller passes positions below `len`).
    fn swap(&mut self, a: usize, b: usize) {
        let (a, b) = (self.at(a), self.at(b));
        if a < self.slots.len() && b < self.slots.len() {
            self.slots.swap(a, b);
        }
    }

    fn less(&self, a: usize, b: usize) -> bool {
        match (self.slots.get(self.at(a)), self.slots.get(self.at(b))) {
            (Some(x), Some(y)) => x.key() < y.key(),
            _ => false,
        }
    }

    /// The lowest entry, without removing it.
    pub fn peek(&self) -> Option<Candidate> {
        if self.len == 0 {
            return None;
        }
        self.slots.get(self.at(0)).copied()
    }

    /// Adds a candidate; `false` when the scratch is full (cannot happen when
    /// the scratch holds one slot per account, as validated).
    pub fn push(&mut self, c: Candidate) -> bool {
        if self.len >= self.slots.len() {
            return false;
        }
        let at = self.at(self.len);
        let Some(slot) = self.slots.get_mut(at) else {
            return false;
        };
        *slot = c;
        let mut child = self.len;
        self.len = self.len.saturating_add(1);
        while child > 0 {
            let parent = child.saturating_sub(1) / 2;
            if !self.less(child, parent) {
                break;
            }
            self.swap(child, parent);
            child = parent;
        }
        true
    }

    /// Removes and returns the lowest candidate.
    pub fn pop(&mut self) -> Option<Candidate> {
        let top = self.peek()?;
        self.len = self.len.checked_sub(1)?;
        self.swap(0, self.len);
        let mut parent = 0usize;
        loop {
            let left = parent.saturating_mul(2).saturating_add(1);
            let right = left.saturating_add(1);
            let mut least = parent;
            if left < self.len && self.less(left, least) {
                least = left;
            }
            if right < self.len && self.less(right, least) {
                least = right;
            }
            if least == parent {
                break;
            }
            self.swap(parent, least);
            parent = least;
        }
        Some(top)
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
            assert!(heap.push(Candidate {
                health: Value::from_int(h),
                id
            }));
        }
        let order: [u32; 6] = core::array::from_fn(|_| heap.pop().map_or(99, |c| c.id));
        assert_eq!(order, [9, 2, 7, 4, 0, 1]);
        assert_eq!(heap.pop(), None);
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
            assert!(heap.push(Candidate {
                health: Value::from_int(h),
                id
            }));
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
}

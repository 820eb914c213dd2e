//! The round's liquidation candidates, lowest maintenance health first,
//! ties by lower account id (as keepers see them on chain): a binary
//! min-heap over caller storage. No allocation, no recursion; a push and a
//! pop are O(log n).

use crate::num::Weighted;

/// An account found liquidatable, at the health it was found with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// Maintenance health (net), when found.
    pub health: i128,
    /// The account.
    pub id: u32,
}

impl Candidate {
    /// A candidate.
    pub fn new(health: Weighted, id: u32) -> Self {
        Self {
            health: health.0,
            id,
        }
    }
}

/// The heap: the first `len` slots of its storage.
pub struct Queue<'s> {
    slots: &'s mut [Candidate],
    len: usize,
}

impl<'s> Queue<'s> {
    /// An empty queue over `slots`.
    pub fn new(slots: &'s mut [Candidate]) -> Self {
        Self { slots, len: 0 }
    }

    /// Candidates waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The candidates waiting, in no order.
    pub fn waiting(&self) -> &[Candidate] {
        self.slots.get(..self.len).unwrap_or(&[])
    }

    /// Adds `c`; `false` if the storage is full (the engine sizes it for
    /// every account, each queued at most once).
    pub fn push(&mut self, c: Candidate) -> bool {
        let Some(slot) = self.slots.get_mut(self.len) else {
            return false;
        };
        *slot = c;
        let mut at = self.len;
        self.len = self.len.saturating_add(1);
        while at > 0 {
            let parent = at.wrapping_sub(1) / 2;
            let (Some(&p), Some(&x)) = (self.slots.get(parent), self.slots.get(at)) else {
                break;
            };
            if p <= x {
                break;
            }
            self.slots.swap(parent, at);
            at = parent;
        }
        true
    }

    /// Takes the lowest candidate.
    pub fn pop(&mut self) -> Option<Candidate> {
        if self.len == 0 {
            return None;
        }
        self.len = self.len.wrapping_sub(1);
        self.slots.swap(0, self.len);
        let top = self.slots.get(self.len).copied();
        let mut at = 0usize;
        loop {
            let left = at.saturating_mul(2).saturating_add(1);
            if left >= self.len {
                break;
            }
            let right = left.saturating_add(1);
            let smaller = match (self.slots.get(left), self.slots.get(right)) {
                (Some(l), Some(r)) if right < self.len && r < l => right,
                _ => left,
            };
            match (self.slots.get(at), self.slots.get(smaller)) {
                (Some(x), Some(c)) if c < x => self.slots.swap(at, smaller),
                _ => break,
            }
            at = smaller;
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pops_come_out_in_order(healths in proptest::collection::vec(-50i128..50, 0..200)) {
            let mut slots = std::vec![Candidate::default(); healths.len()];
            let mut q = Queue::new(&mut slots);
            for (id, h) in healths.iter().enumerate() {
                let pushed = q.push(Candidate { health: *h, id: id as u32 });
                prop_assert!(pushed);
            }
            let mut expected: std::vec::Vec<_> = healths
                .iter()
                .enumerate()
                .map(|(id, h)| Candidate { health: *h, id: id as u32 })
                .collect();
            expected.sort();
            let popped: std::vec::Vec<_> = core::iter::from_fn(|| q.pop()).collect();
            prop_assert_eq!(popped, expected);
        }
    }

    #[test]
    fn a_full_queue_refuses() {
        let mut slots = [Candidate::default(); 1];
        let mut q = Queue::new(&mut slots);
        assert!(q.push(Candidate { health: 1, id: 0 }));
        assert!(!q.push(Candidate { health: 0, id: 1 }));
        assert_eq!(q.pop().map(|c| c.id), Some(0));
        assert_eq!(q.len(), 0);
    }
}

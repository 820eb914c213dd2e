//! The round's liquidation candidates, lowest maintenance health first,
//! ties by lower account id (as keepers see them on chain).
//!
//! The scan appends the candidates it finds, unordered; before the first
//! liquidation the round sorts them once, and the liquidations then read
//! them in order. A heap would pay for the order pop by pop, each pop
//! descending the heap's levels at a cache miss each once it outgrows the
//! caches (a million candidates: 20 levels, about 1.5 µs a pop, more than a
//! liquidation costs). The sort is a least-significant-digit radix sort on
//! the 96-bit key `(health, id)`, eight bits a pass on 64-bit hosts and six
//! on 32-bit targets (where eight bits' counters took a kilobyte of a
//! firmware's stack), between the candidates' storage and a spare of the same size, in units
//! of at most [`CHUNK`] candidates, like every unit of the engine bounded
//! whatever the batch. A pass whose digit is the same for every candidate
//! (the high bits of healths of one magnitude, of small ids) is skipped
//! without a count: the batch keeps the AND and the OR of the keys it was
//! given, and a digit whose bits agree in both is the same in every key.
//!
//! The health in the key is the maintenance health rounded down to a quote
//! base unit ([`crate::num::Weighted::value`]): candidates whose healths
//! differ by less than a base unit are ordered by id.

use crate::num::{Round, Weighted};

/// Candidates a sorting unit counts or moves at most.
pub const CHUNK: usize = 1_024;
/// Bits of a digit: eight on 64-bit hosts (256 counters, 1 KB of engine
/// state; eight passes over a fast cascade's keys where six bits took
/// ten), six on 32-bit targets, whose stack holds the engine (64 counters,
/// 256 bytes). The order is the same either way.
#[cfg(target_pointer_width = "64")]
const DIGIT_BITS: u32 = 8;
/// Bits of a digit (see above).
#[cfg(not(target_pointer_width = "64"))]
const DIGIT_BITS: u32 = 6;
/// Digits: counters a pass.
const DIGITS: usize = 1 << DIGIT_BITS;
/// A digit's bits.
const DIGIT_MASK: u64 = (1 << DIGIT_BITS) - 1;
/// Passes over the id's 32 bits.
const ID_PASSES: u8 = 32u32.div_ceil(DIGIT_BITS) as u8;
/// Passes over the 96-bit key: the id's, then the health's 64 bits.
const PASSES: u8 = ID_PASSES + 64u32.div_ceil(DIGIT_BITS) as u8;

/// An account found liquidatable, at the health it was found with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// Maintenance health (net) when found, rounded down to a quote base
    /// unit.
    pub health: i64,
    /// The account.
    pub id: u32,
}

impl Candidate {
    /// A candidate at health `health`.
    pub fn new(health: Weighted, id: u32) -> Self {
        let health = health.value(Round::Down).map_or(i64::MIN, |v| v.0);
        Self { health, id }
    }

    /// Digit `pass` of the key `(health, id)`, the health's sign bit
    /// flipped so that its digits order as unsigned ones.
    fn digit(&self, pass: u8) -> usize {
        digit((self.health as u64) ^ (1 << 63), self.id, pass)
    }
}

/// Digit `pass` of the words `(health, id)`: the id's digits, low first,
/// then the health's (the last may read fewer bits than a digit).
fn digit(health: u64, id: u32, pass: u8) -> usize {
    let (word, at) = match pass.checked_sub(ID_PASSES) {
        None => (u64::from(id), pass),
        Some(at) => (health, at),
    };
    let shifted = word.checked_shr(u32::from(at).saturating_mul(DIGIT_BITS));
    (shifted.unwrap_or(0) & DIGIT_MASK) as usize
}

/// Where the sort of a batch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sorting {
    /// Counting digit `pass` from candidate `at`.
    Count {
        /// The pass.
        pass: u8,
        /// The next candidate.
        at: usize,
    },
    /// Moving candidates from `at` to the spare by digit `pass`.
    Scatter {
        /// The pass.
        pass: u8,
        /// The next candidate.
        at: usize,
    },
    /// Sorted: the liquidations read candidate `next`.
    Sorted {
        /// The next candidate.
        next: usize,
    },
}

/// The batch: candidates in the first `len` slots of their storage.
pub struct Batch<'s> {
    slots: &'s mut [Candidate],
    spare: &'s mut [Candidate],
    len: usize,
    /// Per digit: its count, then where its next candidate goes.
    counts: [u32; DIGITS],
    sorting: Sorting,
    /// The AND and the OR of the pushed keys' `(health, id)`, as words.
    all: (u64, u32),
    any: (u64, u32),
}

/// The AND of no keys.
const NO_KEY_AND: (u64, u32) = (u64::MAX, u32::MAX);

impl<'s> Batch<'s> {
    /// An empty batch over `slots` and a `spare` of the same size.
    pub fn new(slots: &'s mut [Candidate], spare: &'s mut [Candidate]) -> Self {
        Self {
            slots,
            spare,
            len: 0,
            counts: [0; DIGITS],
            sorting: Sorting::Sorted { next: 0 },
            all: NO_KEY_AND,
            any: (0, 0),
        }
    }

    /// Candidates in the batch (taken or not).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Where the sort is.
    pub fn sorting(&self) -> Sorting {
        self.sorting
    }

    /// The candidates not yet taken, in no order until sorted.
    pub fn waiting(&self) -> &[Candidate] {
        let from = match self.sorting {
            Sorting::Sorted { next } => next,
            _ => 0,
        };
        self.slots.get(from..self.len).unwrap_or(&[])
    }

    /// Adds `c` (the scan's); `false` if the storage is full (it holds
    /// every account, each queued at most once a round).
    pub fn push(&mut self, c: Candidate) -> bool {
        let fits = self.len < self.spare.len();
        match self.slots.get_mut(self.len).filter(|_| fits) {
            Some(slot) => {
                *slot = c;
                self.len = self.len.saturating_add(1);
                let health = c.health as u64;
                self.all = (self.all.0 & health, self.all.1 & c.id);
                self.any = (self.any.0 | health, self.any.1 | c.id);
                true
            }
            None => false,
        }
    }

    /// Starts sorting what the scan appended.
    pub fn start_sort(&mut self) {
        self.counts = [0; DIGITS];
        self.sorting = self.pass_from(0);
    }

    /// The first pass from `pass` on whose digit is not the same in every
    /// key, or the end of the sort (at once for fewer than two keys).
    fn pass_from(&self, pass: u8) -> Sorting {
        if self.len < 2 {
            return Sorting::Sorted { next: 0 };
        }
        let differ = (self.all.0 ^ self.any.0, self.all.1 ^ self.any.1);
        match (pass..PASSES).find(|&p| digit(differ.0, differ.1, p) != 0) {
            Some(pass) => Sorting::Count { pass, at: 0 },
            None => Sorting::Sorted { next: 0 },
        }
    }

    /// One unit of the sort; `true` once sorted.
    pub fn sort_unit(&mut self) -> bool {
        match self.sorting {
            Sorting::Sorted { .. } => return true,
            Sorting::Count { pass, at } => {
                let end = at.saturating_add(CHUNK).min(self.len);
                for c in self.slots.get(at..end).unwrap_or(&[]) {
                    if let Some(n) = self.counts.get_mut(c.digit(pass)) {
                        *n = n.saturating_add(1);
                    }
                }
                self.sorting = match end < self.len {
                    true => Sorting::Count { pass, at: end },
                    false => self.after_count(pass),
                };
            }
            Sorting::Scatter { pass, at } => {
                let end = at.saturating_add(CHUNK).min(self.len);
                for c in self.slots.get(at..end).unwrap_or(&[]) {
                    let Some(to) = self.counts.get_mut(c.digit(pass)) else {
                        continue;
                    };
                    if let Some(slot) = self.spare.get_mut(*to as usize) {
                        *slot = *c;
                    }
                    *to = to.saturating_add(1);
                }
                if end < self.len {
                    self.sorting = Sorting::Scatter { pass, at: end };
                } else {
                    core::mem::swap(&mut self.slots, &mut self.spare);
                    self.sorting = self.next_pass(pass);
                }
            }
        }
        matches!(self.sorting, Sorting::Sorted { .. })
    }

    /// After counting digit `pass`: turn the counts into where each digit
    /// starts.
    fn after_count(&mut self, pass: u8) -> Sorting {
        let mut start = 0u32;
        for n in &mut self.counts {
            let count = *n;
            *n = start;
            start = start.saturating_add(count);
        }
        Sorting::Scatter { pass, at: 0 }
    }

    fn next_pass(&mut self, pass: u8) -> Sorting {
        self.counts = [0; DIGITS];
        self.pass_from(pass.saturating_add(1))
    }

    /// The candidate after the next one of a sorted batch.
    pub fn peek_after_next(&self) -> Option<&Candidate> {
        let Sorting::Sorted { next } = self.sorting else {
            return None;
        };
        let after = next.saturating_add(1);
        self.slots.get(after).filter(|_| after < self.len)
    }

    /// Takes the next candidate of a sorted batch; at the end, empties the
    /// batch for the next round.
    pub fn take(&mut self) -> Option<Candidate> {
        let Sorting::Sorted { next } = self.sorting else {
            return None;
        };
        match self.slots.get(next).filter(|_| next < self.len) {
            Some(&c) => {
                self.sorting = Sorting::Sorted {
                    next: next.saturating_add(1),
                };
                Some(c)
            }
            None => {
                self.len = 0;
                self.sorting = Sorting::Sorted { next: 0 };
                (self.all, self.any) = (NO_KEY_AND, (0, 0));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(batch: &mut Batch<'_>) -> std::vec::Vec<Candidate> {
        batch.start_sort();
        let mut units = 0;
        while !batch.sort_unit() {
            units += 1;
            assert!(units < 10_000);
        }
        core::iter::from_fn(|| batch.take()).collect()
    }

    proptest! {
        #[test]
        fn the_batch_comes_out_by_health_then_id(
            healths in proptest::collection::vec(any::<i64>(), 0..3_000),
            narrow in any::<bool>(),
        ) {
            let n = healths.len();
            let (mut slots, mut spare) = (std::vec![Candidate::default(); n], std::vec![Candidate::default(); n]);
            let mut batch = Batch::new(&mut slots, &mut spare);
            // Ids pushed out of order; healths wide, or a few values apart.
            let candidates: std::vec::Vec<Candidate> = healths
                .iter()
                .enumerate()
                .map(|(i, h)| Candidate {
                    health: if narrow { h % 3 } else { *h },
                    id: ((i * 7_919) % n.max(1)) as u32 | ((i as u32 & 1) << 30),
                })
                .collect();
            for c in &candidates {
                prop_assert!(batch.push(*c));
            }
            let mut expected = candidates.clone();
            expected.sort();
            prop_assert_eq!(sorted(&mut batch), expected);
            prop_assert_eq!(batch.len(), 0);
        }
    }

    /// Sort units until sorted (the last, which finds it done, counted),
    /// and the candidates in order.
    fn units_to_sort(candidates: &[Candidate]) -> (usize, std::vec::Vec<Candidate>) {
        let n = candidates.len();
        let (mut slots, mut spare) = (
            std::vec![Candidate::default(); n],
            std::vec![Candidate::default(); n],
        );
        let mut batch = Batch::new(&mut slots, &mut spare);
        for c in candidates {
            assert!(batch.push(*c));
        }
        batch.start_sort();
        let mut units = 1;
        while !batch.sort_unit() {
            units += 1;
        }
        (units, core::iter::from_fn(|| batch.take()).collect())
    }

    #[test]
    fn only_the_digits_that_differ_are_sorted_on() {
        // Ids under 2^12 (two digits), healths −1 to −4 (one digit): three
        // passes of a count and a scatter each, not seventeen counts.
        let candidates: std::vec::Vec<Candidate> = (0..1_000u32)
            .map(|i| Candidate {
                health: -1 - i64::from(i * 7 % 4),
                id: (i * 3_001) % 4_096,
            })
            .collect();
        let mut expected = candidates.clone();
        expected.sort();
        let (units, sorted) = units_to_sort(&candidates);
        assert_eq!(units, 6);
        assert!(sorted == expected, "sorted by health, then id");
        // Nothing to order in fewer than two, nor in equal keys: the first
        // unit finds the batch sorted.
        assert_eq!(units_to_sort(&[]).0, 1);
        assert_eq!(units_to_sort(&candidates[..1]).0, 1);
        assert_eq!(units_to_sort(&[candidates[0]; 3]).0, 1);
        // After a batch empties, the next starts from no keys.
        let (mut slots, mut spare) = ([Candidate::default(); 2], [Candidate::default(); 2]);
        let mut batch = Batch::new(&mut slots, &mut spare);
        for round in 0..2 {
            let id = if round == 0 { 1 << 20 } else { 0 };
            assert!(batch.push(Candidate { health: -5, id }));
            assert!(batch.push(Candidate {
                health: -5,
                id: id + 1
            }));
            batch.start_sort();
            let mut units = 1;
            while !batch.sort_unit() {
                units += 1;
            }
            assert_eq!(units, 2, "round {round}: one pass, the id's lowest digit");
            while batch.take().is_some() {}
        }
    }

    #[test]
    fn a_full_batch_refuses_and_healths_round_down() {
        let (mut slots, mut spare) = ([Candidate::default(); 1], [Candidate::default(); 1]);
        let mut batch = Batch::new(&mut slots, &mut spare);
        assert!(batch.push(Candidate::new(Weighted(-1), 0)));
        assert!(!batch.push(Candidate::new(Weighted(0), 1)));
        assert_eq!(sorted(&mut batch), [Candidate { health: -1, id: 0 }]);
        assert_eq!(Candidate::new(Weighted(-2_000_000_001), 0).health, -3);
    }
}

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
//! firmware's stack), between the candidates' storage and a spare of the
//! same size, in units of at most [`CHUNK`] candidates, like every unit of
//! the engine bounded whatever the batch. A pass whose digit is the same for every candidate
//! (the high bits of healths of one magnitude, of small ids) is skipped
//! without a count: the batch keeps the AND and the OR of the keys it was
//! given, and a digit whose bits agree in both is the same in every key.
//!
//! The health in the key is the maintenance health rounded down to a quote
//! base unit ([`crate::num::Weighted::value`]): candidates whose healths
//! differ by less than a base unit are ordered by id.
//!
//! Under a cap on the accounts liquidated a round, those it leaves keep
//! their place: the storage is a ring whose head holds them, in order, and
//! the next round's candidates are sorted behind them. The queue's order
//! is then (round queued, health then, id), as docs/containment.md has it
//! for the kernel.

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

/// Where the sort of a round's candidates is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sorting {
    /// Counting digit `pass` from candidate `at`.
    Count {
        /// The pass.
        pass: u8,
        /// The next candidate.
        at: usize,
    },
    /// Moving candidates from `at` to the other buffer by digit `pass`.
    Scatter {
        /// The pass.
        pass: u8,
        /// The next candidate.
        at: usize,
    },
    /// Copying the sorted candidates from the spare back into the queue,
    /// from `at`.
    CopyBack {
        /// The next candidate.
        at: usize,
    },
    /// Sorted: the liquidations take from the head.
    Sorted,
}

/// The liquidation queue: a ring over `slots`, holding from `head` the
/// `sorted` candidates in liquidation order (those a rate limit left
/// waiting first, then the last sorted round's), then the `fresh` ones
/// this round's scan appended, unordered until sorted.
///
/// The fresh ones are sorted between their place in the ring and the
/// `spare`'s first slots. With nobody waiting ahead of them the two trade
/// places after each pass (no copy); behind those waiting, a sort that
/// ends in the spare is copied back.
pub struct Batch<'s> {
    slots: &'s mut [Candidate],
    spare: &'s mut [Candidate],
    head: usize,
    sorted: usize,
    fresh: usize,
    /// The sorted candidates when the round's sort began: those a cap
    /// left waiting.
    carried: usize,
    /// Whether the fresh candidates are in the spare (mid-sort).
    in_spare: bool,
    /// Per digit: its count, then where its next candidate goes.
    counts: [u32; DIGITS],
    sorting: Sorting,
    /// The AND and the OR of the fresh keys' `(health, id)`, as words.
    all: (u64, u32),
    any: (u64, u32),
}

/// The AND of no keys.
const NO_KEY_AND: (u64, u32) = (u64::MAX, u32::MAX);

/// Counts `run`'s digits `pass` into `counts`.
fn count(counts: &mut [u32; DIGITS], run: &[Candidate], pass: u8) {
    for c in run {
        if let Some(n) = counts.get_mut(c.digit(pass)) {
            *n = n.saturating_add(1);
        }
    }
}

/// The slot `at` places past slot `from` of a ring of `cap` slots
/// (`from < cap`, `at <= cap`).
fn ring_slot(cap: usize, from: usize, at: usize) -> usize {
    let i = from.saturating_add(at);
    if i >= cap {
        i.wrapping_sub(cap)
    } else {
        i
    }
}

/// Fresh candidates `from..to`, whose first is at ring slot `start`, where
/// they are: up to two runs of the ring `slots`, or one of the `spare`.
fn fresh_runs<'a>(
    (slots, spare, in_spare): (&'a [Candidate], &'a [Candidate], bool),
    start: usize,
    from: usize,
    to: usize,
) -> (&'a [Candidate], &'a [Candidate]) {
    match in_spare {
        true => (spare.get(from..to).unwrap_or(&[]), &[]),
        false => {
            let first = ring_slot(slots.len(), start, from);
            ring_runs(slots, first, to.saturating_sub(from))
        }
    }
}

/// `n` slots of the ring `slots` from slot `start`: up to two runs.
fn ring_runs(slots: &[Candidate], start: usize, n: usize) -> (&[Candidate], &[Candidate]) {
    let first = n.min(slots.len().saturating_sub(start));
    let a = slots.get(start..start.saturating_add(first));
    let b = slots.get(..n.saturating_sub(first));
    (a.unwrap_or(&[]), b.unwrap_or(&[]))
}

impl<'s> Batch<'s> {
    /// An empty queue over `slots` and a `spare` at least as large.
    pub fn new(slots: &'s mut [Candidate], spare: &'s mut [Candidate]) -> Self {
        Self {
            slots,
            spare,
            head: 0,
            sorted: 0,
            fresh: 0,
            carried: 0,
            in_spare: false,
            counts: [0; DIGITS],
            sorting: Sorting::Sorted,
            all: NO_KEY_AND,
            any: (0, 0),
        }
    }

    /// Candidates in the queue, sorted or not.
    pub fn len(&self) -> usize {
        self.sorted.saturating_add(self.fresh)
    }

    /// How many candidates were waiting, sorted, when this round's sort
    /// began: those a cap left waiting, at the head of the queue until
    /// taken.
    pub fn carried(&self) -> usize {
        self.carried
    }

    /// Where the sort is.
    pub fn sorting(&self) -> Sorting {
        self.sorting
    }

    /// The ring slot `at` places past `from`.
    fn ring(&self, from: usize, at: usize) -> usize {
        ring_slot(self.slots.len(), from, at)
    }

    /// The ring slot of the first fresh candidate.
    fn fresh_start(&self) -> usize {
        self.ring(self.head, self.sorted)
    }

    /// Every candidate in the queue: the sorted ones in order, then the
    /// fresh ones in no order until sorted.
    pub fn waiting(&self) -> impl Iterator<Item = &Candidate> + '_ {
        let (s1, s2) = ring_runs(self.slots, self.head, self.sorted);
        let buffers = (&*self.slots, &*self.spare, self.in_spare);
        let (f1, f2) = fresh_runs(buffers, self.fresh_start(), 0, self.fresh);
        s1.iter().chain(s2).chain(f1).chain(f2)
    }

    /// Appends `c` (the scan's); `false` if the storage is full (it holds
    /// every account, each in the queue at most once).
    pub fn push(&mut self, c: Candidate) -> bool {
        let len = self.len();
        if len >= self.slots.len() || self.in_spare {
            return false;
        }
        let at = self.ring(self.head, len);
        match self.slots.get_mut(at) {
            Some(slot) => {
                *slot = c;
                self.fresh = self.fresh.saturating_add(1);
                let health = c.health as u64;
                self.all = (self.all.0 & health, self.all.1 & c.id);
                self.any = (self.any.0 | health, self.any.1 | c.id);
                true
            }
            None => false,
        }
    }

    /// Starts sorting what the scan appended, behind what waits.
    pub fn start_sort(&mut self) {
        self.carried = self.sorted;
        self.counts = [0; DIGITS];
        self.sorting = self.pass_from(0);
    }

    /// The first pass from `pass` on whose digit is not the same in every
    /// fresh key; else the copy back, if the sort ended in the spare, or
    /// the end of the sort (at once for fewer than two keys).
    fn pass_from(&mut self, pass: u8) -> Sorting {
        let differ = (self.all.0 ^ self.any.0, self.all.1 ^ self.any.1);
        let next = (pass..PASSES).find(|&p| digit(differ.0, differ.1, p) != 0);
        match next {
            Some(pass) if self.fresh >= 2 => Sorting::Count { pass, at: 0 },
            _ if self.in_spare => Sorting::CopyBack { at: 0 },
            _ => self.finish(),
        }
    }

    /// The fresh candidates are in order: they join the sorted ones.
    fn finish(&mut self) -> Sorting {
        self.sorted = self.len();
        self.fresh = 0;
        (self.all, self.any) = (NO_KEY_AND, (0, 0));
        Sorting::Sorted
    }

    /// One unit of the sort; `true` once sorted.
    pub fn sort_unit(&mut self) -> bool {
        match self.sorting {
            Sorting::Sorted => return true,
            Sorting::Count { pass, at } => {
                let end = at.saturating_add(CHUNK).min(self.fresh);
                let buffers = (&*self.slots, &*self.spare, self.in_spare);
                let (a, b) = fresh_runs(buffers, self.fresh_start(), at, end);
                count(&mut self.counts, a, pass);
                count(&mut self.counts, b, pass);
                self.sorting = match end < self.fresh {
                    true => Sorting::Count { pass, at: end },
                    false => self.after_count(pass),
                };
            }
            Sorting::Scatter { pass, at } => {
                let end = at.saturating_add(CHUNK).min(self.fresh);
                match self.in_spare {
                    false => self.scatter_to_spare(pass, at, end),
                    true => self.scatter_to_ring(pass, at, end),
                }
                if end < self.fresh {
                    self.sorting = Sorting::Scatter { pass, at: end };
                } else {
                    self.pass_done();
                    self.sorting = self.pass_from(pass.saturating_add(1));
                }
            }
            Sorting::CopyBack { at } => {
                let end = at.saturating_add(CHUNK).min(self.fresh);
                let start = self.fresh_start();
                for i in at..end {
                    let to = self.ring(start, i);
                    if let (Some(c), Some(slot)) = (self.spare.get(i), self.slots.get_mut(to)) {
                        *slot = *c;
                    }
                }
                self.sorting = match end < self.fresh {
                    true => Sorting::CopyBack { at: end },
                    false => {
                        self.in_spare = false;
                        self.finish()
                    }
                };
            }
        }
        matches!(self.sorting, Sorting::Sorted)
    }

    /// Moves fresh candidates `at..end` by digit `pass` from the ring to
    /// the spare's first slots.
    fn scatter_to_spare(&mut self, pass: u8, at: usize, end: usize) {
        let start = self.ring(self.fresh_start(), at);
        let (a, b) = ring_runs(self.slots, start, end.saturating_sub(at));
        for run in [a, b] {
            for c in run {
                if let Some(to) = self.counts.get_mut(c.digit(pass)) {
                    if let Some(slot) = self.spare.get_mut(*to as usize) {
                        *slot = *c;
                    }
                    *to = to.saturating_add(1);
                }
            }
        }
    }

    /// Moves fresh candidates `at..end` by digit `pass` from the spare back
    /// to their place in the ring.
    fn scatter_to_ring(&mut self, pass: u8, at: usize, end: usize) {
        let start = self.fresh_start();
        let cap = self.slots.len();
        for c in self.spare.get(at..end).unwrap_or(&[]) {
            if let Some(to) = self.counts.get_mut(c.digit(pass)) {
                if let Some(slot) = self.slots.get_mut(ring_slot(cap, start, *to as usize)) {
                    *slot = *c;
                }
                *to = to.saturating_add(1);
            }
        }
    }

    /// After a pass's last move: the fresh candidates are in the other
    /// buffer. With nobody waiting ahead of them the buffers trade places
    /// (the spare's first slots become the ring's), so no copy back is
    /// needed; behind those waiting they stay in the spare until the next
    /// pass or the copy back.
    fn pass_done(&mut self) {
        self.counts = [0; DIGITS];
        if self.in_spare {
            self.in_spare = false;
        } else if self.sorted == 0 {
            core::mem::swap(&mut self.slots, &mut self.spare);
            self.head = 0;
        } else {
            self.in_spare = true;
        }
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

    /// The candidate after the next one of a sorted queue.
    pub fn peek_after_next(&self) -> Option<&Candidate> {
        if self.sorting != Sorting::Sorted || self.sorted < 2 {
            return None;
        }
        self.slots.get(self.ring(self.head, 1))
    }

    /// Takes the next candidate of a sorted queue.
    pub fn take(&mut self) -> Option<Candidate> {
        if self.sorting != Sorting::Sorted || self.sorted == 0 {
            return None;
        }
        let c = self.slots.get(self.head).copied()?;
        self.head = self.ring(self.head, 1);
        self.sorted = self.sorted.saturating_sub(1);
        Some(c)
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
        // passes of a count and a scatter each, not a count of every digit
        // (nobody waits ahead of them: no copy back).
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

    proptest! {
        /// Rounds that take only part of the queue: what is left waits
        /// ahead of the next round's candidates, each round's sorted by
        /// health then id, through the ring's wrap and the copy back.
        #[test]
        fn what_a_cap_leaves_waits_ahead_of_the_next_round(
            rounds in proptest::collection::vec(
                (proptest::collection::vec(-50i64..50, 0..40), 0usize..40),
                1..12,
            ),
        ) {
            const ACCOUNTS: usize = 64;
            let (mut slots, mut spare) = ([Candidate::default(); ACCOUNTS], [Candidate::default(); ACCOUNTS]);
            let mut batch = Batch::new(&mut slots, &mut spare);
            let mut model = std::collections::VecDeque::new();
            let mut next_id = 0u32;
            for (healths, take) in rounds {
                // Fresh candidates, as many as the storage has room for.
                let room = ACCOUNTS - model.len();
                let mut fresh: std::vec::Vec<Candidate> = healths
                    .iter()
                    .take(room)
                    .map(|&health| {
                        next_id = next_id.wrapping_add(37) % 4_096;
                        Candidate { health, id: next_id }
                    })
                    .collect();
                for c in &fresh {
                    prop_assert!(batch.push(*c));
                }
                let seen: std::vec::Vec<Candidate> = batch.waiting().copied().collect();
                let mut expected_set: std::vec::Vec<Candidate> = model.iter().copied().collect();
                expected_set.extend(&fresh);
                prop_assert_eq!(&seen, &expected_set, "waiting: the queue, then the fresh");
                batch.start_sort();
                let mut units = 0;
                while !batch.sort_unit() {
                    units += 1;
                    prop_assert!(units < 1_000);
                }
                fresh.sort();
                model.extend(fresh);
                prop_assert_eq!(batch.len(), model.len());
                for _ in 0..take {
                    prop_assert_eq!(batch.take(), model.pop_front());
                }
            }
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

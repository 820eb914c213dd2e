//! How many watched accounts a round's drift has reached, without walking
//! the watch list: a histogram of the triggers on it.
//!
//! A round with a large move can reach a large part of the watch list. Each
//! account reached costs a pop from a heap of up to a million entries, the
//! deepest levels of which miss the caches. A sweep instead visits every
//! entry in slot order, takes out those reached, and restores the heap
//! order bottom-up (Floyd's construction, linear in the list). When the
//! drift reaches more than about one entry in 16 to 22 (one in 72 past
//! the caches), the sweep is the cheaper of the two, and it finds the same
//! candidates (see `scan`): the choice changes the work, never the results.

use crate::num::Fx;

/// Octaves of `trigger − 1` kept apart, in ulps of the `I80F48` trigger:
/// from `2^-12` to `2^4`. Below them one bucket, above them another: a
/// drift that small reaches almost nobody, and one that large everybody.
const LOW_BIT: u32 = 36;
const HIGH_BIT: u32 = 52;
/// Each octave in four.
const SPLIT_BITS: u32 = 2;
const BUCKETS: usize = (((HIGH_BIT - LOW_BIT) << SPLIT_BITS) + 3) as usize;
/// A share of a bucket is counted in `2^-SHARE_BITS`ths.
const SHARE_BITS: u32 = 16;
const ONE_SHARE: u64 = 1 << SHARE_BITS;

/// A watch list longer than this (24 B entries: 6 MB) no longer keeps its
/// deep levels in the caches beside the rows the evaluations read.
const CACHED_ENTRIES: usize = 1 << 18;
/// How many times the visits a pop costs on a list past `CACHED_ENTRIES`.
const PAST_CACHE_FACTOR: u64 = 3;

/// Whether sweeping a watch list of `len` entries costs less than popping
/// the `reached` ones. A pop descends the heap: about two sweep visits'
/// worth of work per level, plus a fixed part. Past the caches it also
/// misses at its deep levels, where a sweep reads in order.
/// Measured on the fast cascade with every phase timed (docs/performance.md),
/// when a sweep unit visited one entry: a pop cost about 25 visits at 10^4
/// and 10^5 entries, and 65-90 at 10^6, where the formula without the
/// factor said 24. A unit now visits up to 64 and a visit is cheaper, but
/// a sweep also costs the restore the next popping round pays; measured
/// again, factors of 1 and 12 past the caches both made the long cascade's
/// scans slower than 3, and in the caches factors of 1 to 16 moved the
/// instructions of the 10^5 cascades by at most 3%.
pub(super) fn sweep_is_cheaper(reached: u64, len: usize) -> bool {
    let levels = usize::BITS.saturating_sub(len.leading_zeros()).div_ceil(2);
    let in_cache = u64::from(levels).saturating_mul(2).saturating_add(4);
    let pop_cost = match len > CACHED_ENTRIES {
        true => in_cache.saturating_mul(PAST_CACHE_FACTOR),
        false => in_cache,
    };
    reached > 0 && reached.saturating_mul(pop_cost) >= len as u64
}

/// Watched accounts counted by trigger.
#[derive(Clone, Copy, Debug)]
pub(super) struct DueCounts {
    counts: [u32; BUCKETS],
}

impl DueCounts {
    pub(super) const fn new() -> Self {
        Self {
            counts: [0; BUCKETS],
        }
    }

    /// The bucket of a trigger: 0 for a trigger of at most 1 (due whatever
    /// the drift), then by the octave of `trigger − 1` and its quarter; the
    /// order of buckets is the order of triggers.
    fn bucket(trigger: Fx) -> usize {
        match Octave::of(trigger) {
            Octave::AtMostOne => 0,
            Octave::Below => 1,
            Octave::Above => BUCKETS.saturating_sub(1),
            Octave::Within { top, x } => {
                let quarter =
                    (x >> top.saturating_sub(SPLIT_BITS)) as u32 & ((1 << SPLIT_BITS) - 1);
                let octave = top.saturating_sub(LOW_BIT) << SPLIT_BITS;
                octave.saturating_add(quarter).saturating_add(2) as usize
            }
        }
    }

    pub(super) fn add(&mut self, trigger: Fx) {
        if let Some(c) = self.counts.get_mut(Self::bucket(trigger)) {
            *c = c.saturating_add(1);
        }
    }

    /// Watched accounts due whatever the drift (triggers of at most 1).
    pub(super) fn due_at_once(&self) -> u32 {
        self.counts.first().copied().unwrap_or(0)
    }

    pub(super) fn remove(&mut self, trigger: Fx) {
        if let Some(c) = self.counts.get_mut(Self::bucket(trigger)) {
            *c = c.saturating_sub(1);
        }
    }

    /// An estimate of the watched accounts due at `drift`, given that none
    /// is due at `cleared`: the last scan took out every trigger at or below
    /// the drift it ran at, and every trigger added since lies above it.
    /// Buckets from `cleared`'s up to the drift's own count whole; of the
    /// drift's own bucket, the share below the drift counts, as if its
    /// triggers were spread evenly over the part of it above `cleared`. So a
    /// drift that has not grown reaches nobody, however many triggers sit
    /// just above it. A heuristic: it chooses the work, not the results.
    pub(super) fn reached(&self, cleared: Fx, drift: Fx) -> u64 {
        // Triggers of at most 1 are due whatever the drift: accounts still
        // liquidatable after their liquidation, watched again to be
        // evaluated at the next round.
        let always = u64::from(self.due_at_once());
        if drift <= cleared {
            return always;
        }
        let (first, own) = (Self::bucket(cleared).max(1), Self::bucket(drift));
        if own == 0 {
            return always;
        }
        let in_own = self.counts.get(own).map_or(0, |&c| u64::from(c));
        let share = Self::share_of_bucket(drift);
        if first == own {
            // Spread over the part of the bucket above `cleared`.
            let floor = Self::share_of_bucket(cleared);
            let part = share
                .saturating_sub(floor)
                .saturating_mul(ONE_SHARE)
                .checked_div(ONE_SHARE.saturating_sub(floor))
                .unwrap_or(0);
            return always.saturating_add(in_own.saturating_mul(part) >> SHARE_BITS);
        }
        let whole: u64 = self
            .counts
            .iter()
            .take(own)
            .skip(first)
            .map(|&c| u64::from(c))
            .sum();
        always
            .saturating_add(whole)
            .saturating_add(in_own.saturating_mul(share) >> SHARE_BITS)
    }

    /// Where `trigger` lies within its bucket, in `ONE_SHARE`ths (0 for the
    /// first and last buckets, which have no width to interpolate in).
    fn share_of_bucket(trigger: Fx) -> u64 {
        let Octave::Within { top, x } = Octave::of(trigger) else {
            return 0;
        };
        // The bits below the octave's leading bit and its quarter.
        let width_bits = top.saturating_sub(SPLIT_BITS);
        let within = x & !(u64::MAX << width_bits);
        within >> width_bits.saturating_sub(SHARE_BITS)
    }
}

/// Where `trigger − 1` lies among the octaves kept apart.
enum Octave {
    AtMostOne,
    Below,
    Above,
    /// `x = trigger − 1` in ulps, whose leading bit is bit `top`.
    Within {
        top: u32,
        x: u64,
    },
}

impl Octave {
    fn of(trigger: Fx) -> Self {
        let above_one = trigger.to_bits().saturating_sub(Fx::ONE.to_bits());
        if above_one <= 0 {
            return Self::AtMostOne;
        }
        let Ok(x) = u64::try_from(above_one) else {
            return Self::Above;
        };
        match 63u32.saturating_sub(x.leading_zeros()) {
            top if top < LOW_BIT => Self::Below,
            top if top >= HIGH_BIT => Self::Above,
            top => Self::Within { top, x },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(x: f64) -> Fx {
        Fx::from_num(x)
    }

    #[test]
    fn buckets_follow_the_order_of_triggers() {
        let triggers = [
            0.0,
            1.0,
            1.000_000_1,
            1.000_01,
            1.01,
            1.011,
            1.02,
            1.25,
            1.3,
            1.9,
            2.0,
            3.0,
            1e3,
            1e6,
            1e7,
        ];
        let buckets = triggers.map(|t| DueCounts::bucket(fx(t)));
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        assert_eq!(buckets[0], 0);
        assert_eq!(buckets[1], 0);
        assert_eq!(DueCounts::bucket(Fx::MAX), BUCKETS - 1);
        assert!(
            DueCounts::bucket(fx(1.01)) < DueCounts::bucket(fx(1.02)),
            "an octave is split"
        );
        assert!(DueCounts::bucket(fx(1.3)) < BUCKETS - 1);
        assert!(
            DueCounts::bucket(fx(1.000_01)) == 1,
            "below the octaves kept apart"
        );
        assert!(DueCounts::bucket(fx(3.0)) < DueCounts::bucket(fx(16.0)));
        assert_eq!(DueCounts::bucket(fx(17.5)), BUCKETS - 1, "above them");
    }

    #[test]
    fn a_sweep_pays_for_a_larger_share_of_a_smaller_list() {
        // 3,000 entries: 6 levels, a pop costs 16 visits.
        assert!(sweep_is_cheaper(188, 3_000));
        assert!(!sweep_is_cheaper(187, 3_000));
        // 10^5 entries: 9 levels, 22 visits.
        assert!(sweep_is_cheaper(4_546, 100_000));
        assert!(!sweep_is_cheaper(4_545, 100_000));
        // 10^6 entries, past the caches: 10 levels, 24 visits, three times.
        assert!(sweep_is_cheaper(13_889, 1_000_000));
        assert!(!sweep_is_cheaper(13_888, 1_000_000));
        // The factor starts one entry past the caches' share.
        assert!(sweep_is_cheaper(3_641, CACHED_ENTRIES + 1));
        assert!(!sweep_is_cheaper(3_641, CACHED_ENTRIES));
        assert!(!sweep_is_cheaper(0, 0), "nothing reached, nothing to sweep");
        assert!(sweep_is_cheaper(1, 1));
    }

    #[test]
    fn reached_counts_only_triggers_below_the_drift() {
        let one = Fx::ONE;
        let mut due = DueCounts::new();
        for t in [0.0, 1.01, 1.02, 1.04, 1.5, 2.5, 1e9] {
            due.add(fx(t));
        }
        assert_eq!(due.reached(one, one), 1, "a trigger of zero at once");
        assert_eq!(due.reached(one, fx(1.0275)), 3, "0, 1.01 and 1.02");
        assert_eq!(due.reached(one, fx(2.0)), 5);
        assert_eq!(
            due.reached(one, Fx::MAX),
            6,
            "never-due triggers share the last bucket"
        );
        due.remove(fx(1.02));
        assert_eq!(due.reached(one, fx(1.03)), 2);
        // A bucket's share below the drift: [1.625, 1.75) holds four
        // triggers, and 1.6875 lies half way.
        let mut spread = DueCounts::new();
        for t in [1.63, 1.66, 1.7, 1.74] {
            spread.add(fx(t));
        }
        assert_eq!(spread.reached(one, fx(1.6875)), 2);
        assert_eq!(
            spread.reached(one, fx(1.71875)),
            3,
            "three quarters of four"
        );
        assert_eq!(spread.reached(one, fx(1.625)), 0);
        let mut empty = DueCounts::new();
        empty.remove(fx(1.5));
        assert_eq!(
            empty.reached(one, Fx::MAX),
            0,
            "a removal from nothing saturates"
        );
    }

    #[test]
    fn a_drift_that_has_not_grown_reaches_nobody() {
        // A scan at drift 1.6875 left only triggers above it, all in the
        // upper half of the bucket [1.625, 1.75).
        let cleared = fx(1.6875);
        let mut due = DueCounts::new();
        for t in [1.69, 1.7, 1.72, 1.74] {
            due.add(fx(t));
        }
        assert_eq!(due.reached(cleared, cleared), 0, "no growth, no reach");
        assert_eq!(due.reached(cleared, fx(1.68)), 0, "a lower drift");
        // Three quarters of the bucket is half of the part above 1.6875.
        assert_eq!(due.reached(cleared, fx(1.71875)), 2);
        // A drift in the next bucket takes the whole of the first.
        due.add(fx(1.8));
        assert_eq!(due.reached(cleared, fx(1.75)), 4);
        assert_eq!(due.reached(cleared, fx(2.0)), 5);
        // Triggers of zero are due however little the drift moved.
        due.add(Fx::ZERO);
        due.add(Fx::ZERO);
        assert_eq!(due.reached(cleared, cleared), 2);
        assert_eq!(due.reached(cleared, fx(1.71875)), 4);
        assert_eq!(due.reached(cleared, fx(2.0)), 7);
    }
}

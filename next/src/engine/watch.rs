//! Which accounts a round's moves can have made liquidatable, without
//! valuing every account every round.
//!
//! Maintenance health is a sum of terms, one per balance: a deposit's
//! `shares × share price × weight`, a debt's `−debt × price × weight`. Only
//! a deposit whose share price falls (its price, or its index after a
//! socialized loss) or a debt whose price rises lowers it; the quote's
//! price never moves. The engine keeps the **drift** `G`, the product over
//! rounds of `1 + ε`, where `ε` is the largest relative adverse move of any
//! such factor in the round, rounded up (only the debts of assets some
//! watched account owes count). An account valued at drift `G₀` with net
//! health `net`, `exposed` the sum of its deposit terms and non-quote debt
//! terms, and `x = G / G₀`, has health now at least
//! `deposits/x − debts·x − quote debt ≥ net − (x − 1)·exposed`
//! (as `1/x ≥ 2 − x`), less one base unit of value per term for rounding
//! (the slack, taken from `net` first). So it cannot be liquidatable while
//! `G ≤ G₀·(1 + net/exposed)`: its **trigger** (`G₀·deposits/quote debt`,
//! which is exact, when it owes only the quote).
//!
//! The watched accounts wait in **buckets** by trigger: 256 a doubling of
//! the drift on 64-bit hosts, 64 on 32-bit targets ([`SUB_BITS`]), in a
//! ring of [`RING`] buckets, each a
//! list of blocks of [`BLOCK_IDS`] accounts ([`Lists`]). Each round values
//! the accounts in every bucket from the last round's up to the drift's
//! own (the last round's holds the accounts a liquidation left
//! liquidatable): those below the drift's are due, those in it may be,
//! those above it are not. Each is then
//! a candidate (liquidatable now) or goes back into the bucket of its new
//! trigger, never below the drift's (a trigger is rounded down). Triggers
//! past the ring's reach go on a far list, valued again
//! when the drift has grown by half the ring. So a round pays
//! for the accounts its moves reach, and the buckets need no order kept:
//! inserting an account and taking a bucket are O(1). The drift is Q32.32 fixed
//! point; past 2^16 it is divided by 2^16 and the buckets are counted 16
//! doublings further on (an epoch): whole turns of the ring, so every waiting
//! account stays in its slot.

use crate::account::{sums, Sums, Terms};
use crate::num::{ArithError, ArithResult, Qty, Weighted};

/// The end of a list.
pub const NIL: u32 = u32::MAX;
/// Buckets in the ring: 8 doublings of the drift on 64-bit hosts (a trigger
/// past 256 times the drift waits on the far list, valued again each 16
/// times), 4 on 32-bit targets, whose stack the heads take (1 KB for 256).
/// Neither this, nor the buckets a doubling, nor [`BLOCK_IDS`] changes a
/// result: only which accounts wait where, and every target's digests are
/// the same.
#[cfg(target_pointer_width = "64")]
pub const RING: usize = 2048;
/// Buckets in the ring (see above).
#[cfg(not(target_pointer_width = "64"))]
pub const RING: usize = 256;
const RING_BUCKETS: u64 = RING as u64;

/// Ring slot of bucket `b`.
pub fn slot_of(b: u64) -> usize {
    b.checked_rem(RING_BUCKETS).unwrap_or(0) as usize
}
/// Bits of a bucket below its doubling: 256 buckets a doubling on 64-bit
/// hosts (each about 0.27% wide: an account within a bucket's width of its
/// threshold is valued every round the drift moves, and a rate-limited
/// cascade keeps many there; 64 a doubling valued 2.6 times as many), 64
/// on 32-bit targets.
#[cfg(target_pointer_width = "64")]
const SUB_BITS: u32 = 8;
/// Bits of a bucket below its doubling (see above).
#[cfg(not(target_pointer_width = "64"))]
const SUB_BITS: u32 = 6;
/// One, in the drift's Q32.32.
pub const DRIFT_ONE: u64 = 1 << 32;
/// Doublings the drift is brought down by once it reaches 2^16.
const REBASE_DOUBLINGS: u32 = 16;
/// Buckets a rebase moves: two or four whole turns of the ring.
const REBASE_BUCKETS: u64 = (REBASE_DOUBLINGS as u64) << SUB_BITS;

/// The bucket of a Q32.32 value `x >= 1`: its doubling, then the
/// [`SUB_BITS`] bits after its leading one. Monotone: `x <= y` gives `bucket(x) <= bucket(y)`,
/// and every value in a bucket is at least the bucket's first.
pub fn bucket(x: u64) -> u64 {
    let x = x.max(1);
    let doubling = 63u32.saturating_sub(x.leading_zeros());
    let aligned = if doubling >= SUB_BITS {
        x.checked_shr(doubling.wrapping_sub(SUB_BITS))
    } else {
        x.checked_shl(SUB_BITS.wrapping_sub(doubling))
    };
    let below = aligned.unwrap_or(0) & ((1 << SUB_BITS) - 1);
    (u64::from(doubling) << SUB_BITS) | below
}

/// The watch: the drift, the ring's position and the far list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watch {
    /// `G`, Q32.32, rounded up.
    pub drift: u64,
    /// The lowest bucket that may hold an account: every one below it was
    /// taken.
    pub cursor: u64,
    /// The cursor when the far list was last valued.
    pub far_from: u64,
    /// Buckets the rebases have moved the drift by: an account's bucket
    /// is its trigger's plus this.
    pub epoch: u64,
    /// Assets some watched account owes (bit `i`: asset `i`).
    pub owed: u32,
}

impl Default for Watch {
    fn default() -> Self {
        Self {
            drift: DRIFT_ONE,
            cursor: bucket(DRIFT_ONE),
            far_from: bucket(DRIFT_ONE),
            epoch: 0,
            owed: 0,
        }
    }
}

/// What valuing an account found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Valued {
    /// Maintenance health below zero: liquidate it (its net health).
    Liquidatable(Weighted),
    /// Not liquidatable while the drift stays at or below the trigger.
    Watch(u64),
    /// No debt: never liquidatable (until its balances change).
    Settled,
}

/// Where a row with `sums` goes at a drift of `drift`. `max_weight` is
/// the largest weight of any tier (a base unit of value is that many
/// weighted units at most: the slack a term needs).
#[inline]
pub fn place(s: &Sums, drift: u64, max_weight: u64) -> Valued {
    let net = s.net().0;
    if net < 0 {
        return Valued::Liquidatable(Weighted(net));
    }
    let (quote_debt, debts) = (s.quote_debt, s.debts);
    if quote_debt == 0 && debts == 0 {
        return Valued::Settled;
    }
    let slack = s.terms.wrapping_mul(i128::from(max_weight));
    let net = net.wrapping_sub(slack);
    if net <= 0 {
        return Valued::Watch(drift);
    }
    // For the quote debt alone, x <= deposits / (quote debt + slack): the
    // deposits fall by x, their rounding (the slack) does not. Otherwise
    // x <= 1 + net / exposed, the slack taken from `net`. Both sides are
    // positive.
    let factor = match debts {
        0 => ratio_floor(
            s.deposits.unsigned_abs(),
            quote_debt.wrapping_add(slack).unsigned_abs(),
        ),
        _ => ratio_floor(
            net.unsigned_abs(),
            s.deposits.wrapping_add(debts).unsigned_abs(),
        )
        .saturating_add(DRIFT_ONE),
    };
    let trigger = u128::from(drift).wrapping_mul(u128::from(factor)) >> 32;
    Valued::Watch(u64::try_from(trigger).unwrap_or(u64::MAX))
}

/// Values `row` at `terms` and places it at a drift of `drift` (see
/// [`place`]), noting its debts in `owed`.
pub fn value(
    row: &[Qty],
    terms: &[Terms],
    drift: u64,
    max_weight: u64,
    owed: &mut u32,
) -> ArithResult<Valued> {
    let sums = sums(row, terms)?;
    *owed |= sums.owes;
    Ok(place(&sums, drift, max_weight))
}

/// Bits of a denominator [`ratio_floor`] keeps.
const FLOOR_BITS: u32 = 16;

/// `num / den` in Q32.32 for `num, den > 0`, a lower bound within 2^-15
/// of it relatively and 2^-16 absolutely (a bucket is 2^-6 wide): `den`
/// cut to its top 16 bits (rounded up), `num · 2^16` by the same shift
/// (rounded down), then one 64-bit division to a Q16 quotient. A ratio of
/// 2^32 or more saturates (the trigger is then past any drift the ring
/// reaches).
fn ratio_floor(num: u128, den: u128) -> u64 {
    let shift = (128 - FLOOR_BITS).saturating_sub(den.leading_zeros());
    let kept = den.checked_shr(shift).unwrap_or(0);
    let lost = kept.checked_shl(shift).unwrap_or(0) != den;
    // At most 2^16: the cut den is under 2^16 before the round-up.
    let den = (kept as u64).wrapping_add(u64::from(lost));
    // Lowering `num` keeps a lower bound: under 2^112 it shifts unwrapped.
    let num = (num.min(u128::MAX >> FLOOR_BITS) << FLOOR_BITS)
        .checked_shr(shift)
        .unwrap_or(0);
    // A Q16 quotient of 2^48 or more is a ratio of 2^32 or more: so is
    // `num >= 2^64` over `den <= 2^16`.
    let Ok(num) = u64::try_from(num) else {
        return u64::MAX;
    };
    let q = num.checked_div(den).unwrap_or(u64::MAX);
    if q >> (32 + FLOOR_BITS) != 0 {
        return u64::MAX;
    }
    q << (32 - FLOOR_BITS)
}

/// `num / den` in Q32.32, to 32 significant bits of `den`, bounded from
/// below (`up` false) or above (`up` true): `den` and `num` are cut by the
/// same shift, each rounded the way that moves the ratio the asked way.
/// Saturates at `u64::MAX` (and for `den = 0`).
pub fn ratio_bound(num: u128, den: u128, up: bool) -> u64 {
    let shift = 96u32.saturating_sub(den.leading_zeros());
    let cut = |x: u128, ceil: bool| {
        let kept = x.checked_shr(shift).unwrap_or(0);
        let lost = kept.checked_shl(shift).unwrap_or(0) != x;
        kept.saturating_add(u128::from(ceil && lost))
    };
    let (num, den) = (cut(num, up), cut(den, !up));
    if den == 0 || num >= den << 32 {
        return u64::MAX;
    }
    // num < 2^64 and den <= 2^32 now.
    let (num, den) = (num as u64, den as u64);
    let whole = num.checked_div(den).unwrap_or(0);
    let part = num.checked_rem(den).unwrap_or(0);
    let scaled = part << 32;
    let fraction = scaled.checked_div(den).unwrap_or(0);
    let rest = scaled.checked_rem(den).unwrap_or(0);
    let fraction = fraction.saturating_add(u64::from(up && rest != 0));
    (whole << 32).saturating_add(fraction)
}

impl Watch {
    /// Grows the drift by a round's largest adverse move, `ratio` in
    /// Q32.32 (at least one), rounding up; rebases past 2^16.
    pub fn grow(&mut self, ratio: u64) -> ArithResult<()> {
        // Under 2^48 times under 2^64: no overflow.
        let mut grown = u128::from(self.drift)
            .saturating_mul(u128::from(ratio))
            .div_ceil(u128::from(DRIFT_ONE));
        while grown >> (32 + REBASE_DOUBLINGS) != 0 {
            grown = grown.div_ceil(1 << REBASE_DOUBLINGS);
            self.epoch = self
                .epoch
                .checked_add(REBASE_BUCKETS)
                .ok_or(ArithError::Overflow)?;
        }
        self.drift = u64::try_from(grown).map_err(|_| ArithError::Overflow)?;
        Ok(())
    }

    /// The bucket of a trigger or of the drift, in this epoch.
    fn bucket(&self, x: u64) -> u64 {
        bucket(x).saturating_add(self.epoch)
    }

    /// The bucket the drift is in: this round takes every bucket from the
    /// cursor up to it.
    pub fn target(&self) -> u64 {
        self.bucket(self.drift)
    }

    /// Whether the far list is due to be valued again: when this round's
    /// drift reaches half a ring past the cursor it was last valued at.
    /// Every account on it waits at least a ring past that cursor (see
    /// [`Watch::list`]), so none is due before. (The drift's bucket, not the
    /// cursor: a round that moves the drift by more than half a ring at
    /// once reaches them in that round.)
    pub fn far_due(&self) -> bool {
        self.target() >= self.far_from.saturating_add(RING_BUCKETS >> 1)
    }

    /// The list an account with `trigger` waits on: its bucket's slot in
    /// the ring, or [`FAR`]. Never a bucket below the drift's: a trigger
    /// is a lower bound, and one rounded below the drift (the ratio's own
    /// rounding, for an account a hair above its threshold) would wait in
    /// a bucket this round's walk may have passed, until the ring came
    /// round to it again: the drift's own bucket is walked every round.
    pub fn list(&self, trigger: u64) -> usize {
        let b = self.bucket(trigger).max(self.target());
        if b >= self.cursor.saturating_add(RING_BUCKETS.saturating_sub(1)) {
            return FAR;
        }
        slot_of(b)
    }
}

/// Words of a block: its next block, its length, and [`BLOCK_IDS`] ids: a
/// 64-byte cache line on 64-bit hosts, half of one on 32-bit targets,
/// where the blocks are stack (a 24-account firmware's took 0.9 KB less).
#[cfg(target_pointer_width = "64")]
const BLOCK_WORDS: usize = 16;
/// Words of a block (see above).
#[cfg(not(target_pointer_width = "64"))]
const BLOCK_WORDS: usize = 8;
/// Accounts a block holds.
pub const BLOCK_IDS: usize = BLOCK_WORDS - 2;
/// The far list's head, after the ring's.
pub const FAR: usize = RING;

/// Blocks for `accounts` accounts: every account in a full block, one
/// part-filled block per list that holds any (no more lists than accounts,
/// nor than the ring's and the far one), the block a walk is reading and
/// the rest of the chain it took.
pub const fn blocks_for(accounts: usize) -> usize {
    let lists = if accounts < RING + 1 {
        accounts
    } else {
        RING + 1
    };
    accounts
        .div_ceil(BLOCK_IDS)
        .saturating_add(lists)
        .saturating_add(3)
}

/// The lists of watched accounts, in blocks of [`BLOCK_IDS`] ids: walking a
/// list reads one cache line a block, not one an account, and knows the
/// block's accounts ahead, to prefetch their rows. Storage: the heads
/// (the ring's, then the far list's), then the blocks.
pub struct Lists<'s> {
    words: &'s mut [u32],
    /// The first free block.
    free: u32,
}

impl<'s> Lists<'s> {
    /// Words of storage for `accounts` accounts.
    pub const fn words_for(accounts: usize) -> usize {
        blocks_for(accounts)
            .saturating_mul(BLOCK_WORDS)
            .saturating_add(RING + 1)
    }

    /// Empty lists over `words` ([`Lists::words_for`]), every block free.
    pub fn new(words: &'s mut [u32], accounts: usize) -> Option<Self> {
        if words.len() < Self::words_for(accounts) || u32::try_from(words.len()).is_err() {
            return None;
        }
        let blocks = blocks_for(accounts);
        words.iter_mut().for_each(|w| *w = NIL);
        let mut lists = Self { words, free: NIL };
        for block in (0..blocks).rev() {
            lists.release(block as u32);
        }
        Some(lists)
    }

    fn base(block: u32) -> usize {
        (block as usize)
            .saturating_mul(BLOCK_WORDS)
            .saturating_add(RING + 1)
    }

    fn word(&self, at: usize) -> u32 {
        self.words.get(at).copied().unwrap_or(NIL)
    }

    fn set(&mut self, at: usize, value: u32) {
        if let Some(w) = self.words.get_mut(at) {
            *w = value;
        }
    }

    /// Block `block`'s successor on its list.
    pub fn next_block(&self, block: u32) -> u32 {
        self.word(Self::base(block))
    }

    /// The accounts block `block` holds.
    pub fn ids(&self, block: u32) -> &[u32] {
        let base = Self::base(block);
        let len = (self.word(base.saturating_add(1)) as usize).min(BLOCK_IDS);
        let first = base.saturating_add(2);
        self.words
            .get(first..first.saturating_add(len))
            .unwrap_or(&[])
    }

    /// Returns block `block` to the free blocks.
    pub fn release(&mut self, block: u32) {
        let base = Self::base(block);
        self.set(base, self.free);
        self.set(base.saturating_add(1), 0);
        self.free = block;
    }

    /// Puts account `id` on list `list` (a ring slot, or [`FAR`]); `false`
    /// if no block is free (the storage holds enough: see [`blocks_for`]).
    pub fn push(&mut self, list: usize, id: u32) -> bool {
        let head = self.word(list);
        let len = match head {
            NIL => BLOCK_IDS,
            _ => self.word(Self::base(head).saturating_add(1)) as usize,
        };
        let block = if len < BLOCK_IDS {
            head
        } else {
            let fresh = self.free;
            if fresh == NIL {
                return false;
            }
            let base = Self::base(fresh);
            self.free = self.word(base);
            self.set(base, head);
            self.set(base.saturating_add(1), 0);
            self.set(list, fresh);
            fresh
        };
        let base = Self::base(block);
        let len = self.word(base.saturating_add(1));
        self.set(base.saturating_add(2).saturating_add(len as usize), id);
        self.set(base.saturating_add(1), len.saturating_add(1));
        true
    }

    /// Empties list `list`, returning its first block.
    pub fn take(&mut self, list: usize) -> u32 {
        let head = self.word(list);
        self.set(list, NIL);
        head
    }

    /// Starts loading block `block` (see [`firesale_hint`]).
    pub fn prefetch(&self, block: u32) {
        if let Some(w) = self.words.get(Self::base(block)) {
            firesale_hint::prefetch(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_sub_bits_a_doubling() {
        let (b, one) = (SUB_BITS, DRIFT_ONE);
        assert_eq!(bucket(one), 32 << b);
        assert_eq!(bucket(2 * one), 33 << b);
        assert_eq!(bucket(one + (one >> b)), (32 << b) + 1);
        assert_eq!(bucket(one + (one >> b) - 1), 32 << b);
        let mut last = 0;
        for x in (1u64..1 << 20).chain((DRIFT_ONE - 5_000..DRIFT_ONE + 5_000).step_by(7)) {
            let b = bucket(x);
            assert!(b >= last, "{x}");
            last = b;
        }
    }

    #[test]
    fn no_account_waits_below_the_drifts_bucket() {
        // Mid-walk: the cursor is last round's bucket, the drift has grown
        // five buckets past it.
        let drift = DRIFT_ONE + 5 * (DRIFT_ONE >> SUB_BITS);
        let w = Watch {
            drift,
            ..Watch::default()
        };
        assert_eq!(w.target(), w.cursor + 5);
        // A trigger rounded a hair below the drift waits in the drift's
        // bucket, which this round or the next walks, not in one the walk
        // has passed.
        assert_eq!(w.list(drift - 1), slot_of(w.target()));
        assert_eq!(w.list(DRIFT_ONE), slot_of(w.target()));
        assert_eq!(w.list(2 * drift), slot_of(bucket(2 * drift)));
    }

    #[test]
    fn a_rebase_moves_buckets_by_two_turns_of_the_ring() {
        for trigger in [1u64 << 40, (1 << 47) + 12_345, u64::MAX, (3 << 44) - 1] {
            let (before, after) = (bucket(trigger), bucket(trigger >> REBASE_DOUBLINGS));
            assert_eq!(after + REBASE_BUCKETS, before, "{trigger}");
            assert_eq!(after % RING as u64, before % RING as u64);
        }
        let mut w = Watch {
            drift: (1 << 48) - 1,
            ..Watch::default()
        };
        let target = w.target();
        w.grow(DRIFT_ONE + 1).unwrap();
        assert!(w.drift < 1 << 33);
        assert_eq!(w.epoch, REBASE_BUCKETS);
        assert!(w.target() >= target && w.target() - target <= 1);
        // A collapse many doublings deep rebases as often as it needs.
        w.grow(u64::MAX).unwrap();
        assert!(w.drift >> 48 == 0 && w.epoch >= 3 * REBASE_BUCKETS);
    }

    #[test]
    fn lists_hand_back_what_they_were_given_and_reuse_their_blocks() {
        let accounts = 1_000;
        let mut words = std::vec![0; Lists::words_for(accounts)];
        let mut lists = Lists::new(&mut words, accounts).unwrap();
        for round in 0..3 {
            // Every account on one of three lists, a few on the far one.
            for id in 0..accounts as u32 {
                let list = if id % 97 == 0 {
                    FAR
                } else {
                    (id as usize % 3) * 100 + round
                };
                assert!(lists.push(list, id));
            }
            let mut seen = std::vec::Vec::new();
            for list in [round, 100 + round, 200 + round, FAR] {
                let mut block = lists.take(list);
                while block != NIL {
                    seen.extend_from_slice(lists.ids(block));
                    let next = lists.next_block(block);
                    lists.release(block);
                    block = next;
                }
                assert_eq!(lists.take(list), NIL, "a taken list is empty");
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..accounts as u32).collect::<std::vec::Vec<_>>());
        }
        // More accounts than the storage was sized for run out of blocks.
        let mut pushed = 0;
        while lists.push(pushed % RING, pushed as u32) {
            pushed += 1;
        }
        assert!(pushed >= accounts && pushed < blocks_for(accounts) * BLOCK_IDS);
    }

    /// Checks [`ratio_floor`] on one pair against the quotient in `f64`.
    fn check_floor(num: u128, den: u128) {
        let exact = (num as f64) / (den as f64) * 4_294_967_296.0;
        let got = ratio_floor(num, den);
        if got == u64::MAX {
            assert!(exact >= 4_294_967_296.0 * 4_294_967_295.0, "{num}/{den}");
            return;
        }
        assert!(
            (got as f64) <= exact * (1.0 + 1e-12),
            "{num}/{den}: {got} > {exact}"
        );
        // Within 2^-15 relatively, less the Q16 quotient's last unit.
        assert!(
            (got as f64) >= exact * (1.0 - 1.0 / 32_768.0) - 65_536.0,
            "{num}/{den}: {got} << {exact}"
        );
    }

    #[test]
    fn ratios_are_lower_bounds_within_a_bucket() {
        for (num, den) in [
            (1u128, 3u128),
            (5, 5),
            (7 << 90, 3 << 88),
            (123_456_789_123_456_789, 987_654_321_987),
            (1, 1 << 100),
            (u128::MAX >> 1, 1),
            ((1 << 48) - 1, 1),
            (1 << 48, 1),
            ((1 << 64) + 1, (1 << 32) + 1),
        ] {
            check_floor(num, den);
        }
    }

    proptest::proptest! {
        #[test]
        fn ratios_are_lower_bounds_at_every_scale(
            num in 1u128..(1 << 108),
            den in 1u128..(1 << 108),
            num_shift in 0u32..100,
            den_shift in 0u32..100,
        ) {
            check_floor((num >> num_shift).max(1), (den >> den_shift).max(1));
        }
    }

    #[test]
    fn upper_bounds_are_upper_bounds() {
        for (num, den) in [
            (3u128, 2u128),
            (7, 7),
            (1 << 100, 3),
            (5 << 90, (1 << 92) + 1),
            (1 << 80, 1 << 60),
        ] {
            let exact = (num as f64) / (den as f64) * 4_294_967_296.0;
            let up = ratio_bound(num, den, true);
            let down = ratio_bound(num, den, false);
            if exact >= u64::MAX as f64 {
                // Past the range: both saturate.
                assert_eq!((up, down), (u64::MAX, u64::MAX), "{num}/{den}");
                continue;
            }
            assert!(up as f64 >= exact * (1.0 - 1e-12), "{num}/{den}");
            assert!(down as f64 <= exact * (1.0 + 1e-12), "{num}/{den}");
            assert!(
                up >= down && up - down <= 3 || up == u64::MAX,
                "{num}/{den}"
            );
        }
        assert_eq!(ratio_bound(1, 0, true), u64::MAX);
        assert_eq!(ratio_bound(3, 2, true), 3 << 31);
    }
}

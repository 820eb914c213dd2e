//! The order in which ranked auto-deleveraging takes opposite positions,
//! kept between events so that an event costs the positions it takes, not
//! a pass over the book.
//!
//! The rank is leverage: `|position| / equity` at the oracle, highest
//! first, ties to the lower id. For a row holding one risky asset (`r`
//! units, `c` of the quote on the other side or the same), equity is
//! `c + r·p` and the leverage `|r| / (c + r·p)`; among the eligible (equity
//! above zero) it falls as `k = c / |r|` rises, at every price. So the rows
//! of each (asset, side) sit in a search tree by `(k, id)`, compared
//! exactly (`c₁·|r₂|` against `c₂·|r₁|` in `i128`), and an event walks up
//! from the first eligible key: eligibility (`c·10^e + r·m > 0` at the
//! price `m / 10^e`) is monotone in `k`. Nothing moves a key but a write to
//! its row: under ranked deleveraging no index moves (every loss goes to
//! the other side), so stored balances are the effective ones.
//!
//! Rows holding several risky assets have no such key: they wait on one
//! list, valued at each event ([`Ranks::mixed`]).
//!
//! The tree is a treap (a search tree by key, a heap by a hash of the id),
//! one node an account in caller storage, linked by parent, so insert,
//! remove and successor are loops, not recursion. Each loop is bounded by
//! the accounts: a tree that storage corruption had made cyclic ends in an
//! error, not a hang.

use crate::num::{ArithError, ArithResult, Price, Qty};

/// No node.
pub const NONE: u32 = u32::MAX;
/// Not ranked: a row with no risky position.
const UNRANKED: u8 = 0;
/// On the list of rows holding several risky assets.
const MIXED: u8 = 1;

/// One account's place in the ranking (caller storage:
/// [`super::Storage::rank_slots`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RankNode {
    left: u32,
    right: u32,
    parent: u32,
    /// [`UNRANKED`], [`MIXED`], or `2 + 2·asset + short`.
    tree: u8,
    /// The key the row is filed by, `(c, |r|)`: held here so that a walk
    /// down the tree reads nodes, not rows.
    key: (i64, u64),
    /// The next row on the same dirty list ([`Ranks::mark`]).
    next_dirty: u32,
    /// The tree whose dirty list the row waits on ([`UNRANKED`]: none).
    dirty: u8,
}

impl Default for RankNode {
    fn default() -> Self {
        Self {
            left: NONE,
            right: NONE,
            parent: NONE,
            tree: UNRANKED,
            key: (0, 0),
            next_dirty: NONE,
            dirty: UNRANKED,
        }
    }
}

/// The tree of `asset`'s longs or shorts.
pub fn tree_of(asset: usize, short: bool) -> u8 {
    let t = 2usize
        .saturating_add(asset.saturating_mul(2))
        .saturating_add(usize::from(short));
    u8::try_from(t).unwrap_or(u8::MAX)
}

/// Where a row belongs: the tree of its one risky position, the mixed
/// list, or nowhere.
pub fn place_of(row: &[Qty]) -> u8 {
    let mut held = row.iter().enumerate().skip(1).filter(|(_, b)| b.0 != 0);
    match (held.next(), held.next()) {
        (None, _) => UNRANKED,
        (Some((asset, b)), None) => tree_of(asset, b.is_negative()),
        _ => MIXED,
    }
}

/// A row's key in tree `tree`: its quote and the size of its position.
fn key(row: &[Qty], tree: u8) -> (i64, u64) {
    let asset = usize::from(tree.saturating_sub(2) / 2);
    let c = row.first().map_or(0, |q| q.0);
    let r = row.get(asset).map_or(0, |b| b.0.unsigned_abs());
    (c, r)
}

/// `(k, id)` of `a` comes before that of `b`: `c_a / r_a < c_b / r_b`,
/// exactly, then the lower id.
fn before((ca, ra, ida): (i64, u64, u32), (cb, rb, idb): (i64, u64, u32)) -> bool {
    let lhs = i128::from(ca).wrapping_mul(i128::from(rb));
    let rhs = i128::from(cb).wrapping_mul(i128::from(ra));
    lhs < rhs || (lhs == rhs && ida < idb)
}

/// Whether a row of tree `tree` with key `(c, r)` has equity above zero at
/// `price` (the share price for longs, the oracle for shorts), exactly.
pub fn eligible(tree: u8, (c, r): (i64, u64), price: Price) -> bool {
    let short = tree.wrapping_sub(2) % 2 == 1;
    let position = u128::from(r).wrapping_mul(u128::from(price.mantissa()));
    let quote = u128::from(c.unsigned_abs()).wrapping_mul(u128::from(price.divisor()));
    match (short, c >= 0) {
        // A long with no debt has equity; one in debt, if its holding is
        // worth more.
        (false, true) => r > 0,
        (false, false) => position > quote,
        // A short, if its quote is worth more than its debt.
        (true, true) => quote > position,
        (true, false) => false,
    }
}

/// Account `id`'s row among `rows` of `width` balances each.
fn row_of(rows: &[Qty], id: u32, width: usize) -> ArithResult<&[Qty]> {
    rows.get((id as usize).saturating_mul(width)..)
        .and_then(|r| r.get(..width))
        .ok_or(ArithError::Domain)
}

/// A priority for the heap order: a hash of the id, so that the tree's
/// depth does not depend on the keys.
fn priority(id: u32) -> u64 {
    (u64::from(id) ^ 0x5851_f42d_4c95_7f2d).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(id)
}

/// The trees (`T` roots: both sides of `T / 2` assets) and the mixed
/// list over caller storage.
pub struct Ranks<'s, const T: usize> {
    nodes: &'s mut [RankNode],
    roots: [u32; T],
    /// Per tree, the first row written since the tree was last read whose
    /// key or place it may have to change ([`Ranks::mark`]).
    dirty: [u32; T],
    /// The mixed list's first row; `left` and `right` link it.
    mixed: u32,
}

impl<'s, const T: usize> Ranks<'s, T> {
    /// Empty over `nodes` (every node reset: storage may come from an
    /// earlier run).
    pub fn new(nodes: &'s mut [RankNode]) -> Self {
        nodes.fill(RankNode::default());
        Self {
            nodes,
            roots: [NONE; T],
            dirty: [NONE; T],
            mixed: NONE,
        }
    }

    fn node(&self, id: u32) -> ArithResult<RankNode> {
        self.nodes
            .get(id as usize)
            .copied()
            .ok_or(ArithError::Domain)
    }

    fn node_mut(&mut self, id: u32) -> ArithResult<&mut RankNode> {
        self.nodes.get_mut(id as usize).ok_or(ArithError::Domain)
    }

    fn root_mut(&mut self, tree: u8) -> ArithResult<&mut u32> {
        self.roots
            .get_mut(usize::from(tree).wrapping_sub(2))
            .ok_or(ArithError::Domain)
    }

    /// Notes that account `id`'s row was written. A tree is brought up to
    /// date only when it is read ([`Ranks::flush`]), so that the writes to
    /// a side no deleveraging reads (the longs, in a crash) cost one list
    /// push each, not a walk down the tree: a write whose row stays on its
    /// tree, leaves it, or joins one from none waits on that tree's dirty
    /// list. One that moves a row between a tree and another or the mixed
    /// list is filed at once, so that no tree or list misses a row.
    pub fn mark(&mut self, id: u32, rows: &[Qty], width: usize) -> ArithResult<()> {
        let row = row_of(rows, id, width)?;
        let (place, n) = (place_of(row), self.node(id)?);
        let waits_on = match (n.tree, place) {
            (UNRANKED, UNRANKED) => return Ok(()),
            (old, new) if old == new && old > MIXED => old,
            (old, UNRANKED) if old > MIXED => old,
            (UNRANKED, new) if new > MIXED => new,
            _ => return self.rerank(id, rows, width),
        };
        match n.dirty {
            UNRANKED => {}
            waiting if waiting == waits_on => return Ok(()),
            // On another tree's list (it joined that tree, then moved at
            // once): filed now, and again, harmlessly, when that list is.
            _ => return self.rerank(id, rows, width),
        }
        let head = self
            .dirty
            .get_mut(usize::from(waits_on).wrapping_sub(2))
            .ok_or(ArithError::Domain)?;
        let next = core::mem::replace(head, id);
        let node = self.node_mut(id)?;
        node.next_dirty = next;
        node.dirty = waits_on;
        Ok(())
    }

    /// Files anew every row on tree `tree`'s dirty list: the tree then
    /// holds each of its rows at its key, and every row whose place it is.
    pub fn flush(&mut self, tree: u8, rows: &[Qty], width: usize) -> ArithResult<()> {
        let slot = usize::from(tree).wrapping_sub(2);
        let mut at = core::mem::replace(self.dirty.get_mut(slot).ok_or(ArithError::Domain)?, NONE);
        for _ in 0..=self.nodes.len() {
            if at == NONE {
                return Ok(());
            }
            let node = self.node_mut(at)?;
            let next = core::mem::replace(&mut node.next_dirty, NONE);
            node.dirty = UNRANKED;
            self.rerank(at, rows, width)?;
            at = next;
        }
        Err(ArithError::Domain)
    }

    /// The first row of the mixed list ([`NONE`] if empty).
    pub fn mixed(&self) -> u32 {
        self.mixed
    }

    /// The row after `id` on the mixed list.
    pub fn next_mixed(&self, id: u32) -> u32 {
        self.nodes.get(id as usize).map_or(NONE, |n| n.right)
    }

    /// Files account `id` by its row as it stands (`rows`: every account's
    /// row, `width` balances each), taking it from where it was. A key
    /// still between its neighbours' (a liquidation step moves a row's
    /// quote and position together, and its key a little) is rewritten in
    /// place: a few nodes read, not two walks down the tree.
    pub fn rerank(&mut self, id: u32, rows: &[Qty], width: usize) -> ArithResult<()> {
        let row = row_of(rows, id, width)?;
        let place = place_of(row);
        let old = self.node(id)?;
        if place == old.tree && place > MIXED {
            let new = key(row, place);
            if new == old.key || self.fits(id, (new.0, new.1, id))? {
                self.node_mut(id)?.key = new;
                return Ok(());
            }
        }
        self.remove(id)?;
        match place {
            UNRANKED => Ok(()),
            MIXED => {
                let head = self.mixed;
                if head != NONE {
                    self.node_mut(head)?.left = id;
                }
                let node = self.node_mut(id)?;
                (node.left, node.right, node.parent) = (NONE, head, NONE);
                node.tree = MIXED;
                self.mixed = id;
                Ok(())
            }
            tree => self.insert(id, tree, key(row, tree)),
        }
    }

    /// Node `id`'s key with its id, for [`before`].
    fn key_of(&self, id: u32) -> ArithResult<(i64, u64, u32)> {
        let (c, r) = self.node(id)?.key;
        Ok((c, r, id))
    }

    /// Whether `new` still comes after `id`'s predecessor and before its
    /// successor.
    fn fits(&self, id: u32, new: (i64, u64, u32)) -> ArithResult<bool> {
        let after = self.successor(id)?;
        if after != NONE && !before(new, self.key_of(after)?) {
            return Ok(false);
        }
        let prior = self.predecessor(id)?;
        Ok(prior == NONE || before(self.key_of(prior)?, new))
    }

    fn insert(&mut self, id: u32, tree: u8, (c, r): (i64, u64)) -> ArithResult<()> {
        let root = *self.root_mut(tree)?;
        let mine = (c, r, id);
        let mut parent = NONE;
        let mut at = root;
        let mut left = false;
        for _ in 0..=self.nodes.len() {
            if at == NONE {
                break;
            }
            parent = at;
            left = before(mine, self.key_of(at)?);
            let n = self.node(at)?;
            at = if left { n.left } else { n.right };
        }
        if at != NONE {
            return Err(ArithError::Domain);
        }
        let node = self.node_mut(id)?;
        (node.left, node.right, node.parent) = (NONE, NONE, parent);
        (node.tree, node.key) = (tree, (c, r));
        match parent {
            NONE => *self.root_mut(tree)? = id,
            p if left => self.node_mut(p)?.left = id,
            p => self.node_mut(p)?.right = id,
        }
        // Up while it outranks its parent in the heap order.
        for _ in 0..=self.nodes.len() {
            let p = self.node(id)?.parent;
            if p == NONE || priority(p) >= priority(id) {
                return Ok(());
            }
            self.rotate_up(id)?;
        }
        Err(ArithError::Domain)
    }

    /// Rotates `x` above its parent, keeping the key order.
    fn rotate_up(&mut self, x: u32) -> ArithResult<()> {
        let nx = self.node(x)?;
        let p = nx.parent;
        let np = self.node(p)?;
        let g = np.parent;
        if np.left == x {
            let moved = nx.right;
            self.node_mut(p)?.left = moved;
            if moved != NONE {
                self.node_mut(moved)?.parent = p;
            }
            self.node_mut(x)?.right = p;
        } else {
            let moved = nx.left;
            self.node_mut(p)?.right = moved;
            if moved != NONE {
                self.node_mut(moved)?.parent = p;
            }
            self.node_mut(x)?.left = p;
        }
        self.node_mut(p)?.parent = x;
        self.node_mut(x)?.parent = g;
        self.replace_child(g, p, x, nx.tree)
    }

    /// Makes `new` the child of `g` where `old` was (or the root).
    fn replace_child(&mut self, g: u32, old: u32, new: u32, tree: u8) -> ArithResult<()> {
        if g == NONE {
            *self.root_mut(tree)? = new;
            return Ok(());
        }
        let ng = self.node_mut(g)?;
        if ng.left == old {
            ng.left = new;
        } else {
            ng.right = new;
        }
        Ok(())
    }

    /// Takes account `id` out of its tree or the mixed list.
    fn remove(&mut self, id: u32) -> ArithResult<()> {
        let n = self.node(id)?;
        match n.tree {
            UNRANKED => return Ok(()),
            MIXED => {
                match n.left {
                    NONE => self.mixed = n.right,
                    prev => self.node_mut(prev)?.right = n.right,
                }
                if n.right != NONE {
                    self.node_mut(n.right)?.left = n.left;
                }
                self.unlink(id)?;
                return Ok(());
            }
            _ => {}
        }
        // Down, under the child first in the heap order, until it has at
        // most one child.
        for _ in 0..=self.nodes.len() {
            let n = self.node(id)?;
            let child = match (n.left, n.right) {
                (NONE, c) | (c, NONE) => {
                    if c != NONE {
                        self.node_mut(c)?.parent = n.parent;
                    }
                    self.replace_child(n.parent, id, c, n.tree)?;
                    self.unlink(id)?;
                    return Ok(());
                }
                (l, r) if priority(l) > priority(r) => l,
                (_, r) => r,
            };
            self.rotate_up(child)?;
        }
        Err(ArithError::Domain)
    }

    /// Clears node `id`'s place, keeping its dirty-list link.
    fn unlink(&mut self, id: u32) -> ArithResult<()> {
        let node = self.node_mut(id)?;
        (node.left, node.right, node.parent) = (NONE, NONE, NONE);
        node.tree = UNRANKED;
        Ok(())
    }

    /// The first row of tree `tree` in key order whose key `(c, |r|)`
    /// `pred` holds for, `pred` being false then true along the order
    /// ([`NONE`] if none).
    pub fn first_where(
        &self,
        tree: u8,
        mut pred: impl FnMut((i64, u64)) -> bool,
    ) -> ArithResult<u32> {
        let mut at = self
            .roots
            .get(usize::from(tree).wrapping_sub(2))
            .copied()
            .ok_or(ArithError::Domain)?;
        let mut found = NONE;
        for _ in 0..=self.nodes.len() {
            if at == NONE {
                return Ok(found);
            }
            let n = self.node(at)?;
            if pred(n.key) {
                found = at;
                at = n.left;
            } else {
                at = n.right;
            }
        }
        Err(ArithError::Domain)
    }

    /// The row before `id` in its tree's key order ([`NONE`] at the start).
    pub fn predecessor(&self, id: u32) -> ArithResult<u32> {
        let n = self.node(id)?;
        let bound = self.nodes.len();
        if n.left != NONE {
            let mut at = n.left;
            for _ in 0..=bound {
                let right = self.node(at)?.right;
                if right == NONE {
                    return Ok(at);
                }
                at = right;
            }
            return Err(ArithError::Domain);
        }
        let mut at = id;
        for _ in 0..=bound {
            let p = self.node(at)?.parent;
            if p == NONE || self.node(p)?.right == at {
                return Ok(p);
            }
            at = p;
        }
        Err(ArithError::Domain)
    }

    /// The row after `id` in its tree's key order ([`NONE`] at the end).
    pub fn successor(&self, id: u32) -> ArithResult<u32> {
        let n = self.node(id)?;
        let bound = self.nodes.len();
        if n.right != NONE {
            let mut at = n.right;
            for _ in 0..=bound {
                let left = self.node(at)?.left;
                if left == NONE {
                    return Ok(at);
                }
                at = left;
            }
            return Err(ArithError::Domain);
        }
        let mut at = id;
        for _ in 0..=bound {
            let p = self.node(at)?.parent;
            if p == NONE || self.node(p)?.left == at {
                return Ok(p);
            }
            at = p;
        }
        Err(ArithError::Domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// Rows of two assets (the quote and one risky), `(c, r)` each.
    fn rows_of(keys: &[(i64, i64)]) -> Vec<Qty> {
        keys.iter().flat_map(|&(c, r)| [Qty(c), Qty(r)]).collect()
    }

    /// Tree `tree`'s ids in order, by successor from the first.
    fn in_order(ranks: &Ranks<'_, 4>, tree: u8) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = ranks.first_where(tree, |_| true).unwrap();
        while at != NONE {
            out.push(at);
            at = ranks.successor(at).unwrap();
        }
        out
    }

    /// What the tree should hold: the ids on `tree`, sorted by the exact
    /// rational key then id.
    fn expected(keys: &[(i64, i64)], tree: u8) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..keys.len() as u32)
            .filter(|&i| {
                let (c, r) = keys[i as usize];
                place_of(&[Qty(c), Qty(r)]) == tree
            })
            .collect();
        ids.sort_by(|&a, &b| {
            let (ca, ra) = keys[a as usize];
            let (cb, rb) = keys[b as usize];
            // c_a / |r_a| against c_b / |r_b|, as rationals.
            let l = i128::from(ca) * i128::from(rb.unsigned_abs());
            let r = i128::from(cb) * i128::from(ra.unsigned_abs());
            l.cmp(&r).then(a.cmp(&b))
        });
        ids
    }

    #[test]
    fn a_node_takes_forty_bytes() {
        // docs/containment.md states the storage an account costs.
        assert_eq!(core::mem::size_of::<RankNode>(), 40);
    }

    #[test]
    fn rows_are_placed_by_their_risky_positions() {
        assert_eq!(place_of(&[Qty(5), Qty(0), Qty(0)]), UNRANKED);
        assert_eq!(place_of(&[Qty(-5), Qty(3), Qty(0)]), tree_of(1, false));
        assert_eq!(place_of(&[Qty(5), Qty(0), Qty(-3)]), tree_of(2, true));
        assert_eq!(place_of(&[Qty(5), Qty(1), Qty(-3)]), MIXED);
    }

    #[test]
    fn eligibility_is_equity_above_zero_exactly() {
        // 2 quote units a base unit: a long of 3 owing 6 has none.
        let p = Price::new(2, 0).unwrap();
        let long = tree_of(1, false);
        assert!(!eligible(long, (-6, 3), p));
        assert!(eligible(long, (-5, 3), p));
        assert!(eligible(long, (4, 3), p));
        let short = tree_of(1, true);
        assert!(!eligible(short, (6, 3), p));
        assert!(eligible(short, (7, 3), p));
        assert!(!eligible(short, (-1, 3), p));
        // Over an exponent: 1.5 a unit, a short of 2 holding 3 has none.
        let p = Price::new(15, 1).unwrap();
        assert!(!eligible(short, (3, 2), p));
        assert!(eligible(short, (4, 2), p));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any sequence of re-rankings leaves each tree in exact key order,
        /// and the first row past a threshold is the one a scan finds.
        #[test]
        fn trees_keep_the_exact_order_through_any_writes(
            start in proptest::collection::vec((-50i64..50, -6i64..6), 1..40),
            writes in proptest::collection::vec((0usize..40, -50i64..50, -6i64..6), 0..80),
            threshold in -60i64..60,
        ) {
            let mut keys = start.clone();
            let mut nodes = vec![RankNode::default(); keys.len()];
            let mut rows = rows_of(&keys);
            let mut ranks = Ranks::<4>::new(&mut nodes);
            for id in 0..keys.len() as u32 {
                ranks.rerank(id, &rows, 2).unwrap();
            }
            for (at, c, r) in writes {
                let id = at % keys.len();
                keys[id] = (c, r);
                rows = rows_of(&keys);
                ranks.rerank(id as u32, &rows, 2).unwrap();
            }
            for tree in [tree_of(1, false), tree_of(1, true)] {
                let order = in_order(&ranks, tree);
                prop_assert_eq!(&order, &expected(&keys, tree));
                // The first with k = c/|r| above the threshold.
                let above = |(c, r): (i64, u64)| {
                    i128::from(c) > i128::from(threshold) * i128::from(r)
                };
                let scan = order.iter().copied().find(|&id| {
                    let (c, r) = keys[id as usize];
                    above((c, r.unsigned_abs()))
                });
                prop_assert_eq!(ranks.first_where(tree, above).unwrap(), scan.unwrap_or(NONE));
                // Walking back from the end finds the same order.
                let mut back = Vec::new();
                let mut at = order.last().copied().unwrap_or(NONE);
                while at != NONE {
                    back.push(at);
                    at = ranks.predecessor(at).unwrap();
                }
                back.reverse();
                prop_assert_eq!(&back, &order);
            }
        }
    }

    /// Tree `tree`'s ids as they should be over rows of `width`: those
    /// placed on it, by the exact key then id.
    fn expected_rows(rows: &[Qty], width: usize, tree: u8) -> Vec<u32> {
        let mut ids: Vec<(i64, u64, u32)> = rows
            .chunks(width)
            .enumerate()
            .filter(|(_, row)| place_of(row) == tree)
            .map(|(id, row)| {
                let (c, r) = key(row, tree);
                (c, r, id as u32)
            })
            .collect();
        ids.sort_by(|a, b| {
            let l = i128::from(a.0) * i128::from(b.1);
            let r = i128::from(b.0) * i128::from(a.1);
            l.cmp(&r).then(a.2.cmp(&b.2))
        });
        ids.into_iter().map(|k| k.2).collect()
    }

    fn mixed_of(ranks: &Ranks<'_, 6>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = ranks.mixed();
        while at != NONE {
            out.push(at);
            at = ranks.next_mixed(at);
        }
        out.sort_unstable();
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Writes noted lazily ([`Ranks::mark`]) over rows of two risky
        /// assets, whose rows switch trees and go mixed: a tree read after
        /// its flush holds exactly its rows in exact order, whatever the
        /// other trees' lists hold, and the mixed list is always whole.
        #[test]
        fn a_flushed_tree_is_exact_whatever_waits_elsewhere(
            start in proptest::collection::vec((-50i64..50, -3i64..3, -3i64..3), 1..30),
            ops in proptest::collection::vec(
                (0usize..30, -50i64..50, -3i64..3, -3i64..3, 0u8..8), 0..120),
        ) {
            let mut rows: Vec<Qty> =
                start.iter().flat_map(|&(c, a, b)| [Qty(c), Qty(a), Qty(b)]).collect();
            let accounts = start.len();
            let mut nodes = vec![RankNode::default(); accounts];
            let mut ranks = Ranks::<6>::new(&mut nodes);
            for id in 0..accounts as u32 {
                ranks.mark(id, &rows, 3).unwrap();
            }
            let trees = [tree_of(1, false), tree_of(1, true), tree_of(2, false), tree_of(2, true)];
            for (at, c, a, b, op) in ops {
                if let Some(&tree) = trees.get(usize::from(op)) {
                    ranks.flush(tree, &rows, 3).unwrap();
                    let order = {
                        let mut out = Vec::new();
                        let mut at = ranks.first_where(tree, |_| true).unwrap();
                        while at != NONE {
                            out.push(at);
                            at = ranks.successor(at).unwrap();
                        }
                        out
                    };
                    prop_assert_eq!(order, expected_rows(&rows, 3, tree));
                } else {
                    let id = at % accounts;
                    rows[3 * id..3 * id + 3].copy_from_slice(&[Qty(c), Qty(a), Qty(b)]);
                    ranks.mark(id as u32, &rows, 3).unwrap();
                }
                let mixed: Vec<u32> = (0..accounts as u32)
                    .filter(|&id| place_of(&rows[3 * id as usize..3 * id as usize + 3]) == MIXED)
                    .collect();
                prop_assert_eq!(mixed_of(&ranks), mixed);
            }
        }
    }

    #[test]
    fn the_mixed_list_holds_rows_with_several_positions() {
        let rows = [
            Qty(0),
            Qty(1),
            Qty(-1),
            Qty(0),
            Qty(2),
            Qty(0),
            Qty(0),
            Qty(-1),
            Qty(1),
        ];
        let mut nodes = vec![RankNode::default(); 3];
        let mut ranks = Ranks::<4>::new(&mut nodes);
        for id in 0..3 {
            ranks.rerank(id, &rows, 3).unwrap();
        }
        let listed = |r: &Ranks<'_, 4>| {
            let mut out = Vec::new();
            let mut at = r.mixed();
            while at != NONE {
                out.push(at);
                at = r.next_mixed(at);
            }
            out
        };
        assert_eq!(listed(&ranks), [2, 0]);
        let mut rows = rows;
        rows[8] = Qty(0);
        ranks.rerank(2, &rows, 3).unwrap();
        assert_eq!(listed(&ranks), [0]);
        assert_eq!(in_order(&ranks, tree_of(1, true)), [2]);
    }
}

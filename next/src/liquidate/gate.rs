//! What containment leaves a unit this round ([`Gate`]): the assets no step
//! may touch, and the debt value steps may still repay. The engine keeps
//! the gate over a round (`engine::limits`) and hands it to each unit; a
//! unit plans against its own copy, charging each step as it plans it,
//! and the copy replaces the engine's only when the unit's plan is written.
//!
//! A step's room is the least of the round's notional room, the keepers'
//! capital and its collateral's notional room, in debt value at the
//! liability's oracle price; the step repays at most that, rounded down
//! to base units, and is charged what it repays, rounded up. Collateral
//! whose room is spent waits, as does every asset in `blocked`: a unit that
//! finds only such a pair waits for a later round (MakerDAO's `Hole` and
//! `hole`, dYdX's per-block limits, a breaker's halt).

use crate::num::{ArithResult, Value};

/// Containment's limits on the units of one round, over `A` assets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate<const A: usize> {
    /// Assets no step may touch (a halt, a stale oracle): bit `i` is asset
    /// `i`.
    pub blocked: u32,
    /// Debt value the round may still repay over all collateral; `None`
    /// for no cap.
    pub notional: Option<Value>,
    /// Quote the keepers hold; `None` for keepers without limit.
    pub keepers: Option<Value>,
    /// Sale proceeds less fees, owed back to the keepers next round.
    pub returns: Value,
    /// Per collateral asset, the debt value steps seizing it may still
    /// repay this round; `None` for no cap.
    pub per_asset: [Option<Value>; A],
}

impl<const A: usize> Default for Gate<A> {
    fn default() -> Self {
        Self {
            blocked: 0,
            notional: None,
            keepers: None,
            returns: Value::ZERO,
            per_asset: [None; A],
        }
    }
}

impl<const A: usize> Gate<A> {
    /// The most debt value a step seizing `collateral` may repay; `None`
    /// when nothing limits it.
    pub fn room(&self, collateral: usize) -> Option<Value> {
        let asset = self.per_asset.get(collateral).copied().flatten();
        [self.notional, self.keepers, asset]
            .into_iter()
            .flatten()
            .min()
            .map(|r| r.max(Value::ZERO))
    }

    /// Collateral a step may not seize now, its room spent: bit `i` is
    /// asset `i`.
    pub fn spent(&self) -> u32 {
        (0..A.min(32))
            .filter(|&c| self.room(c).is_some_and(|r| !r.is_positive()))
            .fold(0u32, |mask, c| mask | 1 << c)
    }

    /// Whether the round's notional cap is spent: its other candidates wait.
    pub fn exhausted(&self) -> bool {
        self.notional.is_some_and(|r| !r.is_positive())
    }

    /// Charges a step seizing `collateral` that repaid `repaid` of debt
    /// value and left the keepers `returns` (its proceeds less the fee).
    pub fn charge(&mut self, collateral: usize, repaid: Value, returns: Value) -> ArithResult<()> {
        self.charge_caps(collateral, repaid)?;
        self.charge_keepers(repaid, returns)
    }

    /// Charges the keepers `paid` out of their capital, and owes them
    /// `returns` next round (what they sold for): a step's, or an auction
    /// take's.
    pub fn charge_keepers(&mut self, paid: Value, returns: Value) -> ArithResult<()> {
        spend(&mut self.keepers, paid)?;
        if self.keepers.is_some() {
            self.returns = self.returns.add(returns)?;
        }
        Ok(())
    }

    /// The debt value the notional caps still let a round put into
    /// `collateral`'s auctions: keepers pay when they take, not before.
    pub fn cap_room(&self, collateral: usize) -> Option<Value> {
        let asset = self.per_asset.get(collateral).copied().flatten();
        [self.notional, asset]
            .into_iter()
            .flatten()
            .min()
            .map(|r| r.max(Value::ZERO))
    }

    /// Charges `repaid` of debt value seizing `collateral` to the notional
    /// caps only (an auction's start: MakerDAO's `Hole` and `hole`).
    pub fn charge_caps(&mut self, collateral: usize, repaid: Value) -> ArithResult<()> {
        spend(&mut self.notional, repaid)?;
        if let Some(room) = self.per_asset.get_mut(collateral) {
            spend(room, repaid)?;
        }
        Ok(())
    }
}

/// Takes `amount` from `room`, if there is one, down to zero.
fn spend(room: &mut Option<Value>, amount: Value) -> ArithResult<()> {
    if let Some(r) = room.as_mut() {
        *r = r.sub(amount)?.max(Value::ZERO);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_has_the_least_room_and_spent_collateral_waits() {
        let mut g = Gate::<3> {
            notional: Some(Value(500)),
            keepers: Some(Value(300)),
            per_asset: [None, Some(Value(100)), None],
            ..Gate::default()
        };
        assert_eq!(g.room(1), Some(Value(100)));
        assert_eq!(g.room(2), Some(Value(300)));
        assert_eq!(g.spent(), 0);
        g.charge(1, Value(100), Value(120)).unwrap();
        assert_eq!(g.spent(), 1 << 1);
        assert_eq!(
            (g.notional, g.keepers),
            (Some(Value(400)), Some(Value(200)))
        );
        assert_eq!(g.returns, Value(120));
        g.charge(2, Value(250), Value(0)).unwrap();
        // The keepers are out: every collateral waits, the round goes on.
        assert_eq!(g.spent(), 0b111);
        assert!(!g.exhausted());
        assert_eq!(Gate::<3>::default().spent(), 0);
    }
}

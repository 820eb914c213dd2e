//! A sweep of the watch list: what a round does instead of popping the
//! list when its drift reaches a large part of it (`due` decides when).
//!
//! Three passes, each a run of bounded units:
//!
//! 1. `Sweep`: every entry in slot order. One the drift has not reached
//!    stays; one it has reached leaves the list (the last entry takes its
//!    place, visited next), and its account is marked in the reached plane
//!    of `Storage::flags`.
//! 2. `Reached`: the marked accounts in id order, each evaluated (queued,
//!    or appended to the list again with a trigger above the drift) and
//!    unmarked. A unit reads at most `WORDS_PER_UNIT` words of the plane.
//! 3. `Order`: the list's heap order restored bottom-up (Floyd's
//!    construction), one parent a unit.
//!
//! The marks put the evaluations in id order, which is the order of the
//! rows in memory: at 10^6 accounts a sweep reaches about 172,000 accounts
//! spread over 32 MB of rows, and evaluating them in slot order read each
//! row at random (docs/performance.md). The accounts found are the same
//! in either order, and the same as the pops' and the full scan's: the
//! queue orders its candidates by a total order.

use super::scan::Found;
use super::{Engine, Phase, FLAG_PLANE_REACHED};
use crate::error::StepFault;

/// Words of the reached plane a `Reached` unit reads at most before it
/// yields: 256 accounts, so that a unit stays bounded on a sparse plane.
const WORDS_PER_UNIT: usize = 8;

impl<const A: usize> Engine<'_, A> {
    /// One unit of the first pass: the entry at heap position `next` stays
    /// if the drift has not reached its trigger; else it leaves the list
    /// and its account is marked. Past the last entry, the second pass.
    pub(super) fn sweep_unit(&mut self, next: usize) {
        let drift = self.scan.drift;
        let mut watch = self.watch();
        let Some(entry) = watch.at_position(next) else {
            self.state.phase = Phase::Reached { from: 0 };
            return;
        };
        if entry.value().0 > drift {
            self.state.phase = Phase::Sweep {
                next: next.saturating_add(1),
            };
            return;
        }
        watch.swap_remove(next);
        self.scan.watch_len = watch.len;
        self.unwatched(&entry);
        self.set_flag(FLAG_PLANE_REACHED, entry.id as usize, true);
    }

    /// One unit of the second pass: evaluates the first marked account from
    /// account `from` on, if one is marked within `WORDS_PER_UNIT` words.
    /// Past the last account, the third pass.
    pub(super) fn reached_unit(&mut self, from: usize) -> Result<(), StepFault> {
        let first_word = from / 32;
        let words = first_word..first_word.saturating_add(WORDS_PER_UNIT);
        for word in words.take_while(|w| w.saturating_mul(32) < self.accounts) {
            let start = word.saturating_mul(32);
            // The bits of accounts below `from` were evaluated already.
            let below = from.saturating_sub(start).min(32);
            let unseen = u32::MAX.checked_shl(below as u32).unwrap_or(0);
            let bits = self.flag_word_of(FLAG_PLANE_REACHED, start) & unseen;
            if bits != 0 {
                let id = start.saturating_add(bits.trailing_zeros() as usize);
                self.set_flag(FLAG_PLANE_REACHED, id, false);
                self.state.phase = Phase::Reached {
                    from: id.saturating_add(1),
                };
                return self.evaluate(id, Found::Candidate);
            }
        }
        let next = first_word.saturating_add(WORDS_PER_UNIT).saturating_mul(32);
        self.state.phase = match next < self.accounts {
            true => Phase::Reached { from: next },
            false => Phase::Order {
                remaining: self.watch().parents(),
            },
        };
        Ok(())
    }

    /// One unit of the third pass: settles one parent, from the last to
    /// the root.
    pub(super) fn order_unit(&mut self, remaining: usize) {
        let mut watch = self.watch();
        self.state.phase = match remaining.checked_sub(1) {
            Some(i) => {
                watch.restore_order(i);
                Phase::Order { remaining: i }
            }
            None => Phase::Liquidate,
        };
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::asset::{AssetConfig, Weights};
    use crate::engine::{flag_words, Candidate, Checkpoint, EngineConfig, Storage};
    use crate::num::{Fx, Price, Qty, Ratio, Value};
    use crate::shock::{Shock, ShockKind};
    use crate::venue::VenueConfig;
    use crate::{Policy, StepOutcome};

    /// 3,000 accounts at leverages spread evenly, and two drops: the second
    /// round's drift reaches a large part of the watch list.
    #[test]
    fn a_sweep_evaluates_what_it_reached_in_id_order_and_clears_its_marks() {
        let eth = AssetConfig {
            price: Price::from_int(100),
            asset_weights: Weights {
                init: Ratio::from_f64(0.6),
                liq_end: Ratio::from_f64(0.7),
                maint: Ratio::from_f64(0.8),
            },
            liability_weights: Weights {
                init: Ratio::from_f64(1.4),
                liq_end: Ratio::from_f64(1.3),
                maint: Ratio::from_f64(1.2),
            },
            liquidation_bonus: Ratio::from_f64(0.05),
            protocol_fee: Ratio::ZERO,
            dust: Qty::from_f64(0.000_001),
            venue: VenueConfig::Linear {
                lambda: Fx::from_num(0.000_01),
                resilience: Ratio::ZERO,
                floor: Price::from_f64(0.01),
            },
        };
        let assets = [AssetConfig::quote(), eth];
        let accounts = 3_000;
        let mut balances = std::vec::Vec::new();
        for id in 0..accounts {
            // Debt from 20 to 79.99 against 1 ETH (80 of maintenance value).
            let debt = 20.0 + 60.0 * ((id * 7 % accounts) as f64) / accounts as f64;
            balances.extend([Qty::from_f64(-debt), Qty::from_int(1)]);
        }
        let drop = |round| Shock {
            round,
            asset: 1,
            kind: ShockKind::MovePrice(Ratio::from_f64(0.85)),
        };
        let shocks = [drop(1), drop(2)];
        let config = EngineConfig {
            assets: &assets,
            policy: Policy::ToTarget,
            max_rounds: 20,
            oracle_lag_rounds: 0,
            insurance_fund: Value::from_int(1_000_000),
            shocks: &shocks,
            containment: crate::Containment::OFF,
        };
        let n = accounts as usize;
        let mut scratch = std::vec![Candidate::default(); n];
        let mut flags = std::vec![0u32; flag_words(n)];
        let storage = Storage {
            balances: &mut balances,
            scratch: &mut scratch,
            flags: &mut flags,
            checkpoint: &mut Checkpoint::new(),
        };
        let mut engine: Engine<'_, 2> = Engine::new(&config, storage).unwrap();
        let plane = n.div_ceil(32) * FLAG_PLANE_REACHED..flag_words(n);
        let (mut marked_most, mut reached_units, mut last) = (0, 0, None);
        loop {
            let marked: u32 = engine.flags[plane.clone()]
                .iter()
                .map(|w| w.count_ones())
                .sum();
            match engine.state.phase {
                Phase::Sweep { .. } => marked_most = marked_most.max(marked),
                Phase::Reached { from } => {
                    reached_units += 1;
                    // Ascending, and at most `WORDS_PER_UNIT` words a unit.
                    if let Some(before) = last {
                        assert!(from > before && from <= before + 32 * WORDS_PER_UNIT);
                    }
                    last = Some(from);
                }
                _ => {
                    assert_eq!(marked, 0, "marks left in {:?}", engine.state.phase);
                    last = None;
                }
            }
            if let StepOutcome::Done(_) = engine.step(1, &mut ()) {
                break;
            }
        }
        assert!(marked_most > 300, "a sweep marked {marked_most} accounts");
        assert!(reached_units >= marked_most, "{reached_units} units");
    }
}

//! Shocks: exogenous moves scheduled for a round.

use crate::error::ConfigError;
use crate::num::{Price, Qty, Ratio};

/// What a shock does to its asset's venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ShockKind {
    /// Move the venue's price to this price (curves and books shift their
    /// reference; a pool is arbitraged there).
    SetPrice(Price),
    /// Move the venue's price by this ratio (0.8: a 20% drop).
    MovePrice(Ratio),
    /// An outside seller sells this quantity into the venue.
    Sell(Qty),
    /// An outside buyer buys this quantity from the venue.
    Buy(Qty),
}

/// A shock to one risky asset at the start of one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shock {
    /// Round at whose start it applies (rounds count from 1).
    pub round: u32,
    /// The risky asset (not 0, the quote).
    pub asset: u8,
    /// What it does.
    pub kind: ShockKind,
}

/// Checks a schedule: rounds from 1 and in order, risky assets only,
/// positive prices, ratios and quantities.
pub fn validate_schedule(shocks: &[Shock], assets: usize) -> Result<(), ConfigError> {
    let mut last_round = 1;
    for (index, shock) in shocks.iter().enumerate() {
        let magnitude_ok = match shock.kind {
            ShockKind::SetPrice(p) => p.is_positive(),
            ShockKind::MovePrice(r) => r.is_positive(),
            ShockKind::Sell(q) | ShockKind::Buy(q) => q.is_positive(),
        };
        let asset_ok = shock.asset >= 1 && usize::from(shock.asset) < assets;
        if !magnitude_ok || !asset_ok || shock.round < last_round {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            return Err(ConfigError::Shock { index });
        }
        last_round = shock.round;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shock(round: u32, asset: u8, kind: ShockKind) -> Shock {
        Shock { round, asset, kind }
    }

    #[test]
    fn schedules_are_checked_in_order() {
        let drop = ShockKind::MovePrice(Ratio::from_f64(0.8));
        assert_eq!(
            validate_schedule(&[shock(1, 1, drop), shock(3, 1, drop)], 2),
            Ok(())
        );
        assert_eq!(
            validate_schedule(&[shock(3, 1, drop), shock(2, 1, drop)], 2),
            Err(ConfigError::Shock { index: 1 })
        );
        assert_eq!(
            validate_schedule(&[shock(1, 0, drop)], 2),
            Err(ConfigError::Shock { index: 0 })
        );
        assert_eq!(
            validate_schedule(&[shock(1, 2, drop)], 2),
            Err(ConfigError::Shock { index: 0 })
        );
        let zero = ShockKind::SetPrice(Price::ZERO);
        assert_eq!(
            validate_schedule(&[shock(1, 1, zero)], 2),
            Err(ConfigError::Shock { index: 0 })
        );
        assert_eq!(
            validate_schedule(&[shock(0, 1, drop)], 2),
            Err(ConfigError::Shock { index: 0 })
        );
    }
}

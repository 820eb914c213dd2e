//! `--audit`: the engine's conservation audit (`Engine::audit`) after every
//! unit of work that moved anything, so that a user can check the engine's
//! books on their own scenarios (docs/report.md, "`--audit`").
//!
//! A run is stepped one unit at a time (`next_observe`); after each unit
//! that emitted an event (every unit that can move a balance or a book
//! does: a round's start and end, a liquidation, a takeover, an auction)
//! and once more at the end, every book of every asset is checked. Units
//! that only value an account write no book. An audit costs a pass over
//! the accounts.

use firesale_next::engine::AuditError;

/// A book that did not balance, and the round it was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditFailure {
    /// The round.
    pub round: u32,
    /// What did not balance.
    pub error: AuditError,
}

impl AuditFailure {
    /// In words, with the assets' `names`, as a user is told it: the audit
    /// guards the engine, so a failure is a bug.
    ///
    /// `audit failed in round 3: asset ETH (1): the accounts hold 9 base units where the books say 10 (off by -1)`
    pub fn report(&self, names: &[String]) -> String {
        let when = match self.round {
            0 => "before round 1".to_string(),
            r => format!("in round {r}"),
        };
        let asset = |a: usize| match names.get(a) {
            Some(name) => format!("asset {name} ({a})"),
            None => format!("asset {a}"),
        };
        let what = match self.error {
            AuditError::Unbalanced { asset: a } => {
                format!("{}: its books do not sum to zero", asset(a))
            }
            AuditError::Venue { asset: a } => {
                format!(
                    "{}: the venue's book is not what the venue counts",
                    asset(a)
                )
            }
            AuditError::Insurance => "the insurance book is not the fund's change".to_string(),
            AuditError::Accounts {
                asset: a,
                held,
                booked,
            } => format!(
                "{}: the accounts hold {held} base units where the books say {booked} (off by {})",
                asset(a),
                held - booked
            ),
            AuditError::Shares { asset: a } => format!(
                "{}: its deposit shares are not the sum of the deposits",
                asset(a)
            ),
            AuditError::Side { asset: a } => format!(
                "{}: its deleveraging side does not count its shorts",
                asset(a)
            ),
            AuditError::Settlement => "a row could not be settled with the sides".to_string(),
        };
        format!("audit failed {when}: {what} (an engine bug: please report it with the scenario)")
    }
}

/// Why a command that runs scenarios stopped without a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Bad input, or a scenario the kernel refused (exit code 2).
    Input(String),
    /// `--audit` found a book that does not balance (exit code 3).
    Audit(String),
}

impl From<String> for Stopped {
    fn from(message: String) -> Self {
        Stopped::Input(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message names the round, the asset and what did not match, as
    /// docs/report.md shows.
    #[test]
    fn the_message_names_round_asset_and_amount() {
        let names = ["USDC".to_string(), "ETH".to_string()];
        let accounts = AuditFailure {
            round: 3,
            error: AuditError::Accounts {
                asset: 1,
                held: 9,
                booked: 10,
            },
        };
        assert_eq!(
            accounts.report(&names),
            "audit failed in round 3: asset ETH (1): the accounts hold 9 base units where the books say 10 (off by -1) (an engine bug: please report it with the scenario)"
        );
        let unbalanced = AuditFailure {
            round: 0,
            error: AuditError::Unbalanced { asset: 0 },
        };
        assert_eq!(
            unbalanced.report(&names),
            "audit failed before round 1: asset USDC (0): its books do not sum to zero (an engine bug: please report it with the scenario)"
        );
        let insurance = AuditFailure {
            round: 12,
            error: AuditError::Insurance,
        };
        assert!(insurance
            .report(&names)
            .starts_with("audit failed in round 12: the insurance book is not the fund's change"));
    }
}

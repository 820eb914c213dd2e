//! The scenarios that ship inside the binary: `firesale scenarios` lists
//! them and `firesale run NAME` runs one. Their sources are the commented
//! TOML files under `scenarios/`.

use crate::scenario::Scenario;
use crate::scenario_file::{self, FileError};

/// One bundled scenario.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// The name to run it by.
    pub name: &'static str,
    /// One line on what it shows.
    pub summary: &'static str,
    /// Its TOML source.
    pub source: &'static str,
}

impl Bundled {
    /// Parses the bundled source.
    pub fn scenario(&self) -> Result<Scenario, FileError> {
        scenario_file::parse(self.source)
    }
}

/// The name `firesale run` uses without an argument.
pub const DEFAULT: &str = "default";

/// Every bundled scenario, the default first.
pub const ALL: &[Bundled] = &[
    Bundled {
        name: DEFAULT,
        summary: "a lending market of 3,000 accounts borrowing USDC against ETH in a constant-product pool, hit by a 20% drop",
        source: include_str!("../../scenarios/default.toml"),
    },
    Bundled {
        name: "perp-squeeze",
        summary: "a perpetuals order book where liquidated shorts buy back into a thin book and squeeze the price up",
        source: include_str!("../../scenarios/perp-squeeze.toml"),
    },
    Bundled {
        name: "cross-margin",
        summary: "two collaterals cross-margined: ETH crashes, liquidations sell BTC too, and BTC falls with it",
        source: include_str!("../../scenarios/cross-margin.toml"),
    },
    Bundled {
        name: "million",
        summary: "the default market scaled to 1,000,000 generated accounts: a large run from the CLI",
        source: include_str!("../../scenarios/million.toml"),
    },
    Bundled {
        name: "black-thursday-2020",
        summary: "replay: MakerDAO, 12 March 2020; ETH -43%, keepers out of DAI, auctions cleared at zero (docs/replays.md)",
        source: include_str!("../../scenarios/replays/black-thursday-2020.toml"),
    },
    Bundled {
        name: "compound-dai-2020",
        summary: "replay: Compound, 26 November 2020; DAI at $1.30 on the oracle's venue liquidates DAI borrowers (docs/replays.md)",
        source: include_str!("../../scenarios/replays/compound-dai-2020.toml"),
    },
    Bundled {
        name: "perp-crash-2025",
        summary: "replay: a perpetuals crash in the style of 10 October 2025; thin book, insurance exhausted, ADL (docs/replays.md)",
        source: include_str!("../../scenarios/replays/perp-crash-2025.toml"),
    },
    Bundled {
        name: "example",
        summary: "the commented reference file of docs/scenario.md: listed and generated accounts, two collaterals, two shocks",
        source: include_str!("../../scenarios/example.toml"),
    },
];

/// The bundled scenario called `name`.
pub fn find(name: &str) -> Option<&'static Bundled> {
    ALL.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_scenario_parses_and_the_default_is_first() {
        for b in ALL.iter().filter(|b| b.name != "million") {
            let s = b.scenario().unwrap_or_else(|e| panic!("{}: {e}", b.name));
            assert!(s.accounts() > 0, "{}", b.name);
        }
        assert_eq!(ALL[0].name, DEFAULT);
        assert_eq!(crate::markets::default_lending().accounts(), 3_000);
    }
}

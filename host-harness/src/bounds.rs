//! What one command may spend: accounts, memory, rounds and threads.
//!
//! Every limit is checked from counts before anything is allocated or
//! run, and each can be raised from the command line (docs/scenario.md,
//! "Limits"). The memory estimate is deliberately on the high side: it is
//! what a run may hold at its peak, from the file's parse to the run's
//! timeline, measured against the build and rounded up.

use std::mem::size_of;

/// Most accounts a file may list or generate, in all.
pub const MAX_ACCOUNTS: u64 = 10_000_000;
/// The default memory budget of a command: 2 GiB.
pub const DEFAULT_MEMORY: u64 = 2 << 30;
/// The default round limit: the largest `max_rounds` a scenario may set,
/// and so the latest round a shock may be scheduled in.
pub const DEFAULT_ROUND_LIMIT: u32 = 100_000;
/// Most worker threads `--threads` may ask for.
pub const MAX_THREADS: usize = 256;

/// Peak bytes the TOML parser takes per byte of a scenario file, at worst:
/// measured 98 for an array of one-digit numbers (`[1,1,1,...]`), 81 for
/// an array of empty tables, 48 for an `[[accounts.list]]` entry a line.
pub const TOML_BYTES_PER_BYTE: u64 = 128;
/// What a run holds apart from its accounts and rounds: the program,
/// its font, a chart's bitmap, the kernel's checkpoint.
pub const FIXED_BYTES: u64 = 64 << 20;
/// What a sweep point or a Monte Carlo path keeps until the end, its JSON
/// document and printed text included (measured: 2.0 KiB a path).
pub const RESULT_BYTES: u64 = 2_560;

/// The limits one scenario is loaded and run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Most accounts in all.
    pub max_accounts: u64,
    /// Bytes one run may take: the command's budget over the runs it makes
    /// at once.
    pub memory: u64,
    /// The command's whole budget, for messages.
    pub memory_total: u64,
    /// Runs at once (worker threads that each hold a scenario).
    pub runs: usize,
    /// The largest `max_rounds`, and so the latest shock.
    pub round_limit: u32,
    /// Whether the run keeps a per-round timeline (`run` and `compare`
    /// do; a sweep point or a Monte Carlo path does not).
    pub timeline: bool,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_accounts: MAX_ACCOUNTS,
            memory: DEFAULT_MEMORY,
            memory_total: DEFAULT_MEMORY,
            runs: 1,
            round_limit: DEFAULT_ROUND_LIMIT,
            timeline: true,
        }
    }
}

/// What a command may spend in all (`--max-memory`, `--round-limit`; the
/// defaults from Python), shared by the runs it makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The command's memory budget, in bytes.
    pub memory: u64,
    /// The largest `max_rounds` a scenario may set.
    pub round_limit: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            memory: DEFAULT_MEMORY,
            round_limit: DEFAULT_ROUND_LIMIT,
        }
    }
}

impl Budget {
    /// The bounds of each of `runs` runs at once, after `reserved` bytes of
    /// results; `timeline`: whether each run keeps one.
    pub fn bounds(&self, timeline: bool, reserved: u64, runs: usize) -> Bounds {
        Bounds {
            round_limit: self.round_limit,
            timeline,
            ..Bounds::default()
        }
        .shared(self.memory, reserved, runs)
    }

    /// Refuses results that alone would take more than half the budget:
    /// `what` names what asks for them.
    pub fn reserve(&self, what: &str, bytes: u64) -> Result<(), String> {
        if bytes > self.memory / 2 {
            return Err(format!(
                "{what} keeps about {} of results to the end, more than half the memory budget of {}",
                show_bytes(bytes),
                show_bytes(self.memory)
            ));
        }
        Ok(())
    }
}

/// Runs made at once by a command of `jobs` runs on the current rayon
/// pool.
pub fn at_once(jobs: u64) -> usize {
    let threads = rayon::current_num_threads().max(1);
    usize::try_from(jobs).map_or(threads, |j| j.clamp(1, threads))
}

impl Bounds {
    /// `total` bytes shared by `runs` runs at once, after `reserved` bytes
    /// for results kept to the end.
    pub fn shared(mut self, total: u64, reserved: u64, runs: usize) -> Self {
        let runs = runs.max(1);
        self.memory_total = total;
        self.memory = total.saturating_sub(reserved) / runs as u64;
        self.runs = runs;
        self
    }

    /// Where the budget comes from, for a message.
    pub fn budget_text(&self) -> String {
        match self.runs {
            1 => format!(
                "the memory budget of {} (--max-memory raises it)",
                show_bytes(self.memory_total)
            ),
            n => format!(
                "the memory budget of {} shared by {n} runs at once ({} each; --max-memory raises it, --threads lowers the share)",
                show_bytes(self.memory_total),
                show_bytes(self.memory)
            ),
        }
    }
}

/// The bytes a run of `accounts` accounts of `width` assets over at most
/// `rounds` rounds may hold at its peak: the scenario's balances and one
/// more copy (a Monte Carlo path's or a sweep point's own scenario), the
/// engine's starting balances and those it runs on, its queue, watch
/// lists and, at worst, auto-deleveraging's snapshots and ranks, the
/// report's account marks, and the timeline.
pub fn run_bytes(accounts: u64, width: u64, rounds: u64, timeline: bool) -> u64 {
    use firesale_next::engine::{Candidate, RankNode, Snap, Storage};
    let scenario = size_of::<firesale_core::Qty>() as u64;
    let engine = size_of::<firesale_next::num::Qty>() as u64;
    let queue = Storage::queue_slots(1) as u64 * size_of::<Candidate>() as u64;
    let lists = usize::try_from(accounts).map_or(u64::MAX, |a| {
        (Storage::link_words(a) * size_of::<u32>()) as u64
    });
    let deleveraging =
        width.saturating_sub(1) * size_of::<Snap>() as u64 + size_of::<RankNode>() as u64;
    let per_account = 2 * width * scenario + 2 * width * engine + queue + deleveraging + 1;
    let per_round = if timeline {
        (size_of::<crate::observe::RoundRow>()
            + 16
            + width as usize * size_of::<crate::observe::AssetRound>()) as u64
    } else {
        0
    };
    accounts
        .saturating_mul(per_account)
        .saturating_add(lists)
        .saturating_add(rounds.saturating_mul(per_round))
        .saturating_add(FIXED_BYTES)
}

/// The most memory the TOML parser (or a copy of the table it built) takes
/// for a file of `len` bytes.
pub fn toml_bytes(len: usize) -> u64 {
    (len as u64).saturating_mul(TOML_BYTES_PER_BYTE)
}

/// Bytes as a short figure: `1.5 GiB`, `640 MiB`, `12 KiB`, `300 B`.
pub fn show_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (name, size) in UNITS {
        if bytes >= size {
            let x = bytes as f64 / size as f64;
            return match x < 10.0 {
                true => format!("{x:.1} {name}"),
                false => format!("{x:.0} {name}"),
            };
        }
    }
    format!("{bytes} B")
}

/// A size such as `2G`, `512M`, `1.5G`, `64K` or `1000000` (bytes);
/// K, M, G and T are powers of 1024, and `iB` or `B` may follow them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => {
            return Err(format!(
                "`{text}`: expected a size such as 4G, 512M or 1000000"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a size such as 4G, 512M or 1000000"))?;
    let bytes = value * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < 2f64.powi(63)) {
        return Err(format!("`{text}`: the size must be from 1 byte to 8 EiB"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024_and_bad_ones_say_why() {
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").unwrap_err().contains("4G"));
        assert!(parse_size("0").unwrap_err().contains("from 1 byte"));
        assert!(parse_size("-1G").is_err());
        assert_eq!(show_bytes(3 << 29), "1.5 GiB");
        assert_eq!(show_bytes(640 << 20), "640 MiB");
    }

    #[test]
    fn a_budget_is_shared_by_the_runs_made_at_once() {
        let b = Bounds::default().shared(8 << 30, 0, 4);
        assert_eq!(b.memory, 2 << 30);
        assert!(b.budget_text().contains("shared by 4 runs"));
        let reserved = Bounds::default().shared(1 << 30, 1 << 29, 1);
        assert_eq!(reserved.memory, 1 << 29);
    }

    #[test]
    fn the_estimate_grows_with_accounts_width_and_rounds() {
        let base = run_bytes(1_000, 2, 100, true);
        assert!(run_bytes(2_000, 2, 100, true) > base);
        assert!(run_bytes(1_000, 16, 100, true) > base);
        assert!(run_bytes(1_000, 2, 1_000, true) > base);
        assert!(run_bytes(1_000, 2, 1_000, false) < base);
        // 10^7 accounts of 16 assets cannot fit the default budget.
        assert!(run_bytes(10_000_000, 16, 500, true) > DEFAULT_MEMORY);
    }
}

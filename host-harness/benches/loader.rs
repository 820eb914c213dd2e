//! The positions loader (issue 23): a scenario whose 10^6 accounts come
//! from a CSV of 2 × 10^6 positions, parsed and validated as `firesale run`
//! reads it. Prints the median time of five loads and the peak heap of one,
//! against the kernel's storage for the same accounts (56.375 B an account
//! with two assets: `cargo bench --bench cascade` prints it).
//!
//! `cargo bench -p firesale-harness --bench loader`. The CSV is generated
//! once into the system's temporary folder (45 MB), not committed.

use firesale_harness::bounds::Bounds;
use firesale_harness::scenario_file::parse_with;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters only observe sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                + (new_size - layout.size());
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ACCOUNTS: u64 = 1_000_000;
/// The kernel's state an account with two assets, in bytes.
const KERNEL_BYTES_PER_ACCOUNT: f64 = 56.375;

/// A CSV of `ACCOUNTS` borrowers as an export lists them: by account, each
/// account's ETH deposit then its USDC debt, six decimals. Deterministic.
fn positions(dir: &Path) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let path = dir.join("positions.csv");
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(out, "account,asset,balance")?;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut draw = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % 1_000_000
    };
    for account in 0..ACCOUNTS {
        let eth_micro = 1_000_000 + draw() * 10;
        let ltv_ppm = 700_000 + draw() / 10;
        let debt_micro = eth_micro * 2_000 / 1_000_000 * ltv_ppm;
        writeln!(
            out,
            "{account},ETH,{}.{:06}\n{account},USDC,-{}.{:06}",
            eth_micro / 1_000_000,
            eth_micro % 1_000_000,
            debt_micro / 1_000_000,
            debt_micro % 1_000_000
        )?;
    }
    out.flush()?;
    Ok(path)
}

fn main() {
    let dir = std::env::temp_dir().join("firesale-loader-bench");
    let csv = positions(&dir).expect("the bench writes its CSV");
    let default = include_str!("../../scenarios/default.toml");
    let market = match default.find("[accounts.population]") {
        Some(at) => &default[..at],
        None => default,
    };
    let text = format!("{market}[accounts]\npositions = \"positions.csv\"\n");
    let bytes = std::fs::metadata(&csv).map_or(0, |m| m.len());
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..5 {
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let start = Instant::now();
        let scenario = parse_with(&text, Some(&dir), &Bounds::default())
            .expect("the bench's scenario is valid");
        times.push(start.elapsed().as_secs_f64());
        peak = PEAK.load(Ordering::Relaxed) - before;
        assert_eq!(scenario.accounts() as u64, ACCOUNTS);
    }
    times.sort_by(f64::total_cmp);
    let kernel = KERNEL_BYTES_PER_ACCOUNT * ACCOUNTS as f64;
    println!(
        "loader {ACCOUNTS} accounts ({} rows, {:.1} MB of CSV): median {:.0} ms ({:.0}-{:.0}), peak heap {:.1} MB = {:.2}x the kernel's storage ({:.1} MB)",
        2 * ACCOUNTS,
        bytes as f64 / 1e6,
        times[2] * 1e3,
        times[0] * 1e3,
        times[4] * 1e3,
        peak as f64 / 1e6,
        peak as f64 / kernel,
        kernel / 1e6
    );
}

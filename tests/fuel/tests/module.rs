//! The wasm module under wasmi: its golden lines and digests are the
//! committed ones, and every workload's fuel is positive and the same on a
//! second, separately compiled run.
//!
//! Builds the module first (`cargo build --release -p firesale-wasm
//! --target wasm32-unknown-unknown`, as `tests/fuel.sh` and
//! `tests/targets.sh` do): the test needs the `wasm32-unknown-unknown`
//! target installed.

use firesale_fuel::{Meter, GOLDEN};
use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the module and returns its path.
fn module() -> PathBuf {
    let root = workspace();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-q", "--release", "-p", "firesale-wasm"])
        .args(["--target", "wasm32-unknown-unknown"])
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building the wasm module failed (is the target installed? \
         `rustup target add wasm32-unknown-unknown`)"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from);
    target.join("wasm32-unknown-unknown/release/firesale_wasm.wasm")
}

fn committed() -> Vec<String> {
    let path = workspace().join("tests/golden/digests.txt");
    let text = std::fs::read_to_string(&path).expect("tests/golden/digests.txt");
    text.lines().map(str::to_string).collect()
}

#[test]
fn the_module_under_wasmi_reproduces_the_goldens_and_its_fuel_is_deterministic() {
    let path = module();
    let meter = Meter::load(&path).expect("the module compiles under wasmi");

    // The lines the module writes under wasmi are the committed ones.
    let committed = committed();
    assert_eq!(meter.golden_lines().expect("golden lines"), committed);
    assert_eq!(committed.len(), GOLDEN as usize);

    // The metered cascades are the golden runs: their digests' low bits.
    for (index, line) in (0..GOLDEN).zip(&committed) {
        let digest = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("digest="))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .expect("a digest in each committed line");
        let (low, fuel) = meter.call("cascade", index).expect("cascade");
        assert_eq!(low, digest as u32, "golden {index}'s metered cascade");
        assert!(fuel > 0);
    }

    // Every workload consumes fuel; a second compilation of the module
    // charges exactly the same; more assets cost more.
    let first = meter.workloads().expect("workloads");
    let again = Meter::load(&path)
        .expect("compiles")
        .workloads()
        .expect("workloads");
    assert_eq!(first, again);
    assert_eq!(first.len(), 6 + 2 * GOLDEN as usize);
    assert!(first.iter().all(|w| w.fuel > 0), "{first:?}");
    assert!(
        first[1].fuel > first[0].fuel,
        "health8 over health2: {first:?}"
    );
    assert!(
        first[3].fuel > first[2].fuel,
        "next-health8 over next-health2: {first:?}"
    );
}

#[test]
fn a_module_without_the_exports_is_an_error_not_a_panic() {
    // The smallest module: magic and version, no exports.
    let empty = [0, b'a', b's', b'm', 1, 0, 0, 0];
    let meter = Meter::new(&empty).expect("an empty module compiles");
    assert!(meter.call("cascade", 0).is_err());
    assert!(meter.golden_lines().is_err());
    assert!(Meter::new(b"not wasm").is_err());
}

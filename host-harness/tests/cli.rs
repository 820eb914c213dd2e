//! The built `firesale` binary: each subcommand, its JSON and artefacts,
//! and malformed input each giving a clear error and exit code 2, never a
//! panic.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn firesale(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_firesale"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn example() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/example.toml").to_string()
}

#[test]
fn run_and_check_the_example() {
    let (code, out, _) = firesale(&["check", &example()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("valid: 3 assets, 503 accounts, 2 shocks"),
        "{out}"
    );
    let (code, out, err) = firesale(&["run", &example()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("digest") && out.contains("liquidations"),
        "{out}"
    );
}

#[test]
fn malformed_files_exit_2_with_the_key_and_line() {
    let dir = std::env::temp_dir().join(format!("firesale-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(example()).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown-key",
            text.replace("max_rounds = 300", "max_round = 300"),
            "unknown field `max_round`",
        ),
        (
            "wrong-type",
            text.replace("max_rounds = 300", "max_rounds = 3.5"),
            "line 11, column 14: invalid type",
        ),
        (
            "negative-price",
            text.replace("price = 2000", "price = -1"),
            "assets[1] (ETH).price",
        ),
        ("empty", String::new(), "the file is empty"),
        ("not-toml", "[[[".into(), "line 1"),
        (
            "binary",
            String::from_utf8_lossy(&[0xff, 0xfe, 0x00]).into(),
            "line 1",
        ),
    ];
    for (name, body, expected) in cases {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, body).unwrap();
        let (code, _, err) = firesale(&["check", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{name}: {err}"
        );
    }
    let (code, _, err) = firesale(&["check", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no such file"), "{err}");
    let (code, _, _) = firesale(&["frobnicate"]);
    assert_eq!(code, 2);
}

/// A fresh, empty folder for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("firesale-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(args: &[&str]) -> Value {
    let (code, out, err) = firesale(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// A PNG: the signature, then an IHDR chunk with a non-empty image.
fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&bytes[12..16], b"IHDR", "{}", path.display());
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(width >= 600 && height >= 300, "{width}x{height}");
}

/// An SVG document that draws something and closes.
fn assert_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.trim_start().starts_with("<svg"), "{}", path.display());
    assert!(text.trim_end().ends_with("</svg>"), "{}", path.display());
    assert!(text.matches("<rect").count() + text.matches("<polyline").count() > 5);
    assert!(text.contains("<text"), "labels are drawn");
}

fn number(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {v}"))
}

#[test]
fn run_json_has_the_documented_fields() {
    let report = json(&["run", "--json"]);
    assert_eq!(report["termination"]["reason"], "fixed-point");
    for key in [
        "rounds",
        "liquidations",
        "accounts_liquidated",
        "bankruptcies",
        "bad_debt",
        "insurance_used",
        "socialized_loss",
        "unrecovered",
        "amplification",
    ] {
        assert!(number(&report, key) >= 0.0, "{key}");
    }
    assert!(number(&report, "liquidations") >= number(&report, "accounts_liquidated"));
    let bad_debt = number(&report, "bad_debt");
    let absorbed = number(&report, "insurance_used")
        + number(&report, "socialized_loss")
        + number(&report, "unrecovered");
    assert!(
        (bad_debt - absorbed).abs() < 1e-6 * bad_debt.max(1.0),
        "the waterfall adds up"
    );
    let eth = &report["assets"][1];
    assert_eq!(eth["name"], "ETH");
    assert!(
        number(eth, "min_price") < 0.8 * number(eth, "initial_price"),
        "the cascade goes below the 20% shock"
    );
    assert!(number(eth, "volume_quote") > 0.0 && number(eth, "sold") > 0.0);
    assert!(number(&report, "amplification") > 1.0);
    let digest = report["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 16);
    let (_, summary, _) = firesale(&["run"]);
    assert!(summary.contains(digest), "the summary shows the same run");
}

#[test]
fn run_out_writes_timeline_events_and_plots() {
    let dir = scratch("run-out");
    let (code, _, err) = firesale(&["run", "perp-squeeze", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let btc = &report["assets"][1];
    assert!(
        number(btc, "max_price") > 1.06 * number(btc, "initial_price"),
        "liquidated shorts squeeze the price past the 6% shock"
    );
    let timeline = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    let mut lines = timeline.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..2], ["round", "liquidations"]);
    assert!(header.contains(&"BTC_oracle") && header.contains(&"BTC_close"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as f64, number(&report, "rounds"));
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let per_round: f64 = rows.iter().map(|r| r[1].parse::<f64>().unwrap()).sum();
    assert_eq!(per_round, number(&report, "liquidations"));
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let events: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Each liquidation event counts its pair steps.
    let steps: f64 = events
        .iter()
        .filter(|e| e["type"] == "liquidation")
        .map(|e| e["steps"].as_f64().unwrap())
        .sum();
    assert_eq!(steps, number(&report, "liquidations"));
    assert_eq!(events.last().unwrap()["type"], "finished");
    assert_png(&dir.join("price.png"));
    assert_svg(&dir.join("price.svg"));
}

#[test]
fn bundled_scenarios_are_listed_and_show_what_they_claim() {
    let (code, list, _) = firesale(&["scenarios"]);
    assert_eq!(code, 0);
    for name in ["default", "perp-squeeze", "cross-margin"] {
        assert!(list.contains(name), "{list}");
    }
    // Every name stands apart from its summary, the longest too.
    assert!(list.contains("black-thursday-2020  replay:"), "{list}");
    // A price that never fell has no signed zero.
    let (_, summary, progress) = firesale(&["run", "perp-squeeze"]);
    assert!(
        summary.contains("BTC") && !summary.contains("-0.00%"),
        "{summary}"
    );
    // The run's progress is drawn on a terminal only: on a pipe, nothing.
    assert!(progress.is_empty(), "{progress}");
    let report = json(&["run", "cross-margin", "--json"]);
    let btc = &report["assets"][2];
    assert_eq!(btc["name"], "BTC");
    assert!(btc["amplification"].is_null(), "no shock touched BTC");
    assert!(
        number(btc, "min_price") < 0.98 * number(btc, "initial_price"),
        "BTC falls with ETH"
    );
}

#[test]
fn sweep_is_the_same_on_one_and_two_threads_and_draws_a_heat_map() {
    let args = |threads: &'static str| {
        vec![
            "sweep",
            "--vary",
            "shocks[0].move_price=0.95:0.7:4",
            "--vary",
            "assets[1].venue.base_reserve=10000:40000:3",
            "--threads",
            threads,
            "--json",
        ]
    };
    let one = json(&args("1"));
    let two = json(&args("2"));
    assert_eq!(one, two);
    let points = one["points"].as_array().unwrap();
    assert_eq!(points.len(), 12);
    let first_row: Vec<f64> = points[..4].iter().map(|p| number(p, "bad_debt")).collect();
    assert!(
        first_row.windows(2).all(|w| w[0] <= w[1]),
        "bigger shocks, more bad debt: {first_row:?}"
    );
    assert!(
        one["critical"][0].is_number(),
        "a critical shock in the thinnest pool"
    );

    let dir = scratch("sweep-out");
    let (code, out, err) = firesale(&[
        "sweep",
        "--vary",
        "shocks[0].move_price=0.95:0.7:3",
        "--vary",
        "assets[1].venue.base_reserve=10000:40000:2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("critical"), "{out}");
    assert_png(&dir.join("heatmap.png"));
    assert_svg(&dir.join("heatmap.svg"));
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6);
}

#[test]
fn montecarlo_is_seeded_and_thread_independent() {
    let args = |threads: &'static str, seed: &'static str| {
        vec![
            "montecarlo",
            "--paths",
            "40",
            "--seed",
            seed,
            "--threads",
            threads,
            "--json",
        ]
    };
    let one = json(&args("1", "9"));
    assert_eq!(one, json(&args("2", "9")));
    assert_ne!(
        one["paths"],
        json(&args("2", "10"))["paths"],
        "another seed, other paths"
    );
    let tail = &one["bad_debt"];
    assert!(number(tail, "var_99") >= number(tail, "var_95"));
    assert!(number(tail, "expected_shortfall_99") >= number(tail, "var_99"));
    assert!(number(tail, "max") >= number(tail, "expected_shortfall_99"));

    let dir = scratch("montecarlo-out");
    let (code, _, err) = firesale(&[
        "montecarlo",
        "--paths",
        "20",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_png(&dir.join("histogram.png"));
    assert_svg(&dir.join("histogram.svg"));
    assert_eq!(
        std::fs::read_to_string(dir.join("paths.csv"))
            .unwrap()
            .lines()
            .count(),
        21
    );
}

#[test]
fn positions_come_from_a_csv_beside_the_scenario() {
    let dir = scratch("positions");
    let text = std::fs::read_to_string(example()).unwrap().replace(
        "[accounts.population]",
        "[accounts]\npositions = \"book.csv\"\n\n[accounts.population]",
    );
    std::fs::write(dir.join("scenario.toml"), text).unwrap();
    std::fs::write(
        dir.join("book.csv"),
        "account,asset,balance\n1,USDC,-15000\n1,ETH,10\n2,USDC,50000\n",
    )
    .unwrap();
    let scenario = dir.join("scenario.toml");
    let (code, out, err) = firesale(&["check", scenario.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("505 accounts"), "503 + 2 from the CSV: {out}");

    std::fs::write(dir.join("book.csv"), "account,asset,balance\n1,DOGE,3\n").unwrap();
    let (code, _, err) = firesale(&["run", scenario.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("book.csv: line 2, column 3: unknown asset `DOGE`"),
        "{err}"
    );
}

#[test]
fn bad_flags_and_unwritable_outputs_say_what_is_wrong() {
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &["montecarlo", "--volatility", "2"],
            2,
            "--volatility must be in [0, 1]",
        ),
        (
            &["montecarlo", "--threads", "0", "--paths", "1"],
            2,
            "--threads must be 1 to 256",
        ),
        (
            &["sweep", "--vary", "shocks[0].move_price=1:2"],
            2,
            "KEY=FROM:TO:STEPS",
        ),
        (
            &["sweep", "--vary", "bogus.key=1:2:2"],
            2,
            "the scenario has no `bogus`",
        ),
        (
            &["sweep", "--vary", "shocks[0].move_price=-1:0.5:2"],
            2,
            "shocks[0]",
        ),
        (
            &["run", "--out", "/proc/firesale-cannot-write-here"],
            1,
            "cannot create",
        ),
    ];
    for (args, expected_code, message) in cases {
        let (code, _, err) = firesale(args);
        assert_eq!(code, expected_code, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn compare_runs_one_scenario_under_each_preset() {
    let dir = scratch("compare");
    let (code, table, err) = firesale(&[
        "compare",
        "default",
        "--presets",
        "aave-v3,maker-liq2,hyperliquid",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // The table names what each protocol did beyond selling: the vault's
    // takeovers, auctions, zero bids and deferrals, each in its column.
    let lines: Vec<&str> = table.lines().collect();
    // Columns are right-aligned: a cell ends where its header does.
    let cell = |preset: &str, name: &str| -> f64 {
        let end = lines[1].find(&format!(" {name}")).unwrap() + 1 + name.len();
        let row = lines.iter().find(|l| l.starts_with(preset)).unwrap();
        let start = row[..end].rfind(' ').unwrap() + 1;
        row[start..end].parse().unwrap()
    };
    assert!(cell("hyperliquid", "vault") > 0.0, "{table}");
    assert_eq!(cell("aave-v3", "vault"), 0.0, "{table}");
    assert!(cell("maker-liq2", "auct.") > 0.0, "{table}");
    assert_eq!(cell("aave-v3", "auct."), 0.0, "{table}");
    let document: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    let runs = document["runs"].as_array().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r["preset"].as_str().unwrap()).collect();
    assert_eq!(names, ["aave-v3", "maker-liq2", "hyperliquid"]);
    let report = |i: usize| &runs[i]["report"];
    assert!(
        number(report(1), "auctions") > 0.0,
        "Maker disposes by auction"
    );
    assert!(
        number(report(2), "backstopped") > 0.0,
        "Hyperliquid's vault takes accounts"
    );
    // The same run through `run --preset` gives the same digest.
    let single = json(&["run", "default", "--preset", "maker-liq2", "--json"]);
    assert_eq!(single["digest"], report(1)["digest"]);
    assert_png(&dir.join("compare.png"));
    assert_svg(&dir.join("compare.svg"));
    assert_eq!(
        std::fs::read_to_string(dir.join("compare.csv"))
            .unwrap()
            .lines()
            .count(),
        4
    );

    let (code, _, err) = firesale(&["compare", "--presets", "aave-v9"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--presets: no preset `aave-v9` (aave-v3, compound-v3"),
        "{err}"
    );
}

#[test]
fn historical_replays_run_and_show_their_mechanism() {
    let thursday = json(&["run", "black-thursday-2020", "--json"]);
    assert!(
        number(&thursday, "zero_bid_takes") > 0.0,
        "lots went for nothing"
    );
    let bad = number(&thursday, "bad_debt");
    assert!(
        (3.0e6..9.0e6).contains(&bad),
        "bad debt of the order of the 5.67M DAI: {bad}"
    );

    let dai = json(&["run", "compound-dai-2020", "--json"]);
    let repaid = number(&dai["assets"][1], "bought");
    assert!(
        (60.0e6..110.0e6).contains(&repaid),
        "tens of millions of DAI liquidated: {repaid}"
    );
    assert!(number(&dai["assets"][1], "max_price") >= 1.3);

    let perps = json(&["run", "perp-crash-2025", "--json"]);
    assert_eq!(
        number(&perps, "insurance_fund_final"),
        0.0,
        "the fund runs out"
    );
    assert!(number(&perps, "deleveraged") > 0.0, "then ADL");
    assert_eq!(
        number(&perps, "socialized_loss"),
        0.0,
        "flat accounts never pay"
    );
}

// Hostile input (issue 22): every class of bad input is refused with exit
// code 2 and a message that names the problem and where it is, in bounded
// time and memory, and never with a panic.

/// A small generated scenario, for edits: 100 accounts against ETH in a
/// pool, a 20% drop in round 1. Lines: `price = 2000` is line 12, the
/// `[[assets]]` of ETH line 10, the `[[shocks]]` line 17.
const SMALL: &str = r#"name = "small"
policy = "close-factor"
max_rounds = 200
insurance_fund = 1000

[[assets]]
name = "USDC"
quote = true

[[assets]]
name = "ETH"
price = 2000
weights = { init = 0.80, liq_end = 0.805, maint = 0.83 }
liquidation_bonus = 0.05
venue = { kind = "constant-product", base_reserve = 40000, fee = 0.003, resilience = 0.2 }

[[shocks]]
round = 1
asset = "ETH"
move_price = 0.8

[accounts.population]
count = 100
seed = 1
assets = "ETH"
"#;

/// The binary at `args`, killed if it has not finished after `seconds`,
/// and limited to `memory_kb` of address space when one is given (through
/// the shell's `ulimit -v`): a run that would hang or take the machine's
/// memory fails the test instead.
fn bounded(seconds: u64, memory_kb: Option<u64>, args: &[&str]) -> (i32, String, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut command = match memory_kb {
        Some(kb) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg("ulimit -v \"$1\"; shift; exec \"$@\"")
                .arg("sh")
                .arg(kb.to_string())
                .arg(env!("CARGO_BIN_EXE_firesale"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_firesale")),
    };
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not finish within {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        reader.join().unwrap(),
        err_reader.join().unwrap(),
    )
}

/// Writes `body` as `dir/name` and gives its path.
fn file(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

/// Exit code 2, every `expected` piece in the message, and no panic.
fn refused(result: (i32, String, String), expected: &[&str], what: &str) {
    let (code, _, err) = result;
    assert_eq!(code, 2, "{what}: {err}");
    for piece in expected {
        assert!(err.contains(piece), "{what}: `{piece}` not in: {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: {err}"
    );
}

/// A gigabyte of address space: enough for these small scenarios, far
/// from what an unbounded read or generation would take.
const ONE_GB: Option<u64> = Some(1 << 20);

#[test]
fn hostile_panics_float_to_fixed_conversions_are_checked() {
    let dir = scratch("hostile-panics");
    let cases = [
        (
            "price-zero",
            SMALL.replace("price = 2000", "price = 0"),
            &["line 12, column 9", "assets[1] (ETH).price", "above zero"][..],
        ),
        (
            "price-tiny",
            SMALL.replace("price = 2000", "price = 1e-300"),
            &[
                "line 12, column 9",
                "assets[1].price",
                "1e-300 is too small",
            ][..],
        ),
        (
            "decimal-tiny",
            SMALL.replace("price = 2000", "price = \"0.0000000000000000001\""),
            &["assets[1].price", "too small"][..],
        ),
        (
            "generated-overflow",
            SMALL.replace("price = 2000", "price = 1e12").replace(
                "assets = \"ETH\"",
                "assets = \"ETH\"\nsize = { min = 1e13, alpha = 1.3, max = 1e14 }",
            ),
            &["accounts.population", "kernel's fixed point"][..],
        ),
        (
            "nan-size",
            SMALL.replace(
                "assets = \"ETH\"",
                "assets = \"ETH\"\nsize = { min = nan, alpha = 1.3, max = 10 }",
            ),
            &["accounts.population.size"][..],
        ),
    ];
    for (name, body, expected) in cases {
        let path = file(&dir, &format!("{name}.toml"), &body);
        refused(bounded(60, ONE_GB, &["check", &path]), expected, name);
        refused(bounded(60, ONE_GB, &["run", &path]), expected, name);
    }
    // A sweep that reaches a price of zero stops on it, named.
    let path = file(&dir, "small.toml", SMALL);
    refused(
        bounded(
            60,
            None,
            &["sweep", &path, "--vary", "assets[1].price=0:2000:2"],
        ),
        &["at assets[1].price = 0", "above zero"],
        "sweep to zero",
    );
}

#[test]
fn hostile_memory_is_estimated_from_counts_before_allocating() {
    let dir = scratch("hostile-memory");
    // Several populations, each under the cap: refused together, at once.
    let two = SMALL
        .replace("[accounts.population]", "[[accounts.population]]")
        .replace("count = 100", "count = 6000000")
        + "\n[[accounts.population]]\ncount = 6000000\nseed = 2\nassets = \"ETH\"\n";
    let path = file(&dir, "two.toml", &two);
    refused(
        bounded(20, ONE_GB, &["check", &path]),
        &[
            "12000000 accounts in all",
            "accounts.population[1]: 6000000",
            "limit of 10000000",
        ],
        "two populations",
    );
    // Isolated margin multiplies a population's accounts: counted first.
    let mut wide = SMALL
        .replace("name = \"ETH\"", "name = \"A1\"")
        .replace("asset = \"ETH\"", "asset = \"A1\"");
    for i in 2..=15 {
        wide = wide.replace(
            "[[shocks]]",
            &format!("[[assets]]\nname = \"A{i}\"\nprice = 10\nweights = {{ init = 0.8, liq_end = 0.805, maint = 0.83 }}\nvenue = {{ kind = \"linear\", lambda = 0.001, resilience = 0.2, floor = 1 }}\n\n[[shocks]]"),
        );
    }
    let names: Vec<String> = (1..=15).map(|i| format!("\"A{i}\"")).collect();
    let isolated = wide.replace("count = 100", "count = 1000000").replace(
        "assets = \"ETH\"",
        &format!("assets = [{}]\nmargin = \"isolated\"", names.join(", ")),
    );
    let path = file(&dir, "isolated.toml", &isolated);
    refused(
        bounded(20, ONE_GB, &["check", &path]),
        &["13600000 accounts in all"],
        "isolated margin",
    );
    // Under the account cap, over the memory budget: 16 assets × 9 million.
    let big = wide.replace("count = 100", "count = 9000000").replace(
        "assets = \"ETH\"",
        &format!("assets = [{}]", names.join(", ")),
    );
    let path = file(&dir, "big.toml", &big);
    refused(
        bounded(20, ONE_GB, &["check", &path]),
        &[
            "may take",
            "9000000 accounts of 16 assets",
            "memory budget of 2.0 GiB",
            "--max-memory",
        ],
        "over the budget",
    );
    // The budget is a flag, and a file read or a CSV row counts too.
    let small = file(&dir, "small.toml", SMALL);
    refused(
        bounded(20, None, &["check", &small, "--max-memory", "1M"]),
        &["memory budget of 1.0 MiB"],
        "--max-memory 1M",
    );
    let (code, out, err) = bounded(20, None, &["check", &small, "--max-memory", "1G"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid"), "{out}");
    refused(
        bounded(20, None, &["check", &small, "--max-memory", "lots"]),
        &["--max-memory", "expected a size such as 4G"],
        "--max-memory lots",
    );
    let padded = format!("{SMALL}\n{}", "# padding\n".repeat(100_000));
    let path = file(&dir, "padded.toml", &padded);
    refused(
        bounded(20, None, &["check", &path, "--max-memory", "64M"]),
        &["reading a file of", "takes up to", "positions CSV"],
        "a file too large to parse in the budget",
    );
    // Devices are not read: /dev/zero as a scenario or a positions file.
    refused(
        bounded(20, ONE_GB, &["check", "/dev/zero"]),
        &["/dev/zero: not a regular file"],
        "/dev/zero scenario",
    );
    let zero_book = SMALL.replace(
        "[accounts.population]",
        "[accounts]\npositions = \"/dev/zero\"\n\n[accounts.population]",
    );
    let path = file(&dir, "zero-book.toml", &zero_book);
    refused(
        bounded(20, ONE_GB, &["check", &path]),
        &["accounts.positions: /dev/zero: not a regular file"],
        "/dev/zero positions",
    );
}

#[test]
fn hostile_time_every_command_finishes_or_refuses() {
    let dir = scratch("hostile-time");
    // A shock at round 10^7 under a huge round cap: every empty round
    // before it would run.
    let late = SMALL
        .replace("round = 1", "round = 10000000")
        .replace("max_rounds = 200", "max_rounds = 4000000000");
    let path = file(&dir, "late.toml", &late);
    refused(
        bounded(20, ONE_GB, &["check", &path]),
        &[
            "line 3, column 14",
            "max_rounds",
            "round limit of 100000",
            "--round-limit",
        ],
        "a late shock",
    );
    // A FIFO as the scenario: refused, not waited on.
    let fifo = dir.join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        refused(
            bounded(20, None, &["check", fifo.to_str().unwrap()]),
            &["not a regular file"],
            "a FIFO",
        );
        // Nor as an artefact to write.
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let blocked = Command::new("mkfifo")
            .arg(out.join("events.jsonl"))
            .status();
        assert!(blocked.is_ok_and(|s| s.success()));
        let small = file(&dir, "small.toml", SMALL);
        let (code, _, err) = bounded(60, None, &["run", &small, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("not a regular file"), "{err}");
    }
    refused(
        bounded(
            20,
            None,
            &[
                "sweep",
                "--threads",
                "100000",
                "--vary",
                "shocks[0].move_price=0.9:0.8:2",
            ],
        ),
        &["--threads must be 1 to 256"],
        "100,000 threads",
    );
}

#[test]
fn hostile_check_refuses_what_run_would_fail_on() {
    let dir = scratch("hostile-check-run");
    let list = |balances: &str| {
        SMALL.replace(
            "[accounts.population]",
            &format!("[[accounts.list]]\nbalances = {{ {balances} }}\n\n[accounts.population]"),
        )
    };
    let cases = [
        (
            "price-2-63",
            SMALL.replace("price = 2000", "price = 9223372036854775807"),
            &["shocks[0]", "overflows", "assets[1] (ETH)"][..],
        ),
        (
            "reserve-4e-15",
            SMALL.replace("base_reserve = 40000", "base_reserve = 4e-15"),
            &["shocks[0]", "assets[1] (ETH)", "fixed point"][..],
        ),
        (
            "balance-1e22",
            list("ETH = 1e22, USDC = 1"),
            &[
                "line 22, column 1",
                "accounts.list[0]",
                "overflows",
                "ETH at 2000",
            ][..],
        ),
        (
            "set-price-1e20",
            list("ETH = 100000, USDC = 1").replace("move_price = 0.8", "set_price = 1e20"),
            &["accounts.list[0]", "ETH at 1.0000e20"][..],
        ),
        (
            "no-shock-huge-pool",
            SMALL
                .replace("price = 2000", "price = 9223372036854775807")
                .replace("move_price = 0.8", "sell = 0.000001"),
            &["overflows"][..],
        ),
    ];
    for (name, body, expected) in cases {
        let path = file(&dir, &format!("{name}.toml"), &body);
        refused(bounded(60, ONE_GB, &["check", &path]), expected, name);
        refused(bounded(60, ONE_GB, &["run", &path]), expected, name);
    }
}

#[test]
fn hostile_nothing_is_silently_ignored() {
    let dir = scratch("hostile-ignored");
    let after = SMALL.replace("round = 1", "round = 500");
    let path = file(&dir, "after.toml", &after);
    refused(
        bounded(20, None, &["check", &path]),
        &[
            "line 18, column 9",
            "shocks[0].round",
            "after the round cap (max_rounds = 200)",
            "never be applied",
        ],
        "a shock after the cap",
    );
    refused(
        bounded(60, None, &["montecarlo", "--rounds", "300", "--paths", "2"]),
        &["--rounds 300", "max_rounds = 200"],
        "Monte Carlo rounds after the cap",
    );
    let example = example();
    refused(
        bounded(
            60,
            None,
            &[
                "sweep",
                &example,
                "--vary",
                "assets[2].dust=0.00001:0.001:2",
            ],
        ),
        &["assets[2].dust", "the scenario has no `dust`"],
        "a sweep key the file does not set",
    );
    refused(
        bounded(
            60,
            None,
            &[
                "sweep",
                "--vary",
                "shocks[0].move_price=0.9:0.8:2",
                "--vary",
                "shocks[0].move_price=0.9:0.7:2",
            ],
        ),
        &["shocks[0].move_price: varied twice"],
        "a sweep key twice",
    );
    refused(
        bounded(60, None, &["sweep", "--vary", "name=1:2:2"]),
        &["name: holds the text"],
        "a sweep of text",
    );
    refused(
        bounded(
            60,
            None,
            &["compare", "--presets", "aave-v3,maker-liq2,aave-v3"],
        ),
        &["`aave-v3` is given twice"],
        "a preset twice",
    );
    for (name, asset, expected) in [
        ("empty", "", "cannot be empty"),
        ("comma", "E,TH", "comma"),
        ("newline", "E\\nTH", "control character"),
        ("space", " ETH", "start or end with a space"),
    ] {
        let body = SMALL.replace("\"ETH\"", &format!("\"{asset}\""));
        let path = file(&dir, &format!("name-{name}.toml"), &body);
        refused(
            bounded(20, None, &["check", &path]),
            &["line 11, column 8", "assets[1].name", expected],
            name,
        );
    }
    let few = SMALL.replace("count = 100", "count = 4");
    let path = file(&dir, "few.toml", &few);
    refused(
        bounded(20, None, &["check", &path]),
        &["accounts.population.lenders", "rounds to no lender"],
        "no lender",
    );
}

#[test]
fn hostile_messages_read_as_the_schema_not_as_rust() {
    let dir = scratch("hostile-messages");
    let cases = [
        (
            "policy",
            SMALL.replace("policy = \"close-factor\"", "policy = 3"),
            &["line 2, column 10", "expected a policy"][..],
        ),
        (
            "number",
            SMALL.replace("move_price = 0.8", "move_price = true"),
            &["line 20, column 14", "expected a number"][..],
        ),
        (
            "assets",
            SMALL.replace("assets = \"ETH\"", "assets = 3"),
            &["line 25, column 10", "an asset name or a list of names"][..],
        ),
        (
            "unsigned",
            SMALL.replace("max_rounds = 200", "max_rounds = -1"),
            &[
                "line 3, column 14",
                "expected an integer from 0 to 4294967295",
            ][..],
        ),
        (
            "deep-key",
            format!("a{} = 1\n", ".b".repeat(200)),
            &["line 1, column 1", "a key of more than 80 parts"][..],
        ),
        (
            "deep-value",
            format!("a = {}{}\n", "[".repeat(200), "]".repeat(200)),
            &["line 1", "nested more than 80 levels"][..],
        ),
        (
            "missing-key",
            SMALL.replace(
                "weights = { init = 0.80, liq_end = 0.805, maint = 0.83 }\n",
                "",
            ),
            &["line 10, column 1", "assets[1].weights: missing"][..],
        ),
    ];
    for (name, body, expected) in cases {
        let path = file(&dir, &format!("{name}.toml"), &body);
        let result = bounded(20, None, &["check", &path]);
        for internal in [
            "untagged",
            "NumberOrText",
            "FilePolicy",
            "OneOrMany",
            "u32",
            "recursion limit",
        ] {
            assert!(!result.2.contains(internal), "{name}: {}", result.2);
        }
        refused(result, expected, name);
    }
    refused(
        bounded(20, None, &["montecarlo", "--jump-probability", "-0.5"]),
        &["--jump-probability must be in [0, 1]"],
        "a negative flag value",
    );
}

#[test]
fn hostile_docs_hold_decimal_strings_and_byte_order_marks() {
    let dir = scratch("hostile-docs");
    let digest = |body: &str, name: &str| {
        let path = file(&dir, name, body);
        let report = json(&["run", &path, "--json"]);
        report["digest"].as_str().unwrap().to_string()
    };
    let generated = SMALL.replace(
        "assets = \"ETH\"",
        "assets = \"ETH\"\nlenders = 0.2\nsize = { min = 1, alpha = 1.3, max = 50 }\nhealth_factor = { min = 1.01, max = 1.5 }",
    );
    let as_strings = SMALL.replace(
        "assets = \"ETH\"",
        "assets = \"ETH\"\nlenders = \"0.2\"\nsize = { min = \"1\", alpha = \"1.3\", max = \"50\" }\nhealth_factor = { min = \"1.01\", max = \"1.5\" }",
    );
    assert_eq!(
        digest(&generated, "numbers.toml"),
        digest(&as_strings, "strings.toml"),
        "a population's numbers may be decimal strings"
    );
    let listed = |a: &str, b: &str| {
        SMALL.replace(
            "[accounts.population]",
            &format!("[[accounts.list]]\nbalances = {{ USDC = {a}, ETH = {b} }}\n\n[accounts.population]"),
        )
    };
    assert_eq!(
        digest(&listed("-90", "1"), "balances.toml"),
        digest(&listed("\"-90\"", "\"1\""), "balance-strings.toml"),
        "balances may be decimal strings"
    );
    // A byte-order mark, accepted in a scenario file, is accepted in a CSV.
    let with_book = SMALL.replace(
        "[accounts.population]",
        "[accounts]\npositions = \"book.csv\"\n\n[accounts.population]",
    );
    let path = file(&dir, "book.toml", &format!("\u{feff}{with_book}"));
    file(
        &dir,
        "book.csv",
        "\u{feff}account,asset,balance\n1,USDC,-1500\n1,ETH,1\n",
    );
    let (code, out, err) = bounded(20, None, &["check", &path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("101 accounts"), "{out}");
    // Quoted fields and spaces are CSV too; a bad row is still located.
    file(
        &dir,
        "book.csv",
        "account,asset,balance\n1, USDC ,\"-1500\"\n2,ETH,x\n",
    );
    refused(
        bounded(20, None, &["check", &path]),
        &["book.csv: line 3, column 7: balance `x`"],
        "a bad CSV row",
    );
}

/// `--audit` on every command that runs scenarios: the books balance after
/// every unit on the bundled scenarios, and the results are those of the
/// same commands without it.
#[test]
fn audit_runs_the_conservation_audit_and_changes_nothing() {
    for args in [
        vec!["run", "--json"],
        vec!["run", "perp-squeeze", "--preset", "hyperliquid", "--json"],
        vec![
            "compare",
            "cross-margin",
            "--presets",
            "hyperliquid,maker-liq2",
            "--json",
        ],
        vec![
            "sweep",
            "--vary",
            "shocks[0].move_price=0.9:0.7:2",
            "--threads",
            "2",
            "--json",
        ],
        vec![
            "montecarlo",
            "--paths",
            "3",
            "--seed",
            "4",
            "--threads",
            "2",
            "--json",
        ],
    ] {
        let plain = json(&args);
        let mut audited_args = args.clone();
        audited_args.push("--audit");
        let audited = json(&audited_args);
        assert_eq!(plain, audited, "{args:?}");
    }
    let dir = scratch("audit-out");
    let (code, out, err) = firesale(&["run", "--audit", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let digest = |text: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with("digest"))
            .map(str::to_string);
        line.unwrap_or_default()
    };
    let (_, plain, _) = firesale(&["run"]);
    assert!(digest(&out).len() > 20, "{out}");
    assert_eq!(
        digest(&out),
        digest(&plain),
        "--audit --out changes nothing"
    );
    // `check` and `scenarios` run nothing: no --audit there.
    let (code, _, err) = firesale(&["check", "default", "--audit"]);
    assert_eq!(code, 2, "{err}");
}

/// Bad debt of the default scenario with `key` set to `value`, run by
/// `sweep` (a path apart from `critical`'s search).
fn bad_debt_at(key: &str, value: f64) -> f64 {
    let vary = format!("{key}={value}:{value}:1");
    let doc = json(&["sweep", "--vary", &vary, "--json"]);
    assert_eq!(doc["points"][0]["at"][0].as_f64(), Some(value), "{doc}");
    number(&doc["points"][0], "bad_debt")
}

#[test]
fn critical_brackets_the_shock_at_which_bad_debt_appears() {
    let key = "shocks[0].move_price";
    let args = [
        "critical",
        "--vary",
        "shocks[0].move_price=0.6:0.98",
        "--tolerance",
        "0.001",
    ];
    let doc = json(&[&args[..], &["--json"]].concat());
    let bracket = &doc["bracket"];
    let (lo, hi) = (
        number(&bracket["lo"], "value"),
        number(&bracket["hi"], "value"),
    );
    assert!(0.6 <= lo && lo < hi && hi <= 0.98, "{bracket}");
    assert!(hi - lo <= 0.001, "wider than the tolerance: {bracket}");
    assert_eq!(bracket["within_tolerance"], true);
    // A deeper fall (a lower ratio) is the side with bad debt.
    assert_eq!(bracket["lo"]["crossed"], true, "{bracket}");
    assert_eq!(bracket["hi"]["crossed"], false, "{bracket}");
    // Run again at each end on its own: the bracket straddles the crossing.
    let (at_lo, at_hi) = (bad_debt_at(key, lo), bad_debt_at(key, hi));
    assert!(at_lo > 0.0, "no bad debt at {lo}");
    assert_eq!(at_hi, 0.0, "bad debt at {hi}");
    assert_eq!(number(&bracket["lo"], "metric"), at_lo);
    // The sweep's grid put the crossing between 0.866 and 0.828.
    assert!(lo > 0.828 && hi < 0.867, "{bracket}");
    assert_eq!(doc["crossings"], 1);
    assert_eq!(doc["monotone_on_grid"], true);
    assert_eq!(doc["grid"].as_array().map(Vec::len), Some(11));
    let iterations = number(&doc, "iterations");
    assert!((1.0..=64.0).contains(&iterations), "{doc}");
    assert_eq!(number(&doc, "runs"), 11.0 + iterations);

    let (code, out, err) = firesale(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("crosses once"), "{out}");
    assert!(
        out.contains(&format!("runs                {}", doc["runs"])),
        "{out}"
    );
    assert!(err.is_empty(), "no warning when monotone: {err}");

    let dir = scratch("critical-out");
    let (code, _, err) = firesale(&[&args[..], &["--out", dir.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{err}");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("critical.json")).unwrap()).unwrap();
    assert_eq!(written, doc);
}

#[test]
fn critical_says_when_the_outcome_is_not_monotone() {
    // At a 14% fall the generated book's bad debt goes up and down with
    // its seed: above 100 at some seeds, below at others.
    let dir = scratch("critical-seeds");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/default.toml"
    ))
    .unwrap()
    .replace("move_price = 0.8", "move_price = 0.86");
    let scenario = file(&dir, "seeds.toml", &text);
    let args = [
        "critical",
        scenario.as_str(),
        "--vary",
        "accounts.population.seed=1:21",
        "--tolerance",
        "0.5",
        "--threshold",
        "100",
    ];
    let (code, out, err) = firesale(&[&args[..], &["--json"]].concat());
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(number(&doc, "crossings") > 1.0, "{doc}");
    assert_eq!(doc["monotone_on_grid"], false);
    assert!(err.contains("warning: bad-debt crosses"), "{err}");
    assert!(err.contains("monotonicity does not hold here"), "{err}");
    // The seed is an integer: the bracket is two neighbours, the first
    // crossing from the lower end (the grid's first value is below 100).
    let bracket = &doc["bracket"];
    assert_eq!(
        number(&bracket["hi"], "value") - number(&bracket["lo"], "value"),
        1.0
    );
    assert_eq!(doc["grid"][0]["crossed"], false);
    assert_eq!(bracket["hi"]["crossed"], true);
    assert!(number(&bracket["hi"], "metric") > 100.0);
    assert!(number(&bracket["lo"], "metric") <= 100.0);
    let (_, out, _) = firesale(&args);
    assert!(out.contains("monotonicity does not hold here"), "{out}");
    assert!(out.contains("the key is an integer"), "{out}");
}

#[test]
fn critical_refuses_bad_input_by_name() {
    let critical = |vary: &str, more: &[&str]| {
        let mut args = vec!["critical", "--vary", vary, "--tolerance", "0.01"];
        args.extend_from_slice(more);
        firesale(&args)
    };
    let cases: [(&str, &[&str], &[&str]); 9] = [
        ("bogus.key=0:1", &[], &["the scenario has no `bogus`"]),
        ("name=0:1", &[], &["name", "not a number"]),
        (
            "shocks[0].move_price=low:0.9",
            &[],
            &["`low` is not a finite number"],
        ),
        (
            "shocks[0].move_price=0.9:0.6",
            &[],
            &["LO must be below HI"],
        ),
        ("shocks[0].move_price=0.9", &[], &["KEY=LO:HI"]),
        (
            "shocks[0].move_price=0.6:0.9",
            &["--metric", "ruin"],
            &["'ruin'", "market-broken"],
        ),
        (
            "shocks[0].move_price=0.9:0.98",
            &[],
            &[
                "does not straddle a crossing",
                "not above 0 at either end",
                "widen the range",
            ],
        ),
        (
            "shocks[0].move_price=0.6:0.98",
            &["--metric", "market-broken", "--threshold", "1"],
            &["--threshold does not apply"],
        ),
        (
            "shocks[0].move_price=0:0.9",
            &[],
            &["at shocks[0].move_price = 0", "positive"],
        ),
    ];
    for (vary, more, expected) in cases {
        refused(critical(vary, more), expected, vary);
    }
    for tolerance in ["0", "-1", "nan"] {
        refused(
            firesale(&[
                "critical",
                "--vary",
                "shocks[0].move_price=0.6:0.9",
                "--tolerance",
                tolerance,
            ]),
            &["--tolerance must be a positive number"],
            tolerance,
        );
    }
}

/// The text an SVG chart draws, its labels in order (plotters writes each
/// `<text>` element's content on a line of its own).
fn svg_text(path: &Path) -> String {
    let svg = std::fs::read_to_string(path).unwrap();
    svg.replace("&gt;", ">").replace("&lt;", "<")
}

#[test]
fn the_heat_map_names_its_axes_writes_its_cells_and_greys_out_zero() {
    use firesale_harness::plot::short;
    let dir = scratch("heatmap-labels");
    let (code, _, err) = firesale(&[
        "sweep",
        "--vary",
        "shocks[0].move_price=0.95:0.75:3",
        "--vary",
        "assets[1].venue.base_reserve=10000:40000:2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let svg = svg_text(&dir.join("heatmap.svg"));
    for label in [
        "move price (ratio to the price before) · shocks[0].move_price",
        "base reserve (units of the asset) · assets[1].venue.base_reserve",
        "colour: bad debt (quote)",
        "0 (none)",
        "critical shock",
    ] {
        assert!(svg.contains(label), "`{label}` not in the heat map");
    }
    // Every cell's value is written in it (a 3 × 2 grid is small enough).
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    let losses: Vec<f64> = doc["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| number(p, "bad_debt"))
        .collect();
    assert!(
        losses.contains(&0.0) && losses.iter().any(|&l| l > 0.0),
        "{losses:?}"
    );
    let cells: Vec<&str> = svg.lines().map(str::trim).collect();
    for loss in &losses {
        assert!(
            cells.contains(&short(*loss).as_str()),
            "{loss} not written in its cell"
        );
    }
    // Zero is drawn in the neutral grey, which no loss above zero gets.
    let zeros = losses.iter().filter(|&&l| l == 0.0).count();
    // One grey cell per zero, and the legend's swatch.
    assert_eq!(
        svg.matches("fill=\"#DEDEDE\"").count(),
        zeros + 1,
        "{losses:?}"
    );
    assert_png(&dir.join("heatmap.png"));
}

#[test]
fn montecarlo_draws_the_tail_on_log_axes_with_var_and_es_marked() {
    use firesale_harness::plot::short;
    let dir = scratch("montecarlo-tail");
    let (code, out, err) = firesale(&[
        "montecarlo",
        "--paths",
        "60",
        "--seed",
        "3",
        "--json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let tail = &doc["bad_debt"];
    assert!(number(tail, "probability_of_loss") > 0.0, "{tail}");
    let marks = [
        format!("VaR 95% = {}", short(number(tail, "var_95"))),
        format!("VaR 99% = {}", short(number(tail, "var_99"))),
        format!("ES 95% = {}", short(number(tail, "expected_shortfall_95"))),
        format!("ES 99% = {}", short(number(tail, "expected_shortfall_99"))),
    ];
    let histogram = svg_text(&dir.join("histogram.svg"));
    assert!(
        histogram.contains("paths (log scale)"),
        "the count axis is logarithmic"
    );
    assert!(histogram.contains("bad debt (quote)"));
    let exceedance = svg_text(&dir.join("exceedance.svg"));
    for label in [
        "P[loss > x], share of paths (log scale)",
        "P[loss > x] over the paths",
        "P = 5% (tail of the VaR at 95%)",
        "bad debt (quote)",
    ] {
        assert!(
            exceedance.contains(label),
            "`{label}` not in the exceedance curve"
        );
    }
    for mark in &marks {
        assert!(
            histogram.contains(mark.as_str()),
            "`{mark}` not on the histogram"
        );
        assert!(
            exceedance.contains(mark.as_str()),
            "`{mark}` not on the exceedance curve"
        );
    }
    // 60 paths: the probability axis reaches down to half a path's share.
    let ticks: Vec<&str> = exceedance.lines().map(str::trim).collect();
    assert!(
        ticks.contains(&"1%") && ticks.contains(&"10%") && ticks.contains(&"100%"),
        "the probability axis is ticked by decades"
    );
    for chart in ["histogram", "exceedance"] {
        assert_png(&dir.join(format!("{chart}.png")));
        assert_svg(&dir.join(format!("{chart}.svg")));
    }
}

/// The default scenario with its shock's ratio set to `ratio`, run by
/// `run --json`.
fn default_report_at(dir: &Path, ratio: f64) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/default.toml"
    ))
    .unwrap()
    .replace("move_price = 0.8", &format!("move_price = {ratio}"));
    let path = file(dir, &format!("at-{ratio}.toml"), &text);
    json(&["run", &path, "--json"])
}

#[test]
fn critical_finds_where_the_insurance_fund_stops_covering_bad_debt() {
    let doc = json(&[
        "critical",
        "--vary",
        "shocks[0].move_price=0.6:0.98",
        "--tolerance",
        "0.002",
        "--metric",
        "insurance-exhausted",
        "--json",
    ]);
    let bracket = &doc["bracket"];
    assert_eq!(bracket["lo"]["crossed"], true, "{bracket}");
    assert_eq!(bracket["hi"]["crossed"], false, "{bracket}");
    assert!(number(bracket, "width") <= 0.002, "{bracket}");
    let dir = scratch("critical-insurance");
    let uncovered = |report: &Value| -> f64 {
        report["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| number(a, "written_off") - number(a, "covered"))
            .sum()
    };
    let deeper = default_report_at(&dir, number(&bracket["lo"], "value"));
    let milder = default_report_at(&dir, number(&bracket["hi"], "value"));
    assert!(
        uncovered(&deeper) > 0.0,
        "the fund covered everything: {deeper}"
    );
    assert_eq!(uncovered(&milder), 0.0, "{milder}");
    // The milder side still has bad debt: the fund covered it all.
    assert!(number(&milder, "bad_debt") > 0.0, "{milder}");
}

#[test]
fn a_one_axis_sweep_names_its_axis_and_writes_each_value() {
    use firesale_harness::plot::short;
    let dir = scratch("sweep-line-labels");
    let (code, _, err) = firesale(&[
        "sweep",
        "--vary",
        "shocks[0].move_price=0.95:0.7:4",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let svg = svg_text(&dir.join("heatmap.svg"));
    assert!(svg.contains("move price (ratio to the price before) · shocks[0].move_price"));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    let labels: Vec<&str> = svg.lines().map(str::trim).collect();
    for p in doc["points"].as_array().unwrap() {
        let value = short(number(p, "bad_debt"));
        assert!(
            labels.contains(&value.as_str()),
            "{value} not written at its point"
        );
    }
}

/// A market the engine does not run yet is refused by `check`, as by
/// `run`, naming the key: auctions under a close factor.
#[test]
fn what_the_engine_does_not_run_is_refused_by_check() {
    let dir = scratch("not-run");
    let file = dir.join("close-factor-auction.toml");
    std::fs::write(
        &file,
        r#"policy = "close-factor"
[[assets]]
name = "USDC"
quote = true
[[assets]]
name = "ETH"
price = 2000
weights = { init = 0.8, liq_end = 0.8, maint = 0.8 }
venue = { kind = "constant-product", base_reserve = 4000, fee = 0.003, resilience = 0.2 }
auction = { buf = 1.2, curve = "linear", rounds = 6, tail_rounds = 10, penalty = 0.13 }
[[accounts.list]]
balances = { ETH = 1, USDC = -1500 }
"#,
    )
    .unwrap();
    for command in ["check", "run"] {
        let (code, _, err) = firesale(&[command, file.to_str().unwrap()]);
        assert_eq!(code, 2, "{command}: {err}");
        assert!(
            err.contains(
                "policy: the engine does not run auctions under a policy other than absorb"
            ),
            "{command}: {err}"
        );
    }
}

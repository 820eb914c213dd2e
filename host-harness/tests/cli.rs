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
    let liquidations = events.iter().filter(|e| e["type"] == "liquidation").count();
    assert_eq!(liquidations as f64, number(&report, "liquidations"));
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
    let (code, _, err) = firesale(&[
        "compare",
        "default",
        "--presets",
        "aave-v3,maker-liq2,hyperliquid",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
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
        err.contains("no such preset (aave-v3, compound-v3"),
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

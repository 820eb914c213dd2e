//! The built `firesale` binary: each subcommand, and malformed scenario files
//! each giving a clear error and exit code 2, never a panic.

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
    assert!(err.contains("cannot read"), "{err}");
    let (code, _, _) = firesale(&["frobnicate"]);
    assert_eq!(code, 2);
}

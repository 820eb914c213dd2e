//! The committed golden digests, checked where this test runs: on the host in
//! `cargo test`, and under Miri on a big-endian (s390x) and a 32-bit (i686)
//! target by `tests/miri.sh`. `FIRESALE_GOLDEN_ONLY=<index>` runs one scenario
//! (Miri is slow).

#[test]
fn golden_digests_match_the_committed_file() {
    let only: Option<usize> = std::env::var("FIRESALE_GOLDEN_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    let committed: Vec<&str> = include_str!("../digests.txt").lines().collect();
    assert_eq!(committed.len(), firesale_golden::COUNT);
    let mut buffers = firesale_golden::Buffers::default();
    for (index, want) in committed.iter().enumerate() {
        if only.is_some_and(|o| o != index) {
            continue;
        }
        let outcome =
            firesale_golden::run(index, &mut buffers, &mut ()).expect("golden scenarios are valid");
        let mut line = String::new();
        firesale_golden::line(index, &outcome, &mut line).unwrap();
        assert_eq!(&line, want, "golden {index} on {}", std::env::consts::ARCH);
    }
}

/// The same scenarios in the engine being rebuilt (`firesale_golden::next`):
/// their committed lines, where this test runs (`FIRESALE_GOLDEN_ONLY` as
/// above).
#[test]
fn next_golden_digests_match_the_committed_file() {
    let only: Option<usize> = std::env::var("FIRESALE_GOLDEN_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    let committed: Vec<&str> = include_str!("../next-digests.txt").lines().collect();
    assert_eq!(committed.len(), firesale_golden::COUNT);
    let mut buffers = firesale_golden::next::Buffers::default();
    for (index, want) in committed.iter().enumerate() {
        if only.is_some_and(|o| o != index) {
            continue;
        }
        let outcome = firesale_golden::next::run(index, &mut buffers, &mut ())
            .expect("next golden scenarios are valid");
        let mut line = String::new();
        firesale_golden::next::line(index, &outcome, &mut line).unwrap();
        assert_eq!(
            &line,
            want,
            "next golden {index} on {}",
            std::env::consts::ARCH
        );
    }
}

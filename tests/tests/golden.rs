//! The golden digests: the host run must match the committed file, which the
//! firmware (QEMU) and the wasm build (Node) are compared against in CI.
//! After an intended change of semantics, regenerate it with
//! `cargo run -p firesale-golden --example print > tests/golden/digests.txt`.

#[test]
fn host_digests_match_the_committed_golden_file() {
    let committed = include_str!("../golden/digests.txt");
    let mut buffers = firesale_golden::Buffers::default();
    let mut lines = committed.lines();
    for index in 0..firesale_golden::COUNT {
        let outcome =
            firesale_golden::run(index, &mut buffers, &mut ()).expect("golden scenarios are valid");
        let mut line = String::new();
        firesale_golden::line(index, &outcome, &mut line).unwrap();
        assert_eq!(Some(line.as_str()), lines.next(), "golden {index} changed");
        assert!(outcome.report.liquidations > 0, "golden {index} liquidates");
    }
    assert_eq!(lines.next(), None);
}

#[test]
fn golden_scenarios_cover_every_venue_policy_and_side() {
    use firesale_core::Event;
    let mut buffers = firesale_golden::Buffers::default();
    let (mut sold, mut bought) = (false, false);
    for index in 0..firesale_golden::COUNT {
        let mut log = firesale_tests::Log::default();
        firesale_golden::run(index, &mut buffers, &mut log).unwrap();
        for e in &log.0 {
            if let Event::Liquidation {
                collateral,
                liability,
                ..
            } = e
            {
                sold |= *collateral != 0;
                bought |= *liability != 0;
            }
        }
    }
    assert!(sold && bought, "longs sold and shorts bought back");
}

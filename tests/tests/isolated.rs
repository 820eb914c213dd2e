//! Isolated beside cross margin: the same positions, split into one
//! account per asset, stop the contagion of the cross-margin scenario (no
//! BTC is sold when ETH crashes) at the price of larger losses on the ETH
//! parts, which no longer lean on BTC. The audit holds after every step.

use firesale_core::{Qty, Termination};
use firesale_harness::scenario_file::parse;
use firesale_tests::run_checked;

fn cross_margin(margin: &str) -> firesale_harness::Scenario {
    let text = firesale_harness::bundled::find("cross-margin")
        .unwrap()
        .source
        .replace("count = 4000", "count = 1000")
        .replace(
            "lenders = 0.1",
            &format!("lenders = 0.1\nmargin = \"{margin}\""),
        );
    parse(&text).unwrap()
}

#[test]
fn isolated_accounts_stop_the_contagion_and_keep_their_losses() {
    let cross = run_checked(&cross_margin("cross"), &[1, 64, 4096]);
    let isolated_scenario = cross_margin("isolated");
    let isolated = run_checked(&isolated_scenario, &[1, 64, 4096]);
    assert_eq!(
        isolated_scenario.accounts(),
        100 + 900 * 2,
        "each position becomes an ETH account and a BTC account"
    );
    let btc_sold = |c: &firesale_tests::Checked| c.report.per_asset[2].sold;
    assert!(
        btc_sold(&cross) > Qty::ZERO,
        "cross margin sells BTC for ETH's loss"
    );
    assert_eq!(
        btc_sold(&isolated),
        Qty::ZERO,
        "isolated BTC accounts are untouched"
    );
    assert!(
        isolated.report.bad_debt > cross.report.bad_debt,
        "without BTC behind them the ETH parts go bankrupt more: {:?} vs {:?}",
        isolated.report.bad_debt,
        cross.report.bad_debt
    );
    assert_eq!(isolated.termination, Termination::FixedPoint);
}

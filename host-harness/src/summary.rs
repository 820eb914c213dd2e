//! The terminal summary of a report.

use crate::observe::{amplification, Observed};
use crate::run_report::Ended;
use crate::scenario::Scenario;
use std::fmt::Write;

/// A readable summary of a watched run, one fact a line.
pub fn summary(scenario: &Scenario, observed: &Observed) -> String {
    let (name, report, digest) = (&scenario.name, &observed.report, observed.digest);
    let amplification = amplification(observed);
    let mut s = String::new();
    let end = match &report.ended {
        Some(Ended::FixedPoint) => "fixed point".to_string(),
        Some(Ended::RoundCap) => "round cap".to_string(),
        Some(Ended::MarketBroken { asset }) => format!("market broken (asset {asset})"),
        Some(Ended::Failed(message)) => format!("failed: {message}"),
        None => "still running".to_string(),
    };
    let _ = writeln!(s, "scenario            {name}");
    let _ = writeln!(
        s,
        "ended               {end} after {} rounds",
        report.rounds
    );
    let _ = writeln!(
        s,
        "liquidations        {} steps, {} accounts",
        report.liquidations, report.accounts_liquidated
    );
    let _ = writeln!(s, "bankruptcies        {}", report.bankruptcies);
    let _ = writeln!(s, "bad debt            {:.2}", report.bad_debt);
    let _ = writeln!(
        s,
        "  insurance used    {:.2} (fund now {:.2})",
        report.insurance_used, report.insurance_fund
    );
    let _ = writeln!(s, "  socialized        {:.2}", report.socialized);
    if report.deleveraged > 0.0 {
        let _ = writeln!(
            s,
            "  deleveraged       {:.2} (auto-deleveraging)",
            report.deleveraged
        );
    }
    let _ = writeln!(s, "  unrecovered       {:.2}", report.unrecovered);
    let _ = writeln!(s, "fees to insurance   {:.2}", report.fees);
    if report.auctions > 0 {
        let _ = writeln!(
            s,
            "auctions            {} started, {} takes at a price of zero",
            report.auctions, report.zero_bid_takes
        );
    }
    if report.backstopped > 0 {
        let _ = writeln!(
            s,
            "backstop vault      took {} accounts: assets {:.2}, liabilities {:.2}",
            report.backstopped, report.backstop_assets, report.backstop_liabilities
        );
        let _ = writeln!(
            s,
            "  equity absorbed   {:.2} (negative part {:.2})",
            report.backstop_equity, report.backstop_negative_equity
        );
        let _ = writeln!(
            s,
            "  vault P&L         {:.2} (holdings at the final oracle less the equity)",
            report.backstop_pnl
        );
    }
    if report.deferred > 0 {
        let _ = writeln!(s, "deferred            {} liquidations waited (rate limits, keeper capital, auction slots, halts, a stale oracle)", report.deferred);
    }
    let _ = writeln!(s, "keeper P&L          {:.2}", report.keeper_pnl);
    for (i, a) in report.assets.iter().enumerate().skip(1) {
        let initial = a.initial_price;
        let drop = percent('-', 1.0 - a.min_price / initial);
        let rise = percent('+', a.max_price / initial - 1.0);
        let _ = writeln!(
            s,
            "{:<20}price {initial:.2} -> {:.2} (min {:.2} {drop}, max {:.2} {rise})",
            scenario.asset_name(i),
            a.final_price,
            a.min_price,
            a.max_price,
        );
        let _ = writeln!(
            s,
            "{:<20}sold {:.4}, bought {:.4}; amplification {}",
            "",
            a.sold,
            a.bought,
            amplification.get(i).copied().flatten().map_or(
                "n/a (the shocks alone did not move it)".to_string(),
                |x| format!("{x:.2}x")
            ),
        );
    }
    let _ = writeln!(s, "digest              {digest:016x}");
    s
}

/// A move of `share` (at least zero) as a percentage with `sign`, to two
/// places; none that rounds to zero, which has no sign ("0.00%", not
/// "-0.00%").
fn percent(sign: char, share: f64) -> String {
    let p = 100.0 * share;
    match format!("{p:.2}").as_str() {
        "0.00" | "-0.00" => "0.00%".to_string(),
        text => format!("{sign}{text}%"),
    }
}

//! JSON forms of reports and events (fields documented in docs/report.md).
//! Quantities and values are JSON numbers: the kernel's fixed point
//! converted to the nearest `f64`. The digest pins the exact state.

use crate::event_json::termination;
pub use crate::event_json::{event, termination_name};
use crate::observe::{amplification, headline_amplification, Observed};
use crate::scenario::Scenario;
use serde_json::{json, Value};

/// The report of a watched run.
pub fn report(scenario: &Scenario, observed: &Observed) -> Value {
    let r = &observed.report;
    let amplification = amplification(observed);
    let volumes = quote_volumes(observed);
    let assets: Vec<Value> = r
        .assets
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({
                "name": scenario.asset_name(i),
                "initial_price": a.initial_price,
                "final_price": a.final_price,
                "min_price": a.min_price,
                "max_price": a.max_price,
                "sold": a.sold,
                "bought": a.bought,
                "volume_quote": volumes.get(i).copied().unwrap_or(0.0),
                "written_off": a.written_off,
                "covered": a.covered,
                "socialized": a.socialized,
                "deleveraged": a.deleveraged,
                "unrecovered": a.unrecovered,
                "deposit_index": a.deposit_index,
                "amplification": amplification.get(i).copied().flatten(),
            })
        })
        .collect();
    json!({
        "scenario": scenario.name,
        "accounts": scenario.accounts(),
        "termination": termination(r.ended.as_ref()),
        "rounds": r.rounds,
        "liquidations": r.liquidations,
        "accounts_liquidated": r.accounts_liquidated,
        "bankruptcies": r.bankruptcies,
        "deferred": r.deferred,
        "backstopped": r.backstopped,
        "backstop_assets": r.backstop_assets,
        "backstop_liabilities": r.backstop_liabilities,
        "backstop_equity": r.backstop_equity,
        "backstop_negative_equity": r.backstop_negative_equity,
        "backstop_pnl": r.backstop_pnl,
        "auctions": r.auctions,
        "zero_bid_takes": r.zero_bid_takes,
        "deleveraged": r.deleveraged,
        "bad_debt": r.bad_debt,
        "insurance_used": r.insurance_used,
        "insurance_fund_final": r.insurance_fund,
        "socialized_loss": r.socialized,
        "unrecovered": r.unrecovered,
        "fees": r.fees,
        "keeper_pnl": r.keeper_pnl,
        "amplification": headline_amplification(observed),
        "assets": assets,
        "digest": format!("{:016x}", observed.digest),
    })
}

/// Quote traded per asset over the whole run.
fn quote_volumes(observed: &Observed) -> Vec<f64> {
    let mut totals: Vec<f64> = Vec::new();
    for row in &observed.timeline {
        totals.resize(totals.len().max(row.assets.len()), 0.0);
        for (total, a) in totals.iter_mut().zip(&row.assets) {
            *total += a.volume_quote;
        }
    }
    totals
}

/// The figures of one sweep point or Monte Carlo path.
pub fn figures(f: &crate::observe::Figures) -> Value {
    json!({
        "bad_debt": f.bad_debt, "amplification": f.amplification,
        "liquidations": f.liquidations, "rounds": f.rounds,
        "termination": f.termination, "digest": format!("{:016x}", f.digest),
    })
}

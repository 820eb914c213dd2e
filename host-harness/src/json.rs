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
    let r = &observed.outcome.report;
    let amplification = amplification(observed);
    let volumes = quote_volumes(observed);
    let assets: Vec<Value> = r
        .assets()
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({
                "name": scenario.asset_name(i),
                "initial_price": a.initial_price.to_f64(),
                "final_price": a.final_price.to_f64(),
                "min_price": a.min_price.to_f64(),
                "max_price": a.max_price.to_f64(),
                "sold": a.sold.to_f64(),
                "bought": a.bought.to_f64(),
                "volume_quote": volumes.get(i).copied().unwrap_or(0.0),
                "written_off": a.written_off.to_f64(),
                "covered": a.covered.to_f64(),
                "socialized": a.socialized.to_f64(),
                "deleveraged": a.deleveraged.to_f64(),
                "unrecovered": a.unrecovered.to_f64(),
                "deposit_index": a.deposit_index.to_f64(),
                "amplification": amplification.get(i).copied().flatten(),
            })
        })
        .collect();
    json!({
        "scenario": scenario.name,
        "accounts": scenario.accounts(),
        "termination": termination(r.termination, &scenario.asset_names),
        "rounds": r.rounds,
        "liquidations": r.liquidations,
        "accounts_liquidated": r.accounts_liquidated,
        "bankruptcies": r.bankruptcies,
        "deferred": r.deferred,
        "backstopped": r.backstopped,
        "backstop_assets": r.backstop_assets.to_f64(),
        "backstop_liabilities": r.backstop_liabilities.to_f64(),
        "backstop_equity": r.backstop_equity.to_f64(),
        "backstop_negative_equity": r.backstop_negative_equity.to_f64(),
        "backstop_pnl": r.backstop_pnl.to_f64(),
        "auctions": r.auctions,
        "zero_bid_takes": r.zero_bid_takes,
        "deleveraged": r.deleveraged.to_f64(),
        "bad_debt": r.bad_debt.to_f64(),
        "insurance_used": r.insurance_used.to_f64(),
        "insurance_fund_final": r.insurance_fund.to_f64(),
        "socialized_loss": r.socialized.to_f64(),
        "unrecovered": r.unrecovered.to_f64(),
        "fees": r.fees.to_f64(),
        "keeper_pnl": r.keeper_pnl.to_f64(),
        "amplification": headline_amplification(observed),
        "assets": assets,
        "digest": format!("{:016x}", observed.outcome.digest),
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

//! Events and endings as JSON: the event log's lines (`events.jsonl`) and
//! the termination of `report.json` (fields documented in docs/report.md).

use crate::next_bridge::{asset_units, price_units, quote_units};
use crate::run_report::Ended;
use firesale_next::engine::Event;
use firesale_next::num::{Qty, Value as Value_};
use serde_json::{json, Value};

/// The kebab-case name of an ending (`running` for none yet).
pub fn termination_name(ended: Option<&Ended>) -> &'static str {
    ended.map_or("running", Ended::name)
}

/// An ending with its detail (the broken market's asset, a failure's
/// message).
pub(crate) fn termination(ended: Option<&Ended>) -> Value {
    let detail = match ended {
        Some(Ended::MarketBroken { asset }) => json!({ "asset": asset }),
        Some(Ended::Failed(message)) => json!({ "message": message }),
        _ => Value::Null,
    };
    json!({ "reason": termination_name(ended), "detail": detail })
}

/// One event as a JSON object with a `type` field: amounts in whole units
/// of their asset, values in whole units of the quote, prices in quote a
/// whole unit (docs/report.md, "events.jsonl").
pub fn event(e: &Event) -> Value {
    let qty = |asset: usize, q: Qty| asset_units(asset, q.0.into());
    let quote = |v: Value_| quote_units(v.0.into());
    match *e {
        Event::RoundStarted { round } => json!({ "type": "round-started", "round": round }),
        Event::Cleared {
            round,
            asset,
            price,
            iterations,
            converged,
        } => json!({
            "type": "cleared", "round": round, "asset": asset,
            "price": price_units(usize::from(asset), price), "iterations": iterations,
            "converged": converged,
        }),
        Event::Moved { account, moved: m } => json!({
            "type": "moved", "account": account, "asset": m.asset,
            "seized": qty(m.asset, m.seized), "repaid": qty(m.asset, m.repaid),
            "traded": quote(m.traded), "fee": quote(m.fee),
        }),
        Event::Liquidated {
            round,
            account,
            steps,
            last,
        } => {
            let mut line = json!({
                "type": "liquidation", "round": round, "account": account, "steps": steps,
            });
            if let Some(s) = last {
                line["last"] = json!({
                    "liability": s.liability, "collateral": s.collateral,
                    "repaid": qty(s.liability, s.repaid), "seized": qty(s.collateral, s.seized),
                    "proceeds": quote(s.proceeds), "cost": quote(s.cost), "fee": quote(s.fee),
                });
            }
            line
        }
        Event::WrittenOff {
            account,
            written: w,
        } => json!({
            "type": "written-off", "account": account, "asset": w.asset,
            "written_off": qty(w.asset, w.written_off), "covered": qty(w.asset, w.covered),
            "insurance_paid": quote(w.insurance_paid), "socialized": qty(w.asset, w.socialized),
            "deleveraged": qty(w.asset, w.deleveraged), "unrecovered": qty(w.asset, w.unrecovered),
        }),
        Event::BackstopTakeover {
            round,
            account,
            equity,
        } => json!({
            "type": "backstop-takeover", "round": round, "account": account,
            "equity": quote(equity),
        }),
        Event::Deleveraged {
            round,
            account,
            asset,
            long,
            size,
            quote: paid,
            counterparty,
        } => json!({
            "type": "deleveraged", "round": round, "account": account, "asset": asset,
            "long": long, "size": qty(usize::from(asset), size), "quote": quote(paid),
            "counterparty": counterparty,
        }),
        Event::AuctionStarted {
            round,
            auction,
            account,
            asset,
            lot,
            debt,
            incentive,
            top,
        } => json!({
            "type": "auction-started", "round": round, "auction": auction, "account": account,
            "asset": asset, "lot": qty(usize::from(asset), lot), "debt": quote(debt),
            "incentive": quote(incentive), "top": price_units(usize::from(asset), top),
        }),
        Event::AuctionReset {
            round,
            auction,
            asset,
            top,
        } => json!({
            "type": "auction-reset", "round": round, "auction": auction, "asset": asset,
            "top": price_units(usize::from(asset), top),
        }),
        Event::AuctionTaken {
            round,
            auction,
            asset,
            qty: taken,
            paid,
            penalty,
            proceeds,
            venue_price,
        } => json!({
            "type": "auction-taken", "round": round, "auction": auction, "asset": asset,
            "qty": qty(usize::from(asset), taken), "paid": quote(paid),
            "penalty": quote(penalty), "proceeds": quote(proceeds),
            "venue_price": price_units(usize::from(asset), venue_price),
        }),
        Event::AuctionEnded {
            round,
            auction,
            asset,
            account,
            returned,
            shortfall,
            covered,
        } => json!({
            "type": "auction-ended", "round": round, "auction": auction, "asset": asset,
            "account": account, "returned": qty(usize::from(asset), returned),
            "shortfall": quote(shortfall), "covered": quote(covered),
        }),
        Event::BreakerTripped {
            round,
            asset,
            resumes,
        } => {
            json!({ "type": "breaker-tripped", "round": round, "asset": asset, "resumes": resumes })
        }
        Event::RoundEnded {
            round,
            liquidations,
        } => json!({ "type": "round-ended", "round": round, "liquidations": liquidations }),
        Event::Finished(t) => json!({
            "type": "finished",
            "termination": termination(Some(&crate::next_observe::ended(t))),
        }),
    }
}

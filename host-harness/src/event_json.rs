//! Events and endings as JSON: the event log's lines (`events.jsonl`) and
//! the termination of `report.json` (fields documented in docs/report.md).

use crate::run_report::{kernel_ended, Ended};
use firesale_core::Event;
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

/// One event as a JSON object with a `type` field.
pub fn event(e: &Event) -> Value {
    match *e {
        Event::RoundStarted { round } => json!({ "type": "round-started", "round": round }),
        Event::ShockApplied { round, index } => {
            json!({ "type": "shock-applied", "round": round, "index": index })
        }
        Event::Liquidation {
            round,
            account,
            liability,
            collateral,
            repaid,
            seized,
            proceeds,
            cost,
            fee,
        } => json!({
            "type": "liquidation", "round": round, "account": account,
            "liability": liability, "collateral": collateral,
            "repaid": repaid.to_f64(), "seized": seized.to_f64(),
            "proceeds": proceeds.to_f64(), "cost": cost.to_f64(), "fee": fee.to_f64(),
        }),
        Event::Bankruptcy {
            round,
            account,
            asset,
            written_off,
            covered,
            insurance_paid,
            socialized,
            deleveraged,
            unrecovered,
        } => json!({
            "type": "bankruptcy", "round": round, "account": account, "asset": asset,
            "written_off": written_off.to_f64(), "covered": covered.to_f64(),
            "insurance_paid": insurance_paid.to_f64(), "socialized": socialized.to_f64(),
            "deleveraged": deleveraged.to_f64(),
            "unrecovered": unrecovered.to_f64(),
        }),
        Event::RoundEnded {
            round,
            liquidations,
        } => json!({ "type": "round-ended", "round": round, "liquidations": liquidations }),
        Event::BackstopTakeover {
            round,
            account,
            equity,
        } => {
            json!({ "type": "backstop-takeover", "round": round, "account": account, "equity": equity.to_f64() })
        }
        Event::Deleveraged {
            round,
            account,
            counterparty,
            asset,
            qty,
            quote,
        } => json!({
            "type": "deleveraged", "round": round, "account": account, "counterparty": counterparty,
            "asset": asset, "qty": qty.to_f64(), "quote": quote.to_f64(),
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
            "type": "auction-started", "round": round, "auction": auction, "account": account, "asset": asset,
            "lot": lot.to_f64(), "debt": debt.to_f64(), "incentive": incentive.to_f64(),
            "top": top.to_f64(),
        }),
        Event::AuctionTaken {
            round,
            auction,
            account,
            asset,
            qty,
            paid,
            price,
        } => json!({
            "type": "auction-taken", "round": round, "auction": auction, "account": account, "asset": asset,
            "qty": qty.to_f64(), "paid": paid.to_f64(), "price": price.to_f64(),
        }),
        Event::AuctionReset {
            round,
            auction,
            account,
            asset,
            top,
        } => {
            json!({ "type": "auction-reset", "round": round, "auction": auction, "account": account, "asset": asset, "top": top.to_f64() })
        }
        Event::AuctionEnded {
            round,
            auction,
            account,
            asset,
            returned,
            shortfall,
        } => json!({
            "type": "auction-ended", "round": round, "auction": auction, "account": account, "asset": asset,
            "returned": returned.to_f64(), "shortfall": shortfall.to_f64(),
        }),
        Event::Cleared {
            round,
            asset,
            price,
            iterations,
        } => json!({
            "type": "cleared", "round": round, "asset": asset, "price": price.to_f64(),
            "iterations": iterations,
        }),
        Event::BreakerTripped {
            round,
            asset,
            resumes,
        } => {
            json!({ "type": "breaker-tripped", "round": round, "asset": asset, "resumes": resumes })
        }
        Event::RolledBack { round, events } => {
            json!({ "type": "rolled-back", "round": round, "events": events })
        }
        Event::Finished { round, termination } => json!({
            "type": "finished", "round": round, "termination": self::termination(Some(&kernel_ended(termination, &[]))),
        }),
    }
}

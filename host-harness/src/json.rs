//! JSON forms of reports and events (fields documented in docs/report.md).
//! Quantities and values are JSON numbers: the kernel's fixed point
//! converted to the nearest `f64`. The digest pins the exact state.

use crate::observe::{amplification, headline_amplification, Observed};
use crate::scenario::Scenario;
use firesale_core::{Event, Termination};
use serde_json::{json, Value};

/// The kebab-case name of a termination.
pub fn termination_name(t: Option<Termination>) -> &'static str {
    match t {
        Some(Termination::FixedPoint) => "fixed-point",
        Some(Termination::RoundCap) => "round-cap",
        Some(Termination::MarketBroken { .. }) => "market-broken",
        Some(Termination::Failed(_)) => "failed",
        None => "running",
    }
}

fn termination(t: Option<Termination>, names: &[String]) -> Value {
    let detail = match t {
        Some(Termination::MarketBroken { asset }) => json!({ "asset": asset }),
        Some(Termination::Failed(e)) => {
            let mut detail = json!({
                "error": format!("{e:?}"),
                "message": crate::preflight::describe_named(&e, names),
            });
            if let firesale_core::Error::Arithmetic {
                round,
                account,
                asset,
                shock,
                ..
            } = e
            {
                detail["round"] = json!(round);
                detail["account"] = json!(account);
                detail["asset"] = json!(asset);
                detail["shock"] = json!(shock);
            }
            detail
        }
        _ => Value::Null,
    };
    json!({ "reason": termination_name(t), "detail": detail })
}

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
            "type": "finished", "round": round, "termination": self::termination(Some(termination), &[]),
        }),
    }
}

/// The figures of one sweep point or Monte Carlo path.
pub fn figures(f: &crate::observe::Figures) -> Value {
    json!({
        "bad_debt": f.bad_debt, "amplification": f.amplification,
        "liquidations": f.liquidations, "rounds": f.rounds,
        "termination": f.termination, "digest": format!("{:016x}", f.digest),
    })
}

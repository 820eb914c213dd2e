//! The backstop vault's books: what the accounts it takes over lose, the
//! vault gains, asset by asset and in value, and the report's intake,
//! equity and P&L are what its books say (docs/containment.md, "The
//! backstop vault").

use firesale_core::ledger::Book;
use firesale_core::num::Round;
use firesale_core::{Event, Qty, StepOutcome, Value};
use firesale_harness::{bundled, presets};
use firesale_tests::{engine, Buffers, Log};

/// Value of `qty` at `price`, as a takeover values a balance: a deposit
/// rounded down, a debt toward +∞ (as the account's equity counts it).
fn valued(qty: Qty, price: firesale_core::Price) -> Value {
    let round = if qty.is_negative() {
        Round::Up
    } else {
        Round::Down
    };
    qty.value_at(price, round).unwrap()
}

/// The default scenario under the Hyperliquid preset: the vault takes 124
/// accounts in round 1, many with negative equity.
#[test]
fn value_is_conserved_through_the_backstop_vault() {
    let base = bundled::find("default").unwrap().scenario().unwrap();
    let s = presets::find("hyperliquid").unwrap().apply(&base);
    let mut buffers = Buffers::new(&s);
    let mut e = engine(&s, &mut buffers).unwrap();
    let assets = e.asset_count();
    let mut log = Log::default();
    let (mut taken, mut negative, mut equity_sum, mut negative_sum) =
        (0u32, 0u32, Value::ZERO, Value::ZERO);
    let (mut assets_sum, mut liabilities_sum) = (Value::ZERO, Value::ZERO);
    loop {
        let watched = e.next_liquidation();
        let before: Option<Vec<Qty>> = watched.map(|id| {
            (0..assets)
                .map(|a| e.balance(id as usize, a).unwrap())
                .collect()
        });
        let books = |e: &firesale_core::Engine<'_>, book| -> Vec<Qty> {
            (0..assets).map(|a| e.ledger().balance(a, book)).collect()
        };
        let (vault_before, accounts_before) =
            (books(&e, Book::Backstop), books(&e, Book::Accounts));
        let oracle: Vec<_> = (0..assets).map(|a| e.oracle_price(a).unwrap()).collect();
        let slack: Vec<Qty> = (0..assets).map(|a| e.ledger().slack(a)).collect();
        let seen = log.0.len();
        let outcome = e.step(1, &mut log);
        for ev in &log.0[seen..] {
            let Event::BackstopTakeover {
                account, equity, ..
            } = *ev
            else {
                continue;
            };
            assert_eq!(
                Some(account),
                watched,
                "a unit takes the account it liquidates"
            );
            let before = before.as_ref().unwrap();
            let (vault_after, accounts_after) =
                (books(&e, Book::Backstop), books(&e, Book::Accounts));
            let mut gained = Value::ZERO;
            for a in 0..assets {
                // The account is left at zero, and every unit it held or owed
                // moved from the accounts' book to the vault's.
                assert_eq!(e.balance(account as usize, a), Some(Qty::ZERO));
                // The rounding bound: a deposit's effective amount is rounded
                // down from its shares, and what is under an ulp stays behind
                // as slack, at most one ulp per asset and takeover.
                let rounded = e.ledger().slack(a).sub(slack[a]).unwrap();
                assert!(
                    rounded <= Qty(firesale_core::num::ULP),
                    "asset {a}: {rounded}"
                );
                let into_vault = vault_after[a].sub(vault_before[a]).unwrap();
                let out_of_accounts = accounts_before[a].sub(accounts_after[a]).unwrap();
                assert_eq!(into_vault, before[a], "account {account}, asset {a}");
                assert_eq!(out_of_accounts, before[a], "account {account}, asset {a}");
                let v = valued(into_vault, oracle[a]);
                gained = gained.add(v).unwrap();
                if v.is_negative() {
                    liabilities_sum = liabilities_sum.sub(v).unwrap();
                } else {
                    assets_sum = assets_sum.add(v).unwrap();
                }
            }
            // What the account lost (its equity at the oracle) is what the
            // vault gained, valued at the same oracle: exactly.
            assert_eq!(gained, equity, "account {account}");
            taken += 1;
            equity_sum = equity_sum.add(equity).unwrap();
            if equity.is_negative() {
                negative += 1;
                negative_sum = negative_sum.add(equity).unwrap();
            }
        }
        if let StepOutcome::Done(_) = outcome {
            break;
        }
    }
    e.audit().unwrap();
    let r = *e.report();
    assert!(
        taken > 0 && negative > 0,
        "{taken} taken, {negative} negative"
    );
    assert_eq!(r.backstopped, taken);
    assert_eq!(r.backstop_equity, equity_sum);
    assert_eq!(r.backstop_negative_equity, negative_sum);
    assert!(r.backstop_negative_equity.is_negative());
    assert_eq!(r.backstop_assets, assets_sum);
    assert_eq!(r.backstop_liabilities, liabilities_sum);
    assert_eq!(
        r.backstop_assets.sub(r.backstop_liabilities).unwrap(),
        r.backstop_equity
    );
    // The P&L: the vault's books at the final oracle, less what it took on.
    let holdings = (0..assets).fold(Value::ZERO, |sum, a| {
        let held = e.ledger().balance(a, Book::Backstop);
        sum.add(valued(held, e.oracle_price(a).unwrap())).unwrap()
    });
    assert_eq!(r.backstop_pnl, holdings.sub(r.backstop_equity).unwrap());
}

//! Accounts from a CSV of positions: `account,asset,balance` per line.
//!
//! `account` is any unsigned label; accounts enter the market in ascending
//! label order, so a file's row order does not matter. `balance` is a
//! decimal read exactly (no float on the way). Blank lines and lines
//! starting with `#` are skipped; the first other line is the header.

use crate::scenario_file::{read_text, FileError};
use firesale_core::num::parse_decimal;
use firesale_core::Qty;
use std::collections::BTreeMap;
use std::path::Path;

const HEADER: [&str; 3] = ["account", "asset", "balance"];

/// Reads the CSV at `path` (relative to `base`, the scenario file's
/// folder) into balance rows of `width` assets.
pub fn load(
    path: &str,
    base: Option<&Path>,
    width: usize,
    index_of: &dyn Fn(&str, &str) -> Result<usize, FileError>,
) -> Result<Vec<Qty>, String> {
    let full = match base {
        Some(dir) => dir.join(path),
        None => Path::new(path).to_path_buf(),
    };
    let text = read_text(&full)?;
    parse(&text, width, index_of).map_err(|e| format!("{}: {e}", full.display()))
}

/// Parses CSV text into balance rows; the error names the line and column.
pub fn parse(
    text: &str,
    width: usize,
    index_of: &dyn Fn(&str, &str) -> Result<usize, FileError>,
) -> Result<Vec<Qty>, String> {
    let mut accounts: BTreeMap<u64, Vec<Qty>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut header_seen = false;
    for (number, line) in text.lines().enumerate() {
        let line_no = number + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split(',').map(str::trim).collect();
        if !header_seen {
            if fields != HEADER {
                return Err(format!(
                    "line {line_no}: the header must be `account,asset,balance`"
                ));
            }
            header_seen = true;
            continue;
        }
        let [account, asset, balance] = fields[..] else {
            return Err(format!(
                "line {line_no}: expected 3 fields (account,asset,balance), found {}",
                fields.len()
            ));
        };
        let column = |field: usize| {
            let offset: usize = fields.iter().take(field).map(|f| f.len() + 1).sum();
            offset + 1
        };
        let label: u64 = account.parse().map_err(|_| {
            format!("line {line_no}, column 1: account `{account}` is not an unsigned integer")
        })?;
        let asset_index = index_of("asset", asset)
            .map_err(|e| format!("line {line_no}, column {}: {}", column(1), e.message))?;
        let value = parse_decimal(balance).ok_or_else(|| {
            format!(
                "line {line_no}, column {}: balance `{balance}` is not a decimal number in range",
                column(2)
            )
        })?;
        if !seen.insert((label, asset_index)) {
            return Err(format!(
                "line {line_no}: account {label} lists `{asset}` twice"
            ));
        }
        let row = accounts
            .entry(label)
            .or_insert_with(|| vec![Qty::ZERO; width]);
        if let Some(slot) = row.get_mut(asset_index) {
            *slot = Qty(value);
        }
    }
    if accounts.is_empty() {
        return Err("no positions (a header line, then account,asset,balance rows)".into());
    }
    Ok(accounts.into_values().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(_: &str, name: &str) -> Result<usize, FileError> {
        ["USDC", "ETH"]
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| FileError {
                key: None,
                at: None,
                message: format!("unknown asset `{name}`"),
            })
    }

    #[test]
    fn rows_group_by_account_in_label_order() {
        let text = "# positions\naccount,asset,balance\n7,ETH,2.5\n3,USDC,-100\n7,USDC,-1000\n";
        let rows = parse(text, 2, &index_of).unwrap();
        assert_eq!(
            rows,
            vec![
                Qty::from_int(-100),
                Qty::ZERO,
                Qty::from_int(-1000),
                Qty::parse("2.5").unwrap()
            ]
        );
    }

    #[test]
    fn bad_rows_name_their_line_and_column() {
        let bad = |body: &str| {
            parse(&format!("account,asset,balance\n{body}"), 2, &index_of).unwrap_err()
        };
        assert_eq!(bad("1,SOL,3"), "line 2, column 3: unknown asset `SOL`");
        assert_eq!(
            bad("1,ETH,lots"),
            "line 2, column 7: balance `lots` is not a decimal number in range"
        );
        assert!(bad("x,ETH,1").starts_with("line 2, column 1:"));
        assert!(bad("1,ETH").contains("expected 3 fields"));
        assert!(bad("1,ETH,1\n1,ETH,2").contains("line 3: account 1 lists `ETH` twice"));
        assert!(parse("acct,asset,balance\n", 2, &index_of)
            .unwrap_err()
            .contains("header"));
        assert!(parse("account,asset,balance\n", 2, &index_of)
            .unwrap_err()
            .contains("no positions"));
    }
}

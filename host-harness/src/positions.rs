//! Accounts from a CSV of positions: `account,asset,balance` per line.
//!
//! `account` is any unsigned label; accounts enter the market in ascending
//! label order, so a file's row order does not matter. `balance` is a
//! decimal read exactly (no float on the way). Blank lines and lines
//! starting with `#` are skipped; the first other line is the header. A
//! UTF-8 byte-order mark is allowed, as in a scenario file.
//!
//! The file is read by the `csv` crate, streaming, twice: once to count its
//! rows, then into one compact row each (32 bytes), so that what a file will
//! take is known before anything is allocated for it, and is a small
//! multiple of its size.

use crate::bounds::{show_bytes, Bounds};
use crate::input::{open_input, FileError, MAX_FILE_BYTES};
use firesale_core::num::{parse_decimal, Fx};
use firesale_core::Qty;
use std::io::{BufReader, Read};
use std::path::Path;

const HEADER: [&str; 3] = ["account", "asset", "balance"];

/// One balance of one account, as read.
#[derive(Clone, Copy, Debug)]
struct Row {
    label: u64,
    value: Fx,
    line: u32,
    asset: u8,
}

/// The positions of a CSV, sorted by account and asset, each balance once.
#[derive(Debug)]
pub struct Book {
    rows: Vec<Row>,
    accounts: u64,
}

impl Book {
    /// Distinct accounts.
    pub fn accounts(&self) -> u64 {
        self.accounts
    }

    /// Bytes the book holds until [`Book::fill`], and the labels it leaves.
    pub fn bytes(&self) -> u64 {
        let row = std::mem::size_of::<Row>() as u64;
        (self.rows.capacity() as u64)
            .saturating_mul(row)
            .saturating_add(self.accounts.saturating_mul(8))
    }

    /// Appends the accounts' balances, `width` per account in label order,
    /// to `out`, and gives the labels in that order.
    pub fn fill(self, width: usize, out: &mut Vec<Qty>) -> Vec<u64> {
        let mut labels = Vec::with_capacity(usize::try_from(self.accounts).unwrap_or(0));
        for row in &self.rows {
            if labels.last() != Some(&row.label) {
                labels.push(row.label);
                out.resize(out.len() + width, Qty::ZERO);
            }
            let start = out.len() - width;
            if let Some(slot) = out.get_mut(start + usize::from(row.asset)) {
                *slot = Qty(row.value);
            }
        }
        labels
    }
}

/// Reads the CSV at `path` (relative to `base`, the scenario file's
/// folder); the error names the file, the line and the column.
pub fn read(
    path: &str,
    base: Option<&Path>,
    index_of: &dyn Fn(&str, &str) -> Result<usize, FileError>,
    bounds: &Bounds,
) -> Result<Book, String> {
    let full = match base {
        Some(dir) => dir.join(path),
        None => Path::new(path).to_path_buf(),
    };
    let shown = full.display();
    let open = || open_input(&full, MAX_FILE_BYTES as u64).map(|(file, _)| file);
    let rows = count_rows(open()?).map_err(|e| format!("{shown}: {e}"))?;
    let needed = rows.saturating_mul(std::mem::size_of::<Row>() as u64);
    if needed > bounds.memory {
        return Err(format!(
            "{shown}: {rows} rows take {}, more than {}",
            show_bytes(needed),
            bounds.budget_text()
        ));
    }
    parse_rows(open()?, rows, index_of).map_err(|e| format!("{shown}: {e}"))
}

/// Reads positions given as CSV text (`account,asset,balance`, as in a
/// file), within the same memory bound as [`read`]; the error names the
/// line and the column.
pub fn read_text(
    text: &str,
    index_of: &dyn Fn(&str, &str) -> Result<usize, FileError>,
    bounds: &Bounds,
) -> Result<Book, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the positions are larger than {MAX_FILE_BYTES} bytes"
        ));
    }
    let rows = count_rows(text.as_bytes()).map_err(|e| format!("the positions: {e}"))?;
    let needed = rows.saturating_mul(std::mem::size_of::<Row>() as u64);
    if needed > bounds.memory {
        return Err(format!(
            "the positions: {rows} rows take {}, more than {}",
            show_bytes(needed),
            bounds.budget_text()
        ));
    }
    parse_rows(text.as_bytes(), rows, index_of).map_err(|e| format!("the positions: {e}"))
}

/// Parses CSV text into balance rows of `width` assets; the error names
/// the line and column.
pub fn parse(
    text: &str,
    width: usize,
    index_of: &dyn Fn(&str, &str) -> Result<usize, FileError>,
) -> Result<Vec<Qty>, String> {
    let rows = count_rows(text.as_bytes())?;
    let book = parse_rows(text.as_bytes(), rows, index_of)?;
    let mut out = Vec::new();
    book.fill(width, &mut out);
    Ok(out)
}

fn reader<R: Read>(input: R) -> csv::Reader<BufReader<std::io::Take<R>>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(BufReader::new(input.take(MAX_FILE_BYTES as u64 + 1)))
}

/// Whether a record is only blanks (a line of spaces).
fn blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|f| f.trim_ascii().is_empty())
}

/// Rows after the header, counted without keeping any.
fn count_rows<R: Read>(input: R) -> Result<u64, String> {
    let mut csv = reader(input);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while csv.read_byte_record(&mut record).map_err(|e| error(&e))? {
        if !blank(&record) {
            rows += 1;
        }
    }
    if csv.position().byte() > MAX_FILE_BYTES as u64 {
        return Err(format!("the file is larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(rows.saturating_sub(1))
}

/// A CSV reading error: where, and what.
fn error(e: &csv::Error) -> String {
    let line = e.position().map(csv::Position::line);
    let what = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
        csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
        _ => e.to_string(),
    };
    match line {
        Some(line) => format!("line {line}: {what}"),
        None => what,
    }
}

fn parse_rows<R: Read>(
    input: R,
    expected: u64,
    index_of: &dyn Fn(&str, &str) -> Result<usize, FileError>,
) -> Result<Book, String> {
    let mut csv = reader(input);
    let mut record = csv::StringRecord::new();
    let mut rows: Vec<Row> = Vec::new();
    rows.try_reserve_exact(usize::try_from(expected).unwrap_or(usize::MAX))
        .map_err(|_| format!("cannot allocate room for {expected} rows"))?;
    let mut header_seen = false;
    // The name each asset index was given by, for messages.
    let mut names: Vec<String> = Vec::new();
    while csv.read_record(&mut record).map_err(|e| error(&e))? {
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let line_no = record.position().map_or(0, csv::Position::line);
        let fields: Vec<&str> = record.iter().map(str::trim).collect();
        if !header_seen {
            if fields != HEADER {
                return Err(format!(
                    "line {line_no}, column 1: the header must be `account,asset,balance`"
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
        // The column where field `i` starts: the fields before it and their
        // commas, then its leading blanks (exact for unquoted fields).
        let column = |i: usize| {
            let before: usize = record.iter().take(i).map(|f| f.chars().count() + 1).sum();
            let own = record.get(i).unwrap_or("");
            before + own.chars().count() - own.trim_start().chars().count() + 1
        };
        let label: u64 = account.parse().map_err(|_| {
            format!(
                "line {line_no}, column {}: account `{account}` is not an unsigned integer",
                column(0)
            )
        })?;
        let asset_index = index_of("asset", asset)
            .map_err(|e| format!("line {line_no}, column {}: {}", column(1), e.message))?;
        let value = parse_decimal(balance).ok_or_else(|| {
            format!(
                "line {line_no}, column {}: balance `{balance}` is not a decimal number in range",
                column(2)
            )
        })?;
        if names.len() <= asset_index {
            names.resize(asset_index + 1, String::new());
        }
        if let Some(name) = names.get_mut(asset_index).filter(|n| n.is_empty()) {
            *name = asset.to_string();
        }
        if rows.len() as u64 >= expected {
            return Err(format!("line {line_no}: the file grew while it was read"));
        }
        rows.push(Row {
            label,
            value,
            line: u32::try_from(line_no).unwrap_or(u32::MAX),
            asset: u8::try_from(asset_index).unwrap_or(u8::MAX),
        });
    }
    if rows.is_empty() {
        return Err("no positions (a header line, then account,asset,balance rows)".into());
    }
    rows.sort_unstable_by_key(|r| (r.label, r.asset, r.line));
    // The first repeated balance, in the file's order.
    let repeat = rows
        .windows(2)
        .filter(|w| w[0].label == w[1].label && w[0].asset == w[1].asset)
        .map(|w| w[1])
        .min_by_key(|r| r.line);
    if let Some(r) = repeat {
        let name = names.get(usize::from(r.asset)).map_or("?", String::as_str);
        return Err(format!(
            "line {}: account {} lists `{name}` twice",
            r.line, r.label
        ));
    }
    let accounts = 1 + rows.windows(2).filter(|w| w[0].label != w[1].label).count() as u64;
    Ok(Book { rows, accounts })
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
        let with_mark = format!("\u{feff}{text}");
        assert_eq!(parse(&with_mark, 2, &index_of).unwrap(), rows, "a BOM");
        let spaced =
            "account, asset, balance\n\n   \n7 , ETH ,\"2.5\"\n3,USDC,-100\n7,USDC,-1000\n";
        assert_eq!(parse(spaced, 2, &index_of).unwrap(), rows, "blanks");
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
        assert_eq!(
            bad("1, ETH,lots"),
            "line 2, column 8: balance `lots` is not a decimal number in range"
        );
        assert!(bad("x,ETH,1").starts_with("line 2, column 1:"));
        assert!(bad("1,ETH").contains("expected 3 fields"));
        assert!(bad("1,ETH,1\n2,ETH,1\n1,ETH,2").contains("line 4: account 1 lists `ETH` twice"));
        assert!(parse("acct,asset,balance\n", 2, &index_of)
            .unwrap_err()
            .contains("header"));
        assert!(parse("account,asset,balance\n", 2, &index_of)
            .unwrap_err()
            .contains("no positions"));
    }
}

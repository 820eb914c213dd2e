//! Accounts from a CSV of positions: one balance of one account a line.
//!
//! The header names the columns, in any order: `account`, `asset`, and
//! either `balance` (a decimal in whole units) or `base_units` with
//! `decimals` (an integer amount in the asset's smallest unit and its
//! decimals, as on-chain exports give them: `1500000` with `6` is 1.5);
//! other columns are ignored. `account` is any unsigned label; accounts
//! enter the market in ascending label order, so a file's row order does
//! not matter. Amounts are read exactly (no float on the way). Blank lines
//! and lines starting with `#` are skipped; the first other line is the
//! header. A UTF-8 byte-order mark is allowed, as in a scenario file.
//!
//! A file is scanned once for its lines and, were it sorted by account, its
//! accounts (a byte scan, no parsing), so that what it will take is known
//! before anything is allocated. Then the `csv` crate reads it, streaming.
//! A file sorted by account (as exports list them, each account's rows
//! together) is read straight into the accounts' balances: nothing else is
//! kept, and the peak is the balances and the labels. A file that is not is
//! read again into one compact row a balance (32 bytes), which are sorted
//! first.

use crate::bounds::{show_bytes, Bounds};
use crate::input::{open_input, FileError, MAX_FILE_BYTES};
use firesale_core::num::{parse_decimal, Fx};
use firesale_core::Qty;
use std::io::{BufReader, Read};
use std::path::Path;

/// Where a file's columns are, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Columns {
    account: usize,
    asset: usize,
    /// The amount: `balance` in units, or `base_units` with `decimals`.
    amount: Amount,
    /// Fields a row has.
    width: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Amount {
    Units(usize),
    BaseUnits { amount: usize, decimals: usize },
}

/// The most decimals a `decimals` field may give (an 18-decimal token's,
/// and room).
const MAX_DECIMALS: usize = 36;

impl Columns {
    /// The columns a header `r` names, or what is wrong with it.
    fn of(r: &csv::ByteRecord) -> Result<Columns, String> {
        let find = |name: &str| -> Result<Option<usize>, String> {
            let mut at = r
                .iter()
                .enumerate()
                .filter(|(_, f)| f.trim_ascii() == name.as_bytes());
            match (at.next(), at.next()) {
                (first, None) => Ok(first.map(|(i, _)| i)),
                (Some(_), Some((i, _))) => Err(format!(
                    "column {}: the header names `{name}` twice",
                    column(r, i)
                )),
                (None, Some(_)) => Ok(None),
            }
        };
        let missing = "the header must name `account`, `asset`, and `balance` or \
                       `base_units` with `decimals` (in any order)";
        let (Some(account), Some(asset)) = (find("account")?, find("asset")?) else {
            return Err(format!("column 1: {missing}"));
        };
        let amount = match (find("balance")?, find("base_units")?, find("decimals")?) {
            (Some(b), None, _) => Amount::Units(b),
            (None, Some(amount), Some(decimals)) => Amount::BaseUnits { amount, decimals },
            (Some(_), Some(_), _) => {
                return Err("column 1: the header names both `balance` and `base_units`".into())
            }
            _ => return Err(format!("column 1: {missing}")),
        };
        Ok(Columns {
            account,
            asset,
            amount,
            width: r.len(),
        })
    }
}

/// `digits` base units of an asset with `decimals` decimals as a decimal
/// in whole units (`-1500000`, 6: `-1.500000`), for the exact reader.
fn units_text(digits: &str, decimals: usize) -> Option<String> {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits.strip_prefix('+').unwrap_or(digits)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    Some(format!("{sign}{whole}.{fraction}0"))
}

/// Maps an asset's name to its index (the scenario's, with its message);
/// shared by the threads that read a file's two halves.
type IndexOf<'a> = &'a (dyn Fn(&str, &str) -> Result<usize, FileError> + Sync);

/// One balance of one account, as read (the unsorted path).
#[derive(Clone, Copy, Debug)]
struct Row {
    label: u64,
    value: Fx,
    line: u32,
    asset: u8,
}

/// The accounts of a positions CSV: `width` balances each, in ascending
/// label order, and their labels.
#[derive(Debug)]
pub struct Book {
    balances: Vec<Qty>,
    labels: Vec<u64>,
}

impl Book {
    /// Distinct accounts.
    pub fn accounts(&self) -> u64 {
        self.labels.len() as u64
    }

    /// Bytes the book holds until [`Book::fill`].
    pub fn bytes(&self) -> u64 {
        let balance = std::mem::size_of::<Qty>() as u64;
        (self.balances.capacity() as u64)
            .saturating_mul(balance)
            .saturating_add((self.labels.capacity() as u64).saturating_mul(8))
    }

    /// Room for `accounts` accounts of `width` balances, allocated now.
    fn with_room(accounts: usize, width: usize) -> Result<Self, String> {
        let mut book = Book {
            balances: Vec::new(),
            labels: Vec::new(),
        };
        book.balances
            .try_reserve_exact(accounts.saturating_mul(width))
            .and_then(|()| book.labels.try_reserve_exact(accounts))
            .map_err(|_| format!("cannot allocate room for {accounts} accounts"))?;
        Ok(book)
    }

    /// Sets account `label`'s balance of `asset`, opening a row of `width`
    /// zeros when `label` is not the last account's; gives the account's
    /// ordinal.
    fn put(&mut self, label: u64, asset: usize, value: Fx, width: usize) -> usize {
        if self.labels.last() != Some(&label) {
            self.labels.push(label);
            self.balances.resize(self.balances.len() + width, Qty::ZERO);
        }
        let account = self.labels.len() - 1;
        if let Some(slot) = self.balances.get_mut(account * width + asset) {
            *slot = Qty(value);
        }
        account
    }

    /// Room for `accounts` accounts of `width` zero balances, and their
    /// labels, for sorted readers to write in place ([`Writer`]).
    fn zeroed(accounts: usize, width: usize) -> Result<Self, String> {
        let mut book = Book::with_room(accounts, width)?;
        book.balances
            .resize(accounts.saturating_mul(width), Qty::ZERO);
        book.labels.resize(accounts, 0);
        Ok(book)
    }

    /// Keeps the first `accounts` accounts.
    fn truncate(&mut self, accounts: usize, width: usize) {
        self.labels.truncate(accounts);
        self.balances.truncate(accounts.saturating_mul(width));
    }

    /// Appends the accounts' balances to `out` (taking them over when `out`
    /// is empty: no copy), and gives their labels in that order.
    pub fn fill(self, out: &mut Vec<Qty>) -> Vec<u64> {
        if out.is_empty() {
            *out = self.balances;
        } else {
            out.extend_from_slice(&self.balances);
        }
        self.labels
    }
}

/// What the first scan of a file found: an upper bound on its rows after
/// the header, and on its accounts if it is sorted by account; and where
/// two threads may split it.
#[derive(Clone, Debug, Default)]
struct Scanned {
    rows: u64,
    accounts: u64,
    split: Option<Split>,
}

/// Where a file sorted by account may be cut in two for two threads: the
/// first line at or past the middle byte that starts a new account (its
/// first field differs from the line above), in a file without quotes (a
/// quoted field may hold a line break the scan does not see) nor a lone
/// carriage return (which ends a record where the scan sees none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Split {
    /// The line's first byte.
    offset: u64,
    /// Its number (the file's first line is 1).
    line: u64,
    /// Lines with a first field different from the line above, before it
    /// (the header's first included): a bound on the accounts before it.
    changes: u64,
}

/// Files smaller than this are read by one thread.
const SPLIT_BYTES: u64 = 1 << 20;

/// Where [`scan`] looks for a split of a file of `bytes` bytes: its middle,
/// if it is large enough to be worth two threads and there are two.
fn middle(bytes: u64) -> u64 {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    match bytes >= SPLIT_BYTES && threads > 1 {
        true => bytes / 2,
        false => u64::MAX,
    }
}

/// Reads the CSV at `path` (relative to `base`, the scenario file's
/// folder) into accounts of `width` assets; the error names the file, the
/// line and the column.
pub fn read(
    path: &str,
    base: Option<&Path>,
    width: usize,
    index_of: IndexOf<'_>,
    bounds: &Bounds,
) -> Result<Book, String> {
    let full = match base {
        Some(dir) => dir.join(path),
        None => Path::new(path).to_path_buf(),
    };
    let shown = full.display();
    let open = || open_input(&full, MAX_FILE_BYTES as u64).map(|(file, _)| file);
    let (_, size) = open_input(&full, MAX_FILE_BYTES as u64)?;
    let scanned = scan(open()?, middle(size)).map_err(|e| format!("{shown}: {e}"))?;
    within(&scanned, bounds).map_err(|e| format!("{shown}: {e}"))?;
    let direct = match &scanned.split {
        Some(split) => {
            let from = |offset: u64| -> Result<std::io::Take<std::fs::File>, String> {
                use std::io::{Seek, SeekFrom};
                let mut file = open()?;
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| format!("cannot read: {e}"))?;
                Ok(file.take(u64::MAX))
            };
            let first = open()?.take(split.offset);
            let second = from(split.offset)?;
            match read_sorted_halves((first, second), (&scanned, split), width, index_of) {
                Ok(Halves::Read(book)) => Ok(Some(book)),
                Ok(Halves::Unsorted) => Ok(None),
                Ok(Halves::Whole) => read_sorted(open()?, &scanned, width, index_of),
                Err(e) => Err(e),
            }
        }
        None => read_sorted(open()?, &scanned, width, index_of),
    }
    .map_err(|e| format!("{shown}: {e}"))?;
    match direct {
        Some(book) => Ok(book),
        None => read_any(open()?, &scanned, width, index_of).map_err(|e| format!("{shown}: {e}")),
    }
}

/// Reads positions given as CSV text (`account,asset,balance`, as in a
/// file), within the same memory bound as [`read`]; the error names the
/// line and the column.
pub fn read_text(
    text: &str,
    width: usize,
    index_of: IndexOf<'_>,
    bounds: &Bounds,
) -> Result<Book, String> {
    let inner = || -> Result<Book, String> {
        let bytes = text.as_bytes();
        let scanned = scan(bytes, middle(bytes.len() as u64))?;
        within(&scanned, bounds)?;
        match read_sorted_text(bytes, &scanned, width, index_of)? {
            Some(book) => Ok(book),
            None => read_any(bytes, &scanned, width, index_of),
        }
    };
    inner().map_err(|e| format!("the positions: {e}"))
}

/// Parses CSV text into balance rows of `width` assets; the error names
/// the line and column.
pub fn parse(text: &str, width: usize, index_of: IndexOf<'_>) -> Result<Vec<Qty>, String> {
    parse_from(text, width, index_of, middle(text.len() as u64))
}

/// [`parse`], split (if at all) past byte `middle`.
fn parse_from(
    text: &str,
    width: usize,
    index_of: IndexOf<'_>,
    middle: u64,
) -> Result<Vec<Qty>, String> {
    let bytes = text.as_bytes();
    let scanned = scan(bytes, middle)?;
    let book = match read_sorted_text(bytes, &scanned, width, index_of)? {
        Some(book) => book,
        None => read_any(bytes, &scanned, width, index_of)?,
    };
    let mut out = Vec::new();
    book.fill(&mut out);
    Ok(out)
}

/// Refuses a file whose rows, kept for sorting, would take more than
/// `bounds` allow (a sorted file takes less: its balances only).
fn within(scanned: &Scanned, bounds: &Bounds) -> Result<(), String> {
    let needed = scanned
        .rows
        .saturating_mul(std::mem::size_of::<Row>() as u64);
    if needed > bounds.memory {
        return Err(format!(
            "{} rows take {}, more than {}",
            scanned.rows,
            show_bytes(needed),
            bounds.budget_text()
        ));
    }
    Ok(())
}

/// One scan of the bytes, without parsing: lines that are neither blank
/// nor comments (less the header) bound the rows, and the changes of a
/// line's first field from the line before bound the accounts of a file
/// sorted by account (a quoted field over several lines only adds to both).
/// Lines are taken in place from 64 KB reads; only a line cut by a read's
/// end is copied. Past byte `middle`, the first line that starts an
/// account is where two threads may split the file ([`Split`]);
/// [`middle`] says where that is, if anywhere.
fn scan<R: Read>(input: R, middle: u64) -> Result<Scanned, String> {
    let mut input = input.take(MAX_FILE_BYTES as u64 + 1);
    let mut buf = vec![0u8; 1 << 16];
    let mut cut: Vec<u8> = Vec::new();
    let mut lines = Lines {
        middle,
        ..Lines::default()
    };
    let mut bytes = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read: {e}")),
        };
        bytes = bytes.saturating_add(n as u64);
        let mut rest = buf.get(..n).unwrap_or(&[]);
        // A quote, or a carriage return not before a line feed (one cut
        // by the read's end counts: only a split is lost), anywhere.
        let lone_return = |(i, _): (usize, &u8)| rest.get(i + 1) != Some(&b'\n');
        lines.quoted |= rest.contains(&b'"')
            || (rest.contains(&b'\r')
                && rest
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\r')
                    .any(lone_return));
        while let Some(at) = newline(rest) {
            let (line, after) = rest.split_at(at);
            if cut.is_empty() {
                lines.take(line);
            } else {
                cut.extend_from_slice(line);
                lines.take(&cut);
                cut.clear();
            }
            rest = after.get(1..).unwrap_or(&[]);
        }
        cut.extend_from_slice(rest);
    }
    lines.take(&cut);
    if bytes > MAX_FILE_BYTES as u64 {
        return Err(format!("the file is larger than {MAX_FILE_BYTES} bytes"));
    }
    let split = lines.split.filter(|_| !lines.quoted);
    Ok(Scanned {
        rows: lines.lines.saturating_sub(1),
        accounts: lines.changes.saturating_sub(1),
        split,
    })
}

/// The first `\n` in `bytes`, eight bytes at a time: a byte of `x ^
/// 0x0A..0A` is zero where `x` has a newline, and `(y − 0x01..01) & !y &
/// 0x80..80` marks the lowest zero byte of `y` exactly (a mark above it may
/// be false, never one below).
fn newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let y = u64::from_le_bytes(eight) ^ (ONES * u64::from(b'\n'));
        let marks = y.wrapping_sub(ONES) & !y & HIGHS;
        if marks != 0 {
            return Some(at + (marks.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| at + i)
}

/// What [`scan`] counts, line by line.
#[derive(Default)]
struct Lines {
    lines: u64,
    changes: u64,
    previous: Vec<u8>,
    /// Physical lines so far, and the next one's first byte.
    physical: u64,
    offset: u64,
    /// Where a split may fall, and the first such line past it.
    middle: u64,
    split: Option<Split>,
    /// Whether a `"` or a `\r` not ending a line was seen (no split then).
    quoted: bool,
}

impl Lines {
    /// Takes one line (without its `\n`).
    fn take(&mut self, line: &[u8]) {
        let (start, number) = (self.offset, self.physical + 1);
        self.physical = number;
        self.offset = start + line.len() as u64 + 1;
        let content = line.trim_ascii();
        if content.is_empty() || content.first() == Some(&b'#') {
            return;
        }
        self.lines += 1;
        let first = match content.iter().position(|&b| b == b',') {
            Some(at) => content.get(..at).unwrap_or(content),
            None => content,
        }
        .trim_ascii();
        if self.lines == 1 || first != self.previous.as_slice() {
            if self.lines > 2 && self.split.is_none() && start >= self.middle {
                self.split = Some(Split {
                    offset: start,
                    line: number,
                    changes: self.changes,
                });
            }
            self.changes += 1;
            self.previous.clear();
            self.previous.extend_from_slice(first);
        }
    }
}

fn reader<R: Read>(input: R) -> csv::Reader<BufReader<std::io::Take<R>>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(BufReader::new(input.take(MAX_FILE_BYTES as u64 + 1)))
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

/// One parsed row: its account, asset, balance and line.
struct Parsed {
    label: u64,
    asset: usize,
    value: Fx,
    line: u64,
}

/// Reads the records of a CSV: the header checked, blank lines skipped,
/// each row parsed, the asset names resolved once each.
struct Records<'a, R: Read> {
    csv: csv::Reader<BufReader<std::io::Take<R>>>,
    record: csv::ByteRecord,
    index_of: IndexOf<'a>,
    /// The names met so far and their indices: a file names a few assets
    /// millions of times.
    known: Vec<(Vec<u8>, usize)>,
    /// The header's columns, once it is read.
    columns: Option<Columns>,
    /// Added to each record's line: a file's second half is read after its
    /// header, not where it lies.
    line_shift: u64,
}

impl<'a, R: Read> Records<'a, R> {
    fn new(input: R, index_of: IndexOf<'a>) -> Self {
        Records {
            csv: reader(input),
            record: csv::ByteRecord::new(),
            index_of,
            known: Vec::new(),
            columns: None,
            line_shift: 0,
        }
    }

    /// The name asset `index` was first given by, for messages.
    fn name_of(&self, index: usize) -> String {
        self.known.iter().find(|(_, i)| *i == index).map_or_else(
            || "?".into(),
            |(n, _)| String::from_utf8_lossy(n).into_owned(),
        )
    }

    /// Reads the next record that is not blank into `self.record`; its
    /// line in the file, or `None` at the end.
    fn next_record(&mut self) -> Result<Option<u64>, String> {
        loop {
            if !self
                .csv
                .read_byte_record(&mut self.record)
                .map_err(|e| error(&e))?
            {
                return Ok(None);
            }
            if !self.record.iter().all(|f| f.trim_ascii().is_empty()) {
                let line = self.record.position().map_or(0, csv::Position::line);
                return Ok(Some(line.saturating_add(self.line_shift)));
            }
        }
    }

    /// Reads up to the header and gives its line, or `None` if it was read
    /// already or the file ends first (the next call to [`Records::next`]
    /// then says so).
    fn read_header(&mut self) -> Result<Option<u64>, String> {
        if self.columns.is_some() {
            return Ok(None);
        }
        let Some(line) = self.next_record()? else {
            return Ok(None);
        };
        let columns = Columns::of(&self.record).map_err(|e| format!("line {line}, {e}"))?;
        self.columns = Some(columns);
        Ok(Some(line))
    }

    fn next(&mut self) -> Result<Option<Parsed>, String> {
        self.read_header()?;
        let Some(c) = self.columns else {
            return Ok(None);
        };
        let Some(line) = self.next_record()? else {
            return Ok(None);
        };
        let r = &self.record;
        let field = |i: usize| r.get(i).map(<[u8]>::trim_ascii);
        let (Some(account), Some(asset), true) =
            (field(c.account), field(c.asset), r.len() == c.width)
        else {
            return Err(format!(
                "line {line}: expected {} fields, as the header names, found {}",
                c.width,
                r.len()
            ));
        };
        let label = unsigned(account).ok_or_else(|| {
            format!(
                "line {line}, column {}: account `{}` is not an unsigned integer",
                column(r, c.account),
                String::from_utf8_lossy(account)
            )
        })?;
        let asset = match self.known.iter().find(|(n, _)| n.as_slice() == asset) {
            Some((_, i)) => *i,
            None => {
                let i = (self.index_of)("asset", utf8(asset, line)?)
                    .map_err(|e| format!("line {line}, column {}: {}", column(r, 1), e.message))?;
                self.known.push((asset.to_vec(), i));
                i
            }
        };
        let value = match c.amount {
            Amount::Units(at) => {
                let balance = utf8(field(at).unwrap_or_default(), line)?;
                parse_decimal(balance).ok_or_else(|| {
                    format!(
                        "line {line}, column {}: balance `{balance}` is not a decimal number in range",
                        column(r, at)
                    )
                })?
            }
            Amount::BaseUnits { amount, decimals } => {
                let places = field(decimals)
                    .and_then(unsigned)
                    .and_then(|d| usize::try_from(d).ok())
                    .filter(|&d| d <= MAX_DECIMALS)
                    .ok_or_else(|| {
                        format!(
                            "line {line}, column {}: decimals must be an integer from 0 to {MAX_DECIMALS}",
                            column(r, decimals)
                        )
                    })?;
                let digits = utf8(field(amount).unwrap_or_default(), line)?;
                units_text(digits, places)
                    .as_deref()
                    .and_then(parse_decimal)
                    .ok_or_else(|| {
                        format!(
                            "line {line}, column {}: base_units `{digits}` is not an integer in range",
                            column(r, amount)
                        )
                    })?
            }
        };
        Ok(Some(Parsed {
            label,
            asset,
            value,
            line,
        }))
    }

    /// The error for an empty file, or none.
    fn finished(&self, rows: u64) -> Result<(), String> {
        if rows == 0 {
            return Err("no positions (a header line, then account,asset,balance rows)".into());
        }
        Ok(())
    }
}

/// The column where field `i` of `r` starts: the fields before it and their
/// commas, then its leading blanks (exact for unquoted fields).
fn column(r: &csv::ByteRecord, i: usize) -> usize {
    let chars = |f: &[u8]| String::from_utf8_lossy(f).chars().count();
    let before: usize = r.iter().take(i).map(|f| chars(f) + 1).sum();
    let own = r.get(i).unwrap_or(b"");
    before + chars(own) - chars(own.trim_ascii_start()) + 1
}

/// An unsigned decimal integer from its ASCII digits (an optional `+`
/// first, as `str::parse` takes it), or `None` past `u64`.
fn unsigned(field: &[u8]) -> Option<u64> {
    let digits = field.strip_prefix(b"+").unwrap_or(field);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then_some(())?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// A field as text, or the line's error.
fn utf8(field: &[u8], line: u64) -> Result<&str, String> {
    std::str::from_utf8(field).map_err(|_| format!("line {line}: not UTF-8 text"))
}

fn repeated(line: u64, label: u64, name: &str) -> String {
    format!("line {line}: account {label} lists `{name}` twice")
}

/// Where a sorted reader writes accounts in place: rows of `width`
/// balances and their labels, from the start of its slices (the whole
/// book, or a half of it).
struct Writer<'a> {
    balances: &'a mut [Qty],
    labels: &'a mut [u64],
    accounts: usize,
}

impl<'a> Writer<'a> {
    fn new(balances: &'a mut [Qty], labels: &'a mut [u64]) -> Self {
        Writer {
            balances,
            labels,
            accounts: 0,
        }
    }

    /// The last account's label.
    fn last(&self) -> Option<u64> {
        let at = self.accounts.checked_sub(1)?;
        self.labels.get(at).copied()
    }

    /// Sets account `label`'s balance of `asset`, starting a new account
    /// when `label` is not the last one's; gives the account's ordinal.
    fn put(&mut self, label: u64, asset: usize, value: Fx, width: usize) -> Result<usize, String> {
        if self.last() != Some(label) {
            let slot = self.labels.get_mut(self.accounts);
            *slot.ok_or("more accounts than the file's scan counted")? = label;
            self.accounts += 1;
        }
        let account = self.accounts - 1;
        if let Some(slot) = self.balances.get_mut(account * width + asset) {
            *slot = Qty(value);
        }
        Ok(account)
    }
}

/// Reads a file sorted by account straight into its balances; `None` at
/// the first row whose account comes before the one above it (the file
/// is then read again by [`read_any`]).
fn read_sorted<R: Read>(
    input: R,
    scanned: &Scanned,
    width: usize,
    index_of: IndexOf<'_>,
) -> Result<Option<Book>, String> {
    let room = usize::try_from(scanned.accounts).unwrap_or(usize::MAX);
    let mut book = Book::zeroed(room, width)?;
    let mut records = Records::new(input, index_of);
    let mut writer = Writer::new(&mut book.balances, &mut book.labels);
    let Some(rows) = fill_sorted(&mut records, &mut writer, scanned.rows, width)? else {
        return Ok(None);
    };
    let accounts = writer.accounts;
    records.finished(rows)?;
    book.truncate(accounts, width);
    Ok(Some(book))
}

/// [`read_sorted`] over text: in two halves on two threads when the scan
/// found where to split it.
fn read_sorted_text(
    bytes: &[u8],
    scanned: &Scanned,
    width: usize,
    index_of: IndexOf<'_>,
) -> Result<Option<Book>, String> {
    let Some(split) = &scanned.split else {
        return read_sorted(bytes, scanned, width, index_of);
    };
    let at = usize::try_from(split.offset).unwrap_or(usize::MAX);
    let (first, second) = bytes.split_at(at.min(bytes.len()));
    match read_sorted_halves((first, second), (scanned, split), width, index_of)? {
        Halves::Read(book) => Ok(Some(book)),
        Halves::Unsorted => Ok(None),
        Halves::Whole => read_sorted(bytes, scanned, width, index_of),
    }
}

/// Rows from `records` into `book`, sorted by account; the rows read, or
/// `None` at a row whose account comes before the one above it.
fn fill_sorted<R: Read>(
    records: &mut Records<'_, R>,
    book: &mut Writer<'_>,
    most_rows: u64,
    width: usize,
) -> Result<Option<u64>, String> {
    // Per asset, the ordinal of the last account that gave it a balance.
    let mut seen = vec![usize::MAX; width];
    let mut rows = 0u64;
    while let Some(p) = records.next()? {
        rows += 1;
        if rows > most_rows {
            return Err(format!("line {}: the file grew while it was read", p.line));
        }
        if book.last().is_some_and(|last| p.label < last) {
            return Ok(None);
        }
        let account = book
            .put(p.label, p.asset, p.value, width)
            .map_err(|e| format!("line {}: {e}", p.line))?;
        match seen.get_mut(p.asset) {
            Some(s) if *s == account => {
                return Err(repeated(p.line, p.label, &records.name_of(p.asset)))
            }
            Some(s) => *s = account,
            None => return Err(format!("line {}: asset index out of range", p.line)),
        }
    }
    Ok(Some(rows))
}

/// How a read of a sorted file's two halves ended.
enum Halves {
    /// The book.
    Read(Book),
    /// The file is out of order: read it by [`read_any`].
    Unsorted,
    /// The halves' accounts meet at one label (a label written two ways,
    /// `7` and `07`): read the file whole by [`read_sorted`].
    Whole,
}

/// [`read_sorted`] over a file's two halves, the first on another thread,
/// each writing its accounts in place into its part of one book (the parts
/// the scan's counts bound, closed up after). The header is read first,
/// from the first half, and the second half's rows read under it. What it
/// returns is what reading the file whole would: the first half's error or
/// disorder first, then whether the second half's first account follows
/// the first half's last, then the second half's own error or disorder.
/// (A file that changes while it is read may end otherwise.)
fn read_sorted_halves<A: Read + Send, B: Read + Send>(
    (first, second): (A, B),
    (scanned, split): (&Scanned, &Split),
    width: usize,
    index_of: IndexOf<'_>,
) -> Result<Halves, String> {
    let room = |accounts: u64| usize::try_from(accounts).unwrap_or(usize::MAX);
    let total = room(scanned.accounts);
    let before = room(split.changes.saturating_sub(1)).min(total);
    let mut book = Book::zeroed(total, width)?;
    let (balances_one, balances_two) = book.balances.split_at_mut(before.saturating_mul(width));
    let (labels_one, labels_two) = book.labels.split_at_mut(before);
    let mut head = Records::new(first, index_of);
    // A header the whole read would refuse, or one the csv reader finds
    // past the split (where the scan saw none), is left to the whole read.
    let columns = match head.read_header() {
        Ok(Some(line)) if line < split.line => head.columns,
        _ => return Ok(Halves::Whole),
    };
    let (one, two) = std::thread::scope(|threads| {
        let one = threads.spawn(|| {
            let mut records = head;
            let half = read_half(
                &mut records,
                Writer::new(balances_one, labels_one),
                scanned,
                width,
            );
            (half, records)
        });
        let mut records = Records::new(second, index_of);
        records.columns = columns;
        // The second half's lines count from the split's.
        records.line_shift = split.line.saturating_sub(1);
        let two = read_half(
            &mut records,
            Writer::new(balances_two, labels_two),
            scanned,
            width,
        );
        (one.join(), two)
    });
    let Ok((one, records)) = one else {
        return Err("a reading thread failed".into());
    };
    let rows_one = match one.rows? {
        Some(rows) => rows,
        None => return Ok(Halves::Unsorted),
    };
    match (one.labels.1, two.labels.0) {
        (Some(last), Some(first)) if first < last => return Ok(Halves::Unsorted),
        (Some(last), Some(first)) if first == last => return Ok(Halves::Whole),
        _ => {}
    }
    let rows_two = match two.rows? {
        Some(rows) => rows,
        None => return Ok(Halves::Unsorted),
    };
    let rows = rows_one.saturating_add(rows_two);
    if rows > scanned.rows {
        return Err("the file grew while it was read".into());
    }
    records.finished(rows)?;
    // Close up the gap the first half's bound may have left.
    let (accounts_one, accounts_two) = (one.accounts, two.accounts);
    if accounts_one < before {
        let from = before.saturating_mul(width);
        let to = accounts_one.saturating_mul(width);
        let len = accounts_two.saturating_mul(width);
        book.balances.copy_within(from..from + len, to);
        book.labels
            .copy_within(before..before + accounts_two, accounts_one);
    }
    book.truncate(accounts_one + accounts_two, width);
    Ok(Halves::Read(book))
}

/// What a half of a file held: its rows (`None` if it is out of order) or
/// the first error in it, its accounts, and its first and last accounts'
/// labels (as far as it was read).
struct Half {
    rows: Result<Option<u64>, String>,
    accounts: usize,
    labels: (Option<u64>, Option<u64>),
}

/// Reads one half of a file into `writer` ([`fill_sorted`]).
fn read_half<R: Read>(
    records: &mut Records<'_, R>,
    mut writer: Writer<'_>,
    scanned: &Scanned,
    width: usize,
) -> Half {
    let rows = fill_sorted(records, &mut writer, scanned.rows, width);
    let first = writer
        .labels
        .first()
        .copied()
        .filter(|_| writer.accounts > 0);
    Half {
        rows,
        accounts: writer.accounts,
        labels: (first, writer.last()),
    }
}

/// Reads a file in any order: one compact row a balance, sorted by account
/// and asset, then the balances.
fn read_any<R: Read>(
    input: R,
    scanned: &Scanned,
    width: usize,
    index_of: IndexOf<'_>,
) -> Result<Book, String> {
    let expected = scanned.rows;
    let mut rows: Vec<Row> = Vec::new();
    rows.try_reserve_exact(usize::try_from(expected).unwrap_or(usize::MAX))
        .map_err(|_| format!("cannot allocate room for {expected} rows"))?;
    let mut records = Records::new(input, index_of);
    while let Some(p) = records.next()? {
        if rows.len() as u64 >= expected {
            return Err(format!("line {}: the file grew while it was read", p.line));
        }
        rows.push(Row {
            label: p.label,
            value: p.value,
            line: u32::try_from(p.line).unwrap_or(u32::MAX),
            asset: u8::try_from(p.asset).unwrap_or(u8::MAX),
        });
    }
    records.finished(rows.len() as u64)?;
    rows.sort_unstable_by_key(|r| (r.label, r.asset, r.line));
    // The first repeated balance, in the file's order.
    let repeat = rows
        .windows(2)
        .filter(|w| w[0].label == w[1].label && w[0].asset == w[1].asset)
        .map(|w| w[1])
        .min_by_key(|r| r.line);
    if let Some(r) = repeat {
        let name = records.name_of(usize::from(r.asset));
        return Err(repeated(u64::from(r.line), r.label, &name));
    }
    let accounts = 1 + rows.windows(2).filter(|w| w[0].label != w[1].label).count();
    let mut book = Book::with_room(accounts, width)?;
    for row in &rows {
        book.put(row.label, usize::from(row.asset), row.value, width);
    }
    Ok(book)
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

    #[test]
    fn columns_come_in_any_order_and_amounts_in_base_units() {
        let units = parse(
            "account,asset,balance\n7,ETH,2.5\n3,USDC,-100.25\n",
            2,
            &index_of,
        )
        .unwrap();
        // The same book as an export gives it: other columns, another
        // order, base units and their decimals (ETH 18, USDC 6).
        let export = "symbol_name,base_units,decimals,asset,account,usd\n\
                      Ether,2500000000000000000,18,ETH,7,5000\n\
                      USD Coin,-100250000,6,USDC,3,-100.25\n";
        assert_eq!(parse(export, 2, &index_of).unwrap(), units);
        assert_eq!(units_text("-5", 3).as_deref(), Some("-0.0050"));
        assert_eq!(units_text("+120", 0).as_deref(), Some("120.0"));
        assert_eq!(units_text("1e5", 2), None);
    }

    #[test]
    fn a_header_without_its_columns_or_with_one_twice_is_named() {
        let err = |text: &str| parse(text, 2, &index_of).unwrap_err();
        assert!(err("account,asset\n1,ETH\n").contains("must name `account`, `asset`"));
        assert!(err("account,asset,base_units\n1,ETH,5\n").contains("`decimals`"));
        assert_eq!(
            err("account,asset,balance,asset\n1,ETH,1,ETH\n"),
            "line 1, column 23: the header names `asset` twice"
        );
        assert!(err("account,asset,balance,base_units,decimals\n").contains("both"));
        let base = |row: &str| err(&format!("account,asset,base_units,decimals\n{row}\n"));
        assert_eq!(
            base("1,ETH,12,99"),
            "line 2, column 10: decimals must be an integer from 0 to 36"
        );
        assert_eq!(
            base("1,ETH,1.5,6"),
            "line 2, column 7: base_units `1.5` is not an integer in range"
        );
        assert!(base("1,ETH,5").contains("expected 4 fields, as the header names, found 3"));
    }

    #[test]
    fn a_sorted_file_reads_as_the_same_rows_in_any_order() {
        let sorted = "account,asset,balance\n1,ETH,1\n1,USDC,-10\n2,USDC,-3\n2,ETH,0.5\n9,ETH,2\n";
        let shuffled =
            "account,asset,balance\n9,ETH,2\n1,USDC,-10\n2,ETH,0.5\n1,ETH,1\n2,USDC,-3\n";
        let read = |text: &str| {
            let scanned = scan(text.as_bytes(), u64::MAX).unwrap();
            (
                read_sorted(text.as_bytes(), &scanned, 2, &index_of).unwrap(),
                parse(text, 2, &index_of).unwrap(),
            )
        };
        let (direct, rows) = read(sorted);
        let book = direct.expect("a sorted file is read straight into its balances");
        assert_eq!(book.labels, vec![1, 2, 9]);
        assert_eq!(book.balances, rows);
        let (direct, shuffled_rows) = read(shuffled);
        assert!(direct.is_none(), "an unsorted file is read again");
        assert_eq!(shuffled_rows, rows);
    }

    #[test]
    fn a_sorted_file_names_its_first_repeat() {
        let text = "account,asset,balance\n1,ETH,1\n1,USDC,-1\n2,ETH,2\n2,ETH,3\n3,ETH,1\n";
        assert_eq!(
            parse(text, 2, &index_of).unwrap_err(),
            "line 5: account 2 lists `ETH` twice"
        );
    }

    #[test]
    fn the_scan_bounds_rows_and_accounts() {
        let text = "# a comment\naccount,asset,balance\n\n1,ETH,1\n1,USDC,-1\n  \n2,ETH,2\n";
        let s = scan(text.as_bytes(), u64::MAX).unwrap();
        assert_eq!((s.rows, s.accounts), (3, 2));
        assert_eq!(s.split, None);
        // Past the middle, the first line of a new account.
        let s = scan(text.as_bytes(), 40).unwrap();
        let split = s.split.unwrap();
        assert_eq!((split.line, split.offset, split.changes), (7, 56, 2));
        assert_eq!(&text.as_bytes()[56..], b"2,ETH,2\n");
        let quoted = "account,asset,balance\n1,ETH,1\n2,\"ETH\",2\n3,ETH,1\n";
        assert_eq!(scan(quoted.as_bytes(), 10).unwrap().split, None, "a quote");
    }

    #[test]
    fn a_file_read_in_two_halves_is_the_file_read_whole() {
        let mut text = String::from("account,asset,balance\n");
        for account in 0..400 {
            text += &format!(
                "{account},ETH,{}.5\n{account},USDC,-{}\n",
                account % 7,
                account * 3
            );
        }
        let whole = parse_from(&text, 2, &index_of, u64::MAX).unwrap();
        let half = text.len() as u64 / 2;
        assert!(scan(text.as_bytes(), half).unwrap().split.is_some());
        assert_eq!(parse_from(&text, 2, &index_of, half).unwrap(), whole);
        // An error past the split names its line in the file.
        let bad = text.replace("351,ETH,1.5", "351,SOL,1.5");
        let line = bad.lines().position(|l| l.starts_with("351,SOL")).unwrap() + 1;
        assert_eq!(
            parse_from(&bad, 2, &index_of, half).unwrap_err(),
            format!("line {line}, column 5: unknown asset `SOL`")
        );
        assert_eq!(
            parse_from(&bad, 2, &index_of, u64::MAX).unwrap_err(),
            parse_from(&bad, 2, &index_of, half).unwrap_err()
        );
        // What the csv reader skips and the byte scan does not (a line of
        // empty fields, a comment after a byte-order mark) before the
        // header, and a lone carriage return: the same outcome.
        for variant in [
            format!(",,\n{text}"),
            format!("\u{feff}# a note\n{text}"),
            text.replacen("\n", "\r", 3),
            text.replacen("5,ETH", "5,ETH\r", 1),
        ] {
            let half = variant.len() as u64 / 2;
            assert_eq!(
                parse_from(&variant, 2, &index_of, half),
                parse_from(&variant, 2, &index_of, u64::MAX),
                "{:?}",
                &variant[..40]
            );
        }
        // One account written two ways across the split: read whole.
        let twice = "account,asset,balance\n7,ETH,1\n07,USDC,-1\n";
        let whole = parse_from(twice, 2, &index_of, u64::MAX).unwrap();
        assert_eq!(parse_from(twice, 2, &index_of, 30).unwrap(), whole);
        assert_eq!(whole.len(), 2, "one account");
    }

    #[test]
    fn a_large_file_is_read_in_two_halves_as_it_reads_whole() {
        let mut text = String::from("account,asset,balance\n");
        let mut account = 0u64;
        while (text.len() as u64) < SPLIT_BYTES + 1000 {
            text += &format!(
                "{account},ETH,{account}.25\n{account},USDC,-{}\n",
                account * 7
            );
            account += 1;
        }
        let dir = std::env::temp_dir().join(format!("firesale-halves-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("book.csv"), &text).unwrap();
        let bounds = Bounds::default();
        let mut read_back = Vec::new();
        let labels = read("book.csv", Some(&dir), 2, &index_of, &bounds)
            .unwrap()
            .fill(&mut read_back);
        std::fs::remove_dir_all(&dir).ok();
        assert!(scan(text.as_bytes(), text.len() as u64 / 2)
            .unwrap()
            .split
            .is_some());
        assert_eq!(
            read_back,
            parse_from(&text, 2, &index_of, u64::MAX).unwrap()
        );
        assert_eq!(labels, (0..account).collect::<Vec<_>>());
    }

    proptest::proptest! {
        /// Sorted, shuffled, repeated or broken, a file read in two halves
        /// gives what it gives read whole: the same rows, or the same error.
        #[test]
        fn a_split_read_agrees_with_a_whole_read(
            rows in proptest::collection::vec((0u64..60, 0usize..2, -1000i32..1000), 1..120),
            shuffle in proptest::prelude::any::<bool>(),
            broken in proptest::option::of(0usize..120),
            cut in 0.2f64..0.8,
        ) {
            let mut rows = rows;
            if !shuffle {
                rows.sort_by_key(|r| (r.0, r.1));
            }
            let mut text = String::from("account,asset,balance\n");
            for (i, (account, asset, cents)) in rows.iter().enumerate() {
                let name = ["USDC", "ETH"][*asset];
                let name = if broken == Some(i) { "SOL" } else { name };
                text += &format!("{account},{name},{}.{:02}\n", cents / 100, cents.unsigned_abs() % 100);
            }
            let middle = (text.len() as f64 * cut) as u64;
            let whole = parse_from(&text, 2, &index_of, u64::MAX);
            proptest::prop_assert_eq!(parse_from(&text, 2, &index_of, middle), whole);
        }

        #[test]
        fn unsigned_reads_as_str_parse(text in "[+0-9 a-]{0,22}") {
            proptest::prop_assert_eq!(unsigned(text.as_bytes()), text.parse::<u64>().ok());
        }
    }

    proptest::proptest! {
        #[test]
        fn newline_finds_the_first_newline(bytes in proptest::collection::vec(proptest::prop_oneof![proptest::prelude::Just(b'\n'), 0u8..=255], 0..40)) {
            proptest::prop_assert_eq!(newline(&bytes), bytes.iter().position(|&b| b == b'\n'));
        }
    }
}

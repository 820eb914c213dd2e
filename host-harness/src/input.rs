//! Reading what a user gives: files refused before they are opened when
//! they could block or never end, and the error that says what is wrong
//! with an input and where. The scenario file and the positions CSV both
//! read through here.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// Largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: usize = 64 << 20;
/// A scenario file that could not be used: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The key path, such as `assets[1].venue.fee`, when known.
    pub key: Option<String>,
    /// Line and column (from 1), when known.
    pub at: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((line, column)) = self.at {
            write!(f, "line {line}, column {column}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

pub(crate) fn fail(key: impl Into<String>, message: impl Into<String>) -> FileError {
    FileError {
        key: Some(key.into()),
        at: None,
        message: message.into(),
    }
}

/// Opens `path` for reading if it is a regular file of at most `max`
/// bytes, and gives its size. A FIFO, a device (`/dev/zero`) or a folder
/// is refused before it is opened: reading one could block, or never end.
pub fn open_input(path: &Path, max: u64) -> Result<(std::fs::File, u64), String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown}: not a regular file (a folder, a FIFO or a device): only files are read"
        ));
    }
    if meta.len() > max {
        return Err(format!("{shown}: the file is larger than {max} bytes"));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    Ok((file, meta.len()))
}

/// A file's text, refusing one too large to be a scenario or not UTF-8.
/// At most [`MAX_FILE_BYTES`] are read, whatever the file's size says.
pub fn read_text(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let limit = MAX_FILE_BYTES as u64;
    let (file, size) = open_input(path, limit)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{shown}: the file is larger than {limit} bytes"));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{shown}: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}

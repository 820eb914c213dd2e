//! Where a scenario comes from: a file, a bundled scenario by name, or text
//! (and the folder a positions file it names is read from). The command
//! line and the Python module resolve their argument here, so `firesale
//! run NAME` and `firesale.run(NAME)` read the same scenario.

use crate::bounds::Bounds;
use crate::bundled;
use crate::input::{read_text, FileError};
use crate::scenario::Scenario;
use crate::scenario_file::parse_with_positions;
use std::path::{Path, PathBuf};

/// A scenario's text, where it came from, and the folder its relative
/// paths are read from.
#[derive(Clone, Debug)]
pub struct Source {
    /// For messages: the path, or "bundled scenario `NAME`".
    pub label: String,
    /// The TOML text.
    pub text: String,
    /// The folder a positions file named in it is read from.
    pub dir: Option<PathBuf>,
}

impl Source {
    /// The file at `path`.
    pub fn file(path: &Path) -> Result<Self, String> {
        Ok(Source {
            label: path.display().to_string(),
            text: read_text(path)?,
            dir: path.parent().map(Path::to_path_buf),
        })
    }

    /// A file if one is there, else the bundled scenario of that name.
    pub fn file_or_bundled(arg: &str) -> Result<Self, String> {
        let path = Path::new(arg);
        if path.exists() {
            return Self::file(path);
        }
        match bundled::find(arg) {
            Some(b) => Ok(Source {
                label: format!("bundled scenario `{}`", b.name),
                text: b.source.to_string(),
                dir: None,
            }),
            None => Err(format!(
                "{arg}: no such file, and no bundled scenario of that name (`firesale scenarios` lists them)"
            )),
        }
    }

    /// TOML text given directly, named `label` in messages.
    pub fn text(label: &str, text: String) -> Self {
        Source {
            label: label.to_string(),
            text,
            dir: None,
        }
    }

    /// Parses and validates the scenario within `bounds`.
    pub fn scenario(&self, bounds: &Bounds) -> Result<Scenario, FileError> {
        self.scenario_with(bounds, None)
    }

    /// [`Source::scenario`], with the accounts' positions given as CSV
    /// text in place of the file `accounts.positions` would name.
    pub fn scenario_with(
        &self,
        bounds: &Bounds,
        positions: Option<&str>,
    ) -> Result<Scenario, FileError> {
        parse_with_positions(&self.text, self.dir.as_deref(), bounds, positions)
    }
}

//! `firesale-fuel PATH_TO_WASM` prints each workload's fuel under wasmi,
//! one `workload fuel` line each (`tests/fuel.sh` checks them against
//! `tests/fuel.ceilings`); `firesale-fuel --lines PATH_TO_WASM` prints the
//! golden lines the module writes under wasmi.

use firesale_fuel::Meter;
use std::io::{ErrorKind, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (lines, path) = match args.as_slice() {
        [path] => (false, path),
        [flag, path] if flag == "--lines" => (true, path),
        _ => {
            eprintln!("usage: firesale-fuel [--lines] PATH_TO_WASM");
            return ExitCode::from(2);
        }
    };
    let result = Meter::load(path.as_ref()).and_then(|meter| {
        let rows = match lines {
            true => meter.golden_lines()?,
            false => meter
                .workloads()?
                .iter()
                .map(|w| format!("{} {}", w.name, w.fuel))
                .collect(),
        };
        let mut out = std::io::stdout().lock();
        for row in rows {
            // A reader that stops early (`| head`) is not an error.
            match writeln!(out, "{row}") {
                Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(()),
                other => other.map_err(|e| e.to_string())?,
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

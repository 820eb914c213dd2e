//! `firesale-fuel PATH_TO_WASM` prints each workload's fuel under wasmi,
//! one `workload fuel` line each (`tests/fuel.sh` checks them against
//! `tests/fuel.ceilings`); `firesale-fuel --lines PATH_TO_WASM` prints the
//! golden lines the module writes under wasmi.

use firesale_fuel::Meter;
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
        if lines {
            meter.golden_lines()?.iter().for_each(|l| println!("{l}"));
        } else {
            for w in meter.workloads()? {
                println!("{} {}", w.name, w.fuel);
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

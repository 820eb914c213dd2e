//! The wasm32 module of `tests/wasm` under wasmi with fuel metering: the
//! fuel a metered runtime charges for one health evaluation, one
//! liquidation unit and each golden cascade.
//!
//! wasmi charges fuel when a region is entered (a function body, a loop
//! body, an `if` or `else` arm), for every operator in the region at once
//! (one unit per operator, none for `block`, `loop`, `end`, `nop`, `drop`);
//! so fuel follows the size of the code entered, not only the operators
//! executed. Functions are compiled eagerly, so no translation is charged.
//! Every call runs in a fresh instance with a fresh budget: a workload's
//! fuel does not depend on what ran before it.

use std::path::Path;
use wasmi::{CompilationMode, Config, Engine, Instance, Linker, Module, Store};

/// The fuel each call starts with: far more than any workload needs.
pub const BUDGET: u64 = 1 << 50;

/// Health evaluations in one metered `health` call.
pub const EVALUATIONS: u32 = 1_000;

/// Golden scenarios the workloads cover (the module's `golden_count()`).
pub const GOLDEN: u32 = 4;

/// The module, compiled once, metered.
pub struct Meter {
    engine: Engine,
    module: Module,
}

/// One workload's fuel, per operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// `health2`, `health8`, `liquidationN`, `cascadeN` (N a golden index).
    pub name: String,
    /// Fuel per operation: per health evaluation, per liquidation unit, per
    /// whole cascade.
    pub fuel: u64,
}

impl Meter {
    /// Compiles the module at `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let wasm = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::new(&wasm)
    }

    /// Compiles `wasm` with fuel metering on, eagerly.
    pub fn new(wasm: &[u8]) -> Result<Self, String> {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            .compilation_mode(CompilationMode::Eager);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, wasm).map_err(|e| format!("module: {e}"))?;
        Ok(Self { engine, module })
    }

    /// Runs `f` over a fresh instance whose store holds [`BUDGET`] fuel.
    fn with_instance<R>(
        &self,
        f: impl FnOnce(&mut Store<()>, Instance) -> Result<R, String>,
    ) -> Result<R, String> {
        let mut store = Store::new(&self.engine, ());
        let instance = Linker::<()>::new(&self.engine)
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| format!("instantiate: {e}"))?;
        store.set_fuel(BUDGET).map_err(|e| e.to_string())?;
        f(&mut store, instance)
    }

    /// Calls export `name` (`u32` parameters, one `u32` result) in a fresh
    /// instance; returns its result and the fuel the call consumed.
    pub fn call<P: wasmi::WasmParams>(&self, name: &str, params: P) -> Result<(u32, u64), String> {
        self.with_instance(|store, instance| {
            let result = instance
                .get_typed_func::<P, u32>(&*store, name)
                .and_then(|func| func.call(&mut *store, params))
                .map_err(|e| format!("{name}: {e}"))?;
            let left = store.get_fuel().map_err(|e| e.to_string())?;
            Ok((result, BUDGET - left))
        })
    }

    /// The golden lines, as the module writes them (`run.mjs` prints the
    /// same under Node).
    pub fn golden_lines(&self) -> Result<Vec<String>, String> {
        self.with_instance(|store, instance| {
            let export = |store: &Store<()>, name: &str| {
                instance
                    .get_typed_func::<(), u32>(store, name)
                    .map_err(|e| format!("{name}: {e}"))
            };
            let count = export(store, "golden_count")?
                .call(&mut *store, ())
                .map_err(|e| e.to_string())?;
            let line = instance
                .get_typed_func::<u32, u32>(&*store, "golden_line")
                .map_err(|e| format!("golden_line: {e}"))?;
            let buffer = export(store, "line_buffer")?
                .call(&mut *store, ())
                .map_err(|e| e.to_string())?;
            let memory = instance
                .get_memory(&*store, "memory")
                .ok_or("the module exports no memory")?;
            let mut lines = Vec::new();
            for index in 0..count {
                let len = line.call(&mut *store, index).map_err(|e| e.to_string())?;
                if len == 0 {
                    return Err(format!("golden {index} failed in the module"));
                }
                let mut bytes = vec![0; len as usize];
                memory
                    .read(&*store, buffer as usize, &mut bytes)
                    .map_err(|e| e.to_string())?;
                lines.push(String::from_utf8(bytes).map_err(|e| e.to_string())?);
            }
            Ok(lines)
        })
    }

    /// Fuel per evaluation of the `assets`-asset sample row: the fuel of
    /// [`EVALUATIONS`] evaluations less that of none (the sample's set-up),
    /// divided by [`EVALUATIONS`] and rounded to the nearest unit.
    pub fn health(&self, assets: u32) -> Result<u64, String> {
        self.per_evaluation("health", assets)
    }

    /// [`Self::health`] for the next number representation's sample row
    /// (`next::fixtures::health_sample`).
    pub fn next_health(&self, assets: u32) -> Result<u64, String> {
        self.per_evaluation("next_health", assets)
    }

    /// Fuel per evaluation of export `name(assets, evaluations)`.
    fn per_evaluation(&self, name: &str, assets: u32) -> Result<u64, String> {
        let (_, none) = self.call(name, (assets, 0))?;
        let (sum, many) = self.call(name, (assets, EVALUATIONS))?;
        if sum == 0 {
            return Err(format!("{name}({assets}) evaluated nothing"));
        }
        let per = u64::from(EVALUATIONS);
        Ok((many - none + per / 2) / per)
    }

    /// Fuel of a liquidation unit of the next representation
    /// (`next::fixtures::PairStep`; `fixture` 0 a close-factor step, 1 an
    /// absorb that ends in the waterfall): its set-up and the unit less the
    /// set-up alone.
    pub fn next_unit(&self, fixture: u32) -> Result<u64, String> {
        let (_, setup) = self.call("next_unit", (fixture, 0u32))?;
        let (liquidated, both) = self.call("next_unit", (fixture, 1u32))?;
        if liquidated != 1 {
            return Err(format!("the next unit {fixture} did not liquidate"));
        }
        Ok(both - setup)
    }

    /// Fuel of golden scenario `index`'s first liquidation unit: the fuel
    /// of the set-up and the unit less that of the set-up alone.
    pub fn liquidation(&self, index: u32) -> Result<u64, String> {
        let (setup_steps, setup) = self.call("liquidation_setup", index)?;
        let (unit_steps, unit) = self.call("liquidation_unit", index)?;
        if setup_steps == 0 || unit_steps != setup_steps + 1 {
            return Err(format!(
                "golden {index}: set-up stepped {setup_steps} units, set-up and unit {unit_steps}"
            ));
        }
        Ok(unit - setup)
    }

    /// Fuel of golden scenario `index` run to its end (the module's
    /// `cascade`: `golden_line` without writing the line).
    pub fn cascade(&self, index: u32) -> Result<u64, String> {
        match self.call("cascade", index)? {
            (0, _) => Err(format!("golden {index} failed in the module")),
            (_, fuel) => Ok(fuel),
        }
    }

    /// Every workload, in the order of `tests/fuel.ceilings`.
    pub fn workloads(&self) -> Result<Vec<Workload>, String> {
        let mut all = vec![
            ("health2".to_string(), self.health(2)?),
            ("health8".to_string(), self.health(8)?),
            ("next-health2".to_string(), self.next_health(2)?),
            ("next-health8".to_string(), self.next_health(8)?),
            ("next-liquidation".to_string(), self.next_unit(0)?),
            ("next-bankruptcy".to_string(), self.next_unit(1)?),
        ];
        for index in 0..GOLDEN {
            all.push((format!("liquidation{index}"), self.liquidation(index)?));
        }
        for index in 0..GOLDEN {
            all.push((format!("cascade{index}"), self.cascade(index)?));
        }
        Ok(all
            .into_iter()
            .map(|(name, fuel)| Workload { name, fuel })
            .collect())
    }
}

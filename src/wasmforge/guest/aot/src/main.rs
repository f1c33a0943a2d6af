//! wasmforge-hyperlight-aot: precompile a component for the Hyperlight wasm guest, and
//! check precompiled code the way the guest will use it.
//!
//! usage: wasmforge-hyperlight-aot compile IN.wasm OUT.aot
//!        wasmforge-hyperlight-aot link IN.aot HOSTED.tsv
//!
//! The engine is configured as hyperlight-wasm-aot configures its LTS engine: target
//! x86_64-unknown-none and otherwise wasmtime's defaults, so the guest accepts the result.
//! The engine version the artifact records is checked by wasmforge after each compile.
//!
//! `link` does what the guest does after a VM boots, minus the VM: it deserializes the
//! precompiled code, links it with a component Linker that defines exactly the functions
//! and resources listed in HOSTED.tsv (lines `interface<TAB>func|resource<TAB>name`, under
//! the names the guest registers), instantiates it and calls
//! `hyperlight:sandbox/executor.run("")`, the load request the backend snapshots after.
//! Host functions only fail if called; that request calls none.

use std::collections::BTreeMap;
use std::process::ExitCode;

use wasmtime::component::{Component, Linker, ResourceType, Val};
use wasmtime::{Engine, Store};

fn engine() -> Result<Engine, String> {
    let mut config = wasmtime::Config::new();
    config
        .target("x86_64-unknown-none")
        .map_err(|e| format!("cannot target x86_64-unknown-none: {e}"))?;
    Engine::new(&config).map_err(|e| format!("cannot create the engine: {e}"))
}

fn compile(input: &str, output: &str) -> Result<(), String> {
    let bytes = std::fs::read(input).map_err(|e| format!("cannot read {input}: {e}"))?;
    let code = engine()?
        .precompile_component(&bytes)
        .map_err(|e| format!("cannot precompile {input}: {e:#}"))?;
    std::fs::write(output, code).map_err(|e| format!("cannot write {output}: {e}"))
}

/// Distinct host resource types: the guest gives every resource its own type.
struct Hosted<const N: usize>;

macro_rules! resource_types {
    ($($n:literal)*) => {
        fn resource_type(index: usize) -> Option<ResourceType> {
            match index {
                $($n => Some(ResourceType::host::<Hosted<$n>>()),)*
                _ => None,
            }
        }
    };
}
resource_types!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
    29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57
    58 59 60 61 62 63);

type Hosts = BTreeMap<String, Vec<(String, String)>>;

fn read_hosted(path: &str) -> Result<Hosts, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut hosts = Hosts::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            [interface, kind @ ("func" | "resource"), name] => hosts
                .entry(interface.to_string())
                .or_default()
                .push((kind.to_string(), name.to_string())),
            _ => return Err(format!("{path}:{}: expected interface, func|resource, name", number + 1)),
        }
    }
    Ok(hosts)
}

fn define(linker: &mut Linker<()>, hosts: &Hosts) -> Result<(), String> {
    let mut resources = 0;
    for (interface, items) in hosts {
        let mut instance = linker
            .instance(interface)
            .map_err(|e| format!("cannot define {interface}: {e}"))?;
        for (kind, name) in items {
            let defined = if kind == "func" {
                let what = format!("{interface}#{name}");
                instance.func_new(name, move |_, _, _| {
                    Err(wasmtime::Error::msg(format!("{what} was called during the load request")))
                })
            } else {
                let ty = resource_type(resources)
                    .ok_or_else(|| "more than 64 hosted resources".to_string())?;
                resources += 1;
                instance.resource(name, ty, |_, _| Ok(()))
            };
            defined.map_err(|e| format!("cannot define {interface}#{name}: {e}"))?;
        }
    }
    Ok(())
}

fn link(aot: &str, hosted: &str) -> Result<(), String> {
    let engine = engine()?;
    let bytes = std::fs::read(aot).map_err(|e| format!("cannot read {aot}: {e}"))?;
    // SAFETY: the bytes were written by `compile` of this same tool (the caller checks).
    let component = unsafe { Component::deserialize(&engine, &bytes) }
        .map_err(|e| format!("the guest's wasmtime would not load {aot}: {e:#}"))?;
    let mut linker = Linker::<()>::new(&engine);
    define(&mut linker, &read_hosted(hosted)?)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| format!("the guest could not link {aot}: {e:#}"))?;
    let mut store = Store::new(&engine, ());
    let instance = pre
        .instantiate(&mut store)
        .map_err(|e| format!("instantiating {aot} failed: {e:#}"))?;
    let executor = instance
        .get_export_index(&mut store, None, "hyperlight:sandbox/executor")
        .ok_or("the component exports no hyperlight:sandbox/executor")?;
    let run = instance
        .get_export_index(&mut store, Some(&executor), "run")
        .and_then(|index| instance.get_func(&mut store, &index))
        .ok_or("hyperlight:sandbox/executor exports no function run")?;
    let mut results = [Val::Bool(false)];
    run.call(&mut store, &[Val::String(String::new())], &mut results)
        .map_err(|e| format!("executor.run(\"\") failed: {e:#}"))?;
    run.post_return(&mut store)
        .map_err(|e| format!("executor.run(\"\") post-return failed: {e:#}"))?;
    println!("{:?}", results[0]);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("compile") if args.len() == 4 => compile(&args[2], &args[3]),
        Some("link") if args.len() == 4 => link(&args[2], &args[3]),
        _ => Err("usage: wasmforge-hyperlight-aot compile IN.wasm OUT.aot\n       \
                  wasmforge-hyperlight-aot link IN.aot HOSTED.tsv".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

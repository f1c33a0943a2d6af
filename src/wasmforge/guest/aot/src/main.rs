//! wasmforge-hyperlight-aot: precompile a component for the Hyperlight wasm guest.
//!
//! usage: wasmforge-hyperlight-aot compile IN.wasm OUT.aot
//!
//! The engine is configured as hyperlight-wasm-aot configures its LTS engine: target
//! x86_64-unknown-none and otherwise wasmtime's defaults, so the guest accepts the result.
//! The engine version the artifact records is checked by wasmforge after each compile.

use std::process::ExitCode;

fn engine() -> Result<wasmtime::Engine, String> {
    let mut config = wasmtime::Config::new();
    config
        .target("x86_64-unknown-none")
        .map_err(|e| format!("cannot target x86_64-unknown-none: {e}"))?;
    wasmtime::Engine::new(&config).map_err(|e| format!("cannot create the engine: {e}"))
}

fn compile(input: &str, output: &str) -> Result<(), String> {
    let bytes = std::fs::read(input).map_err(|e| format!("cannot read {input}: {e}"))?;
    let code = engine()?
        .precompile_component(&bytes)
        .map_err(|e| format!("cannot precompile {input}: {e:#}"))?;
    std::fs::write(output, code).map_err(|e| format!("cannot write {output}: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("compile") if args.len() == 4 => compile(&args[2], &args[3]),
        _ => Err("usage: wasmforge-hyperlight-aot compile IN.wasm OUT.aot".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

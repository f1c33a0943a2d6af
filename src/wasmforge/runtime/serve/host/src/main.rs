//! wasmforge's wasi:http/proxy host: every request gets a fresh instance of a pre-linked
//! component in its own Store, holding only what the plan grants, within its memory and time
//! limits. Started by wasmforge (runtime/serve/), which writes the plan and reads the log.
//!
//! `wasmforge-serve compile PLAN` fills the compiled-code cache; `wasmforge-serve serve PLAN`
//! serves until SIGINT/SIGTERM or the end of its stdin, then drains. Stdout carries one JSON
//! line per event.

mod allow;
mod config;
mod engine;
mod server;
mod state;

use anyhow::Result;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let outcome = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("--version"), _) => {
            println!("wasmforge-serve {} wasmtime 36.0.14", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        (Some("compile"), Some(plan)) => compile(plan),
        (Some("serve"), Some(plan)) => server::serve(plan),
        _ => Err(anyhow::anyhow!("usage: wasmforge-serve compile|serve PLAN.json")),
    };
    if let Err(err) = outcome {
        server::event(&serde_json::json!({"error": format!("{err:#}")}));
        std::process::exit(2);
    }
}

fn compile(path: &str) -> Result<()> {
    let plan = config::Plan::read(path)?;
    let engine = engine::engine(&plan)?;
    let component = engine::component(&engine, &plan)?;
    engine::proxy(&engine, &component)?;
    server::event(&serde_json::json!({"compiled": true}));
    Ok(())
}

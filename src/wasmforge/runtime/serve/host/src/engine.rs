//! The engine (pooling allocator, copy-on-write memory images, epoch interruption), the
//! compiled-code cache and the pre-instantiated proxy.

use crate::config::Plan;
use crate::state::State;
use anyhow::{Context, Result};
use std::path::Path;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wasmtime_wasi_http::bindings::ProxyPre;

pub const TICK_MS: u64 = 10;

pub fn engine(plan: &Plan) -> Result<Engine> {
    let mut config = Config::new();
    config.async_support(true);
    config.epoch_interruption(true);
    config.memory_init_cow(true);
    let slots = (plan.max_concurrency as u32).saturating_mul(2).max(16);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots * 24)
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .total_memories(slots * 8)
        .total_tables(slots * 16)
        .total_stacks(slots)
        .table_elements(100_000)
        .max_memory_size(plan.memory_bytes)
        .max_component_instance_size(4 << 20)
        .max_core_instance_size(4 << 20);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).context("creating the wasmtime engine")
}

/// The component, from the cache when this engine compiled it before; else compiled and
/// stored (atomically) for the next start.
pub fn component(engine: &Engine, plan: &Plan) -> Result<Component> {
    if plan.compiled.is_file() {
        // SAFETY: the cache holds only what this same binary serialized (wasmforge keys
        // it by the component's digest and this host's version).
        if let Ok(found) = unsafe { Component::deserialize_file(engine, &plan.compiled) } {
            return Ok(found);
        }
    }
    let wasm = std::fs::read(&plan.component)
        .with_context(|| format!("reading {}", plan.component.display()))?;
    let code = engine.precompile_component(&wasm).context("compiling the component")?;
    store_compiled(&plan.compiled, &code);
    unsafe { Component::deserialize(engine, &code) }.context("loading the compiled component")
}

fn store_compiled(path: &Path, code: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return; // a read-only cache (the process tier's) only costs a compile
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, code).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

pub fn proxy(engine: &Engine, component: &Component) -> Result<ProxyPre<State>> {
    let mut linker: Linker<State> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::add_only_http_to_linker_async(&mut linker)?;
    let pre = linker.instantiate_pre(component).context("linking the component")?;
    ProxyPre::new(pre).context("the component does not export wasi:http/incoming-handler")
}

/// Epochs advance every TICK_MS; a store's deadline is counted in them.
pub fn start_ticker(engine: Engine) {
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(TICK_MS));
        engine.increment_epoch();
    });
}

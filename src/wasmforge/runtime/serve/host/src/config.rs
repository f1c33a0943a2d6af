//! The serving plan wasmforge writes as JSON: what the handler may touch, and its limits.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::PathBuf;

pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

pub struct Plan {
    pub component: PathBuf,
    pub compiled: PathBuf,
    pub listen_fd: Option<i32>,
    pub listen: String,
    pub env: Vec<(String, String)>,
    pub preopens: Vec<Preopen>,
    pub network: Vec<String>,
    pub stdio: bool,
    pub memory_bytes: usize,
    pub timeout_ms: u64,
    pub max_concurrency: usize,
    /// Request lines on stderr as JSON (`--log-json`) rather than text.
    pub log_json: bool,
}

fn text(v: &Value, key: &str) -> Result<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned).with_context(|| format!("plan: `{key}` is missing"))
}

fn number(v: &Value, key: &str) -> Result<u64> {
    v.get(key).and_then(Value::as_u64).with_context(|| format!("plan: `{key}` is missing"))
}

impl Plan {
    pub fn read(path: &str) -> Result<Plan> {
        let raw = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        let v: Value = serde_json::from_slice(&raw).context("the plan is not JSON")?;
        let mut env = Vec::new();
        for pair in v.get("env").and_then(Value::as_array).into_iter().flatten() {
            match (pair.get(0).and_then(Value::as_str), pair.get(1).and_then(Value::as_str)) {
                (Some(k), Some(val)) => env.push((k.to_owned(), val.to_owned())),
                _ => bail!("plan: an `env` entry is not [name, value]"),
            }
        }
        let mut preopens = Vec::new();
        for item in v.get("preopens").and_then(Value::as_array).into_iter().flatten() {
            preopens.push(Preopen {
                host: PathBuf::from(text(item, "host")?),
                guest: text(item, "guest")?,
                read_only: item.get("read_only").and_then(Value::as_bool).unwrap_or(true),
            });
        }
        let network = v.get("network").and_then(Value::as_array).into_iter().flatten()
            .filter_map(|e| e.as_str().map(str::to_owned)).collect();
        Ok(Plan {
            component: PathBuf::from(text(&v, "component")?),
            compiled: PathBuf::from(text(&v, "compiled")?),
            listen_fd: v.get("listen_fd").and_then(Value::as_i64).map(|fd| fd as i32),
            listen: v.get("listen").and_then(Value::as_str).unwrap_or("127.0.0.1:8080").to_owned(),
            env,
            preopens,
            network,
            stdio: v.get("stdio").and_then(Value::as_bool).unwrap_or(false),
            memory_bytes: number(&v, "memory_bytes")? as usize,
            timeout_ms: number(&v, "timeout_ms")?,
            max_concurrency: number(&v, "max_concurrency")?.max(1) as usize,
            log_json: v.get("log_json").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

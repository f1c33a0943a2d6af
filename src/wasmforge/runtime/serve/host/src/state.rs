//! One request's store data: a WASI context holding only what the plan grants.

use crate::allow::AllowList;
use crate::config::Plan;
use anyhow::Result;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{DirPerms, FilePerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::body::HyperOutgoingBody;
use wasmtime_wasi_http::types::{HostFutureIncomingResponse, OutgoingRequestConfig, default_send_request};
use wasmtime_wasi_http::{HttpResult, WasiHttpCtx, WasiHttpView};

pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub limits: StoreLimits,
    allow: Arc<AllowList>,
}

impl State {
    pub fn new(plan: &Plan, allow: &Arc<AllowList>) -> Result<State> {
        let mut wasi = WasiCtx::builder();
        if plan.stdio {
            // The guest's stdout joins stderr: wasmforge's stdout carries the request log.
            wasi.stdout(wasmtime_wasi::cli::stderr()).stderr(wasmtime_wasi::cli::stderr());
        }
        wasi.envs(&plan.env);
        for p in &plan.preopens {
            let (dirs, files) = if p.read_only {
                (DirPerms::READ, FilePerms::READ)
            } else {
                (DirPerms::all(), FilePerms::all())
            };
            wasi.preopened_dir(&p.host, &p.guest, dirs, files)?;
        }
        if !allow.is_empty() {
            let checked = allow.clone();
            wasi.allow_ip_name_lookup(true);
            wasi.socket_addr_check(move |addr, _use| {
                let ok = checked.allows_socket(&addr);
                Box::pin(async move { ok })
            });
        }
        Ok(State {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(plan.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            allow: allow.clone(),
        })
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn ctx(&mut self) -> &mut WasiHttpCtx {
        &mut self.http
    }

    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    fn send_request(
        &mut self,
        request: hyper::Request<HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        if !self.allow.allows_http(request.uri(), config.use_tls) {
            return Err(ErrorCode::HttpRequestDenied.into());
        }
        Ok(default_send_request(request, config))
    }
}

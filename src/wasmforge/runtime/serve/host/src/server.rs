//! Accepting connections, one fresh instance per request, the request log and the drain.

use crate::allow::AllowList;
use crate::config::Plan;
use crate::engine::{self, TICK_MS};
use crate::state::State;
use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use std::io::Write;
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::bindings::ProxyPre;
use wasmtime_wasi_http::bindings::http::types::Scheme;
use wasmtime_wasi_http::body::HyperOutgoingBody;
use wasmtime_wasi_http::io::TokioIo;

pub fn event(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

struct Server {
    plan: Plan,
    pre: ProxyPre<State>,
    allow: Arc<AllowList>,
    permits: Arc<Semaphore>,
    inflight: AtomicUsize,
    timeout: Duration,
}

pub fn serve(path: &str) -> Result<()> {
    let plan = Plan::read(path)?;
    let engine = engine::engine(&plan)?;
    let component = engine::component(&engine, &plan)?;
    let pre = engine::proxy(&engine, &component)?;
    engine::start_ticker(engine);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = listener(&plan)?;
        let server = Arc::new(Server {
            allow: Arc::new(AllowList::new(&plan.network)),
            permits: Arc::new(Semaphore::new(plan.max_concurrency)),
            inflight: AtomicUsize::new(0),
            timeout: Duration::from_millis(plan.timeout_ms),
            plan,
            pre,
        });
        event(&serde_json::json!({"ready": listener.local_addr()?.to_string()}));
        accept_until_signal(&server, listener).await?;
        drain(&server).await;
        Ok(())
    })
}

fn listener(plan: &Plan) -> Result<TcpListener> {
    let std_listener = match plan.listen_fd {
        // SAFETY: wasmforge passes a bound, listening TCP socket as this descriptor.
        Some(fd) => unsafe { std::net::TcpListener::from_raw_fd(fd) },
        None => std::net::TcpListener::bind(&plan.listen)
            .with_context(|| format!("listening on {}", plan.listen))?,
    };
    std_listener.set_nonblocking(true)?;
    Ok(TcpListener::from_std(std_listener)?)
}

async fn accept_until_signal(server: &Arc<Server>, listener: TcpListener) -> Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut released = stdin_closed();
    loop {
        let (client, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,  // a connection reset before accept; keep serving
            },
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = &mut released => return Ok(()),
        };
        let _ = client.set_nodelay(true);
        let server = server.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
            });
            let _ = http1::Builder::new().keep_alive(true)
                .serve_connection(TokioIo::new(client), service).await;
        });
    }
}

/// wasmforge holds the other end of stdin: when it closes it (or dies), the host drains.
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(std::io::Read::read(&mut stdin, &mut buf), Ok(n) if n > 0) {}
        let _ = sender.send(());
    });
    receiver
}

/// Requests already running finish (each within its own time limit); then the host exits.
async fn drain(server: &Arc<Server>) {
    let deadline = Instant::now() + server.timeout + Duration::from_secs(1);
    while server.inflight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(TICK_MS)).await;
    }
    event(&serde_json::json!({"drained": server.inflight.load(Ordering::SeqCst) == 0}));
}

struct RequestLine {
    method: String,
    path: String,
}

type HandlerTask = tokio::task::JoinHandle<Result<(), Failure>>;

impl Server {
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<HyperOutgoingBody> {
        let started = Instant::now();
        let line = RequestLine { method: req.method().to_string(), path: req.uri().path().to_owned() };
        self.inflight.fetch_add(1, Ordering::SeqCst);
        let permit = match self.permits.clone().acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => return self.failed(line, started, Failure::Internal(anyhow!("the server is closing"))),
        };
        let (response, handler) = match self.clone().run(req).await {
            Ok(answered) => answered,
            Err(failure) => return self.failed(line, started, failure),
        };
        let status = response.status().as_u16();
        let server = self.clone();
        // The handler may go on after its head (a streamed body, or a trap): its permit,
        // its place in the drain and its log line wait for it, and a late failure is logged.
        tokio::spawn(async move {
            let error = match handler.await {
                Ok(Ok(())) => None,
                Ok(Err(failure)) => Some(format!("after answering: {}", failure.describe().1)),
                Err(err) => Some(format!("after answering: {err}")),
            };
            drop(permit);
            server.log(line, status, started, error);
        });
        response
    }

    fn failed(&self, line: RequestLine, started: Instant, failure: Failure) -> Response<HyperOutgoingBody> {
        let (response, error) = failure.response();
        self.log(line, response.status().as_u16(), started, Some(error));
        response
    }

    /// One line per request on stderr, written here rather than relayed through wasmforge's
    /// Python process, which would wake for every request.
    fn log(&self, line: RequestLine, status: u16, started: Instant, error: Option<String>) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let text = if self.plan.log_json {
            let quote = |s: &str| serde_json::Value::from(s).to_string();
            let error = error.map(|e| format!(", \"error\": {}", quote(&e))).unwrap_or_default();
            format!("{{\"method\": {}, \"path\": {}, \"status\": {status}, \"ms\": {}{error}}}",
                    quote(&line.method), quote(&line.path), (ms * 1000.0).round() / 1000.0)
        } else {
            let error = error.map(|e| format!(" ({e})")).unwrap_or_default();
            format!("{} {} {status} {ms:.2} ms{error}", line.method, line.path)
        };
        let _ = writeln!(std::io::stderr().lock(), "{text}");
        self.inflight.fetch_sub(1, Ordering::SeqCst);
    }

    async fn run(self: Arc<Self>, req: Request<Incoming>) -> Result<(Response<HyperOutgoingBody>, HandlerTask), Failure> {
        let state = State::new(&self.plan, &self.allow).map_err(Failure::Internal)?;
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.plan.timeout_ms.div_ceil(TICK_MS).max(1));
        store.epoch_deadline_trap();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store.data_mut().new_incoming_request(Scheme::Http, req).map_err(Failure::Internal)?;
        let out = store.data_mut().new_response_outparam(sender).map_err(Failure::Internal)?;
        let pre = self.pre.clone();
        let limit = self.timeout;
        // The handler may keep running after it has sent the head (a streamed body); the
        // time limit covers its whole life, host calls included.
        let task = tokio::spawn(async move {
            let call = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
            };
            match tokio::time::timeout(limit, call).await {
                Ok(result) => result.map_err(|e| classify(e, limit)),
                Err(_) => Err(Failure::Timeout(limit)),
            }
        });
        match receiver.await {
            Ok(Ok(response)) => Ok((response, task)),
            Ok(Err(code)) => Err(Failure::Handler(format!("the handler answered with error {code:?}"))),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(Failure::Handler("the handler returned without a response".into())),
                Ok(Err(failure)) => Err(failure),
                Err(err) => Err(Failure::Internal(err.into())),
            },
        }
    }
}

enum Failure {
    Timeout(Duration),
    Memory(String),
    Handler(String),
    Internal(anyhow::Error),
}

fn classify(err: anyhow::Error, limit: Duration) -> Failure {
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        if *trap == wasmtime::Trap::Interrupt {
            return Failure::Timeout(limit);
        }
    }
    let text = format!("{err:#}");
    if text.contains("forcing trap when growing memory") || text.contains("memory limit") {
        return Failure::Memory(text);
    }
    Failure::Handler(format!("the handler trapped: {text}"))
}

impl Failure {
    fn describe(self) -> (StatusCode, String) {
        match self {
            Failure::Timeout(limit) => (StatusCode::GATEWAY_TIMEOUT,
                format!("the handler ran past its time limit of {} ms", limit.as_millis())),
            Failure::Memory(text) => (StatusCode::INTERNAL_SERVER_ERROR,
                format!("the handler ran out of its memory limit: {text}")),
            Failure::Handler(text) => (StatusCode::INTERNAL_SERVER_ERROR, text),
            Failure::Internal(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}")),
        }
    }

    fn response(self) -> (Response<HyperOutgoingBody>, String) {
        let (status, message) = self.describe();
        let body = Full::new(Bytes::from(format!("{}\n", status.canonical_reason().unwrap_or("error"))))
            .map_err(|never| match never {})
            .boxed();
        let mut response = Response::new(body);
        *response.status_mut() = status;
        (response, message)
    }
}

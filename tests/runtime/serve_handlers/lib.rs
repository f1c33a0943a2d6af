//! The Rust handler the serve tests build: a small service with one route per behaviour
//! the tests check, on the `wasi` crate's wasi:http/proxy bindings. Files and the
//! environment go through std; outbound HTTP through wasi:http/outgoing-handler.
//! Module state lives in a static.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};

static REQUESTS: AtomicU32 = AtomicU32::new(0);

struct Handler;

impl Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let count = REQUESTS.fetch_add(1, Ordering::Relaxed) + 1;
        let target = request.path_with_query().unwrap_or_else(|| "/".to_string());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, text) = route(path, query, count);
        respond(response_out, status, &text);
    }
}

wasi::http::proxy::export!(Handler);

fn route(path: &str, query: &str, count: u32) -> (u16, String) {
    let param = |name: &str| query_param(query, name).unwrap_or_default();
    match path {
        "/state" => (200, count.to_string()),
        "/env" => (200, std::env::var(param("name")).unwrap_or_else(|_| "(unset)".into())),
        "/file" => match std::fs::read_to_string(param("path")) {
            Ok(contents) => (200, contents.trim().to_string()),
            Err(err) => (404, format!("cannot read: {err}")),
        },
        "/write" => match std::fs::write(param("path"), "written") {
            Ok(()) => (200, "written".into()),
            Err(err) => (403, format!("cannot write: {err}")),
        },
        "/fetch" => match fetch(&param("url")) {
            Ok((status, body)) => (200, format!("upstream {status}: {}", body.trim())),
            Err(ErrorCode::HttpRequestDenied) => (502, "denied: HTTP-request-denied".into()),
            Err(err) => (502, format!("no response: {err}")),
        },
        "/spin" => loop {
            std::hint::black_box(count);
        },
        "/alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![count as u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        _ => (200, format!("Hello from Rust at {path}")),
    }
}

/// The percent-decoded value of `name` in a query string.
fn query_param(query: &str, name: &str) -> Option<String> {
    let raw = query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        let escaped = (first == b'%' && tail.len() >= 2)
            .then(|| std::str::from_utf8(&tail[..2]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                bytes.push(byte);
                rest = &tail[2..];
            }
            None => {
                bytes.push(if first == b'+' { b' ' } else { first });
                rest = tail;
            }
        }
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// A GET through the host's outgoing handler: the status and the body as text.
fn fetch(url: &str) -> Result<(u16, String), ErrorCode> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|()| ErrorCode::HttpRequestUriInvalid)?;
    request.set_authority(Some(authority)).map_err(|()| ErrorCode::HttpRequestUriInvalid)?;
    request.set_path_with_query(Some(path)).map_err(|()| ErrorCode::HttpRequestUriInvalid)?;
    // A GET sends no body: the request's body resource is never taken.
    let future = outgoing_handler::handle(request, None)?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(outcome)) => outcome?,
        _ => return Err(ErrorCode::InternalError(Some("no response to poll".into()))),
    };
    let status = response.status();
    let body = response.consume().map_err(|()| ErrorCode::HttpResponseIncomplete)?;
    let mut text = String::new();
    {
        // The stream is a child of the body: it is dropped first.
        let mut stream = body.stream().map_err(|()| ErrorCode::HttpResponseIncomplete)?;
        stream.read_to_string(&mut text).map_err(|_| ErrorCode::HttpResponseIncomplete)?;
    }
    drop(wasi::http::types::IncomingBody::finish(body));
    Ok((status, text))
}

fn respond(response_out: ResponseOutparam, status: u16, text: &str) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())])
        .expect("a valid header");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let body = response.body().expect("the body of a new response");
    ResponseOutparam::set(response_out, Ok(response));
    {
        let mut stream = body.write().expect("the body's stream");
        stream.write_all(format!("{text}\n").as_bytes()).expect("writing the body");
        stream.flush().expect("flushing the body");
    }
    OutgoingBody::finish(body, None).expect("finishing the body");
}

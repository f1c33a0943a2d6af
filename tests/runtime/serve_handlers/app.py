"""The Python handler the serve tests build: one route per behaviour the tests check,
written with componentize-py's wasi:http bindings. Module state lives at the top level."""

import os
from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import outgoing_handler
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingRequest,
    OutgoingResponse,
    ResponseOutparam,
    Scheme_Http,
)

requests = 0


def fetch(url: str) -> tuple[int, str]:
    parts = urlsplit(url)
    request = OutgoingRequest(Fields())
    request.set_scheme(Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query(parts.path or "/")
    # A GET sends no body: its body is never taken, so nothing is left unfinished when the
    # host refuses the request (handle raises) before a body could be finished.
    with outgoing_handler.handle(request, None) as future:
        with future.subscribe() as ready:
            ready.block()
        outcome = future.get()
        if outcome is None or isinstance(outcome.value, Err):
            raise RuntimeError(f"no response: {outcome}")
        chunks = []
        # A resource is dropped before its parent: stream, then body, then response.
        with outcome.value.value as response, response.consume() as incoming, \
                incoming.stream() as stream:
            status = response.status()
            while True:
                try:
                    chunks.append(stream.blocking_read(65536))
                except Err:
                    break
    return status, b"".join(chunks).decode()


def route(path: str, query: dict[str, list[str]]) -> tuple[int, str]:
    if path == "/state":
        return 200, str(requests)
    if path == "/env":
        return 200, os.environ.get(query["name"][0], "(unset)")
    if path == "/file":
        try:
            with open(query["path"][0]) as handle:
                return 200, handle.read().strip()
        except OSError as err:
            return 404, f"cannot read: {err.strerror}"
    if path == "/write":
        try:
            with open(query["path"][0], "w") as handle:
                handle.write("written")
            return 200, "written"
        except OSError as err:
            return 403, f"cannot write: {err.strerror}"
    if path == "/fetch":
        try:
            status, text = fetch(query["url"][0])
        except Err as err:
            return 502, f"denied: {err.value}"
        return 200, f"upstream {status}: {text.strip()}"
    if path == "/spin":
        while True:
            pass
    if path == "/alloc":
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))
    return 200, f"Hello from Python at {path}"


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        global requests
        requests += 1
        parts = urlsplit(request.path_with_query() or "/")
        status, text = route(parts.path, parse_qs(parts.query))
        response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
        response.set_status_code(status)
        body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        with body.write() as stream:
            stream.blocking_write_and_flush((text + "\n").encode())
        OutgoingBody.finish(body, None)

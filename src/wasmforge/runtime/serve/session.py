"""`wasmforge serve`: verify -> policy -> the serving host in a tier, until a signal drains it.

The host (serve_host.py builds it) prints one JSON line per event on its stdout: `ready`
(the address), `drained`, or `error`; each request's line (method, path, status, ms, error;
text or `--log-json`) it writes on stderr itself. Closing its stdin asks it to drain:
requests already running finish within their time limit, then it exits.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wasmforge import serve_host as serving_host
from wasmforge.errors import RuntimeFailure
from wasmforge.runtime import tiers
from wasmforge.runtime.run import RunRequest, component_digest, load
from wasmforge.runtime.serve.plan import Served, ServeRequest, compiled_path, plan_json, served

Notice = Callable[[str], None]

HYPERVISOR_REFUSAL = (
    "the hypervisor tier cannot serve HTTP handlers: hyperlight-sandbox 0.8.0's wasm guest "
    "hosts one world only (it exports hyperlight:sandbox/executor.run to its host), so a "
    "Hyperlight VM cannot receive wasi:http/incoming-handler calls")
_READY_TIMEOUT_S = 120.0


def serve_image(request: ServeRequest, notice: Notice) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    image = load(RunRequest(image=request.image, trust=request.trust,
                            allow_unsigned=request.allow_unsigned), notice)
    plan = served(image, request)
    tier = choose_tier(request.isolation, plan, notice)
    binary = serving_host.built_host()
    if binary is None:
        notice("building wasmforge's HTTP serving host once (cargo; several minutes)")
        binary = serving_host.install_host()
    digest = component_digest(image.component)
    compiled = compiled_path(digest, serving_host.host_revision())
    with tempfile.TemporaryDirectory(prefix="wasmforge-serve-") as tmp, \
            _listening(plan) as listener:
        work = Path(tmp)
        (work / "component.wasm").write_bytes(image.component)
        preopens = [(p.host, p.guest, p.read_only) for p in plan.grants.preopens]
        _write_plan(work, plan, str(work / "component.wasm"), str(compiled),
                    listener.fileno(), preopens)
        _compile(binary, work / "plan.json")
        if tier == "process":
            proc, closer = _start_sandboxed(binary, work, plan, compiled, preopens, listener)
        else:
            proc, closer = _start_direct(binary, work, listener), None
        try:
            return supervise(proc, tier, notice)
        finally:
            if closer is not None:
                closer()


def choose_tier(requested: str, plan: Served, notice: Notice) -> str:
    if requested == "hypervisor":
        raise RuntimeFailure(HYPERVISOR_REFUSAL, fix="use --isolation process or auto")
    backend = tiers.choose(requested, plan.caps.isolation, notice,
                           lambda tier: HYPERVISOR_REFUSAL if tier == "hypervisor" else "")
    return backend.name


@contextlib.contextmanager
def _listening(plan: Served) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in plan.host else socket.AF_INET
    try:
        listener = socket.create_server((plan.host, plan.port), family=family, backlog=1024)
    except OSError as err:
        raise RuntimeFailure(f"cannot listen on {plan.host}:{plan.port}: "
                             f"{err.strerror or err}",
                             fix="choose another --listen address or port") from None
    with listener:
        yield listener


def _write_plan(work: Path, plan: Served, component: str, compiled: str, listen_fd: int,
                preopens: list[tuple[str, str, bool]]) -> None:
    (work / "plan.json").write_bytes(plan_json(plan, component=component, compiled=compiled,
                                               listen_fd=listen_fd, preopens=preopens))


def _compile(binary: Path, plan_path: Path) -> None:
    """Compile (or find in the cache) outside any sandbox: code is cached only from here."""
    proc = subprocess.run([str(binary), "compile", str(plan_path)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeFailure(f"the component cannot be served: {_host_error(proc.stdout)}")


def _host_error(output: str) -> str:
    for line in output.splitlines():
        with contextlib.suppress(ValueError, TypeError, KeyError):
            return str(json.loads(line)["error"]).rstrip(".")
    return output.strip() or "the serving host failed without a message"


def _start_direct(binary: Path, work: Path, listener: socket.socket) -> subprocess.Popen[str]:
    return subprocess.Popen([str(binary), "serve", str(work / "plan.json")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            pass_fds=(listener.fileno(),), start_new_session=True)


def _start_sandboxed(binary: Path, work: Path, plan: Served, compiled: Path,
                     preopens: list[tuple[str, str, bool]],
                     listener: socket.socket) -> tuple[subprocess.Popen[str], Callable[[], None]]:
    from wasmforge.runtime.serve import sandbox

    inside = sandbox.mount_points(preopens)
    box = sandbox.sandbox(binary, work, compiled.parent, preopens, plan.grants.network,
                          listener.fileno())
    # The plan the sandboxed host reads names paths as it sees them.
    _write_plan(work, plan, f"{sandbox.WORK_INSIDE}/component.wasm",
                f"{sandbox.COMPILED_INSIDE}/{compiled.name}", listener.fileno(), inside)
    try:
        proc = subprocess.Popen(box.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, pass_fds=tuple(box.pass_fds),
                                start_new_session=True)
    finally:
        box.close_passed()
    connector = box.connector
    return proc, (connector.close if connector is not None else lambda: None)


def supervise(proc: subprocess.Popen[str], tier: str, notice: Notice) -> int:
    """Relay the host's events until it exits; SIGINT/SIGTERM ask it to drain. (The host
    writes each request's line on stderr itself.)"""
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def drain(_signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            stdin.close()

    previous = {signum: signal.signal(signum, drain)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    ready = False
    drained: bool | None = None
    failure = ""
    try:
        for line in proc.stdout:
            event = _event(line)
            if "ready" in event:
                ready = True
                notice(f"serving http://{event['ready']}/ (isolation: {tier}, a fresh "
                       "instance per request); stop with Ctrl-C")
            elif "drained" in event:
                drained = bool(event["drained"])
            elif "error" in event:
                failure = str(event["error"])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        code = proc.wait()
    if failure or not ready:
        raise RuntimeFailure(f"the serving host stopped: {failure or f'exit status {code}'}")
    notice("stopped: every request in flight finished" if drained else
           "stopped: requests still running at their time limit were cut off")
    return 0 if code == 0 else 1


def _event(line: str) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}

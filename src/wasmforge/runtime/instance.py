"""Running one component in this process with wasmtime: the core of the `wasm` tier and of
the `process` tier's workers.

The linker offers WASIp2 only (wasmtime-py cannot leave interfaces of it out, so clocks and
random are removed at build time by the deny stubs of toolchain/capcheck, and
`policy.check_imports` refuses a component that still imports an ungranted one); any other
import (wasi:http and the like) is defined as a trap, except host tools
(`hyperlight:sandbox/tools`), whose calls go to the run's dispatch (runtime/host_tools.py).
Sockets are linked but wasmtime's WASI denies every address and name lookup unless
`inherit_network` is called, and wasi:http is not linked: wasmtime-py offers no per-host
filter, so in-process (tier wasm) outbound network stays denied. Only a process-tier
worker, whose network namespace reaches nothing but the allow-list (runtime/network.py),
grants the host's network and wasi:http. Even there wasi:sockets opens no TCP or UDP
socket: since wasmtime 48 creating one needs the WASI context's allow_tcp/allow_udp, which
wasmtime-py 50's C API does not expose (`wasi_config_inherit_network` sets only the address
check), so a guest's socket() fails with EACCES and outbound network reaches guests through
wasi:http alone (JavaScript's fetch). Name lookup does work where granted.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi  # network grants have no Python wrapper in wasmtime-py 50
from wasmtime.component import Component, ExportIndex, Linker, Variant

from wasmforge.errors import CapabilityError
from wasmforge.runtime.backend import Grants, Invocation, RunOutcome
from wasmforge.runtime.engine import EngineBundle, deadline_ticks, get_engine, load_component
from wasmforge.runtime.host_tools import TOOLS_INTERFACE, Dispatch, dispatcher
from wasmforge.runtime.policy import check_imports

_MAX_PREPARED = 64
# The interfaces Linker.add_wasip2 and add_wasi_http define (at 0.2.12 in wasmtime-py 50).
_WASIP2 = frozenset(
    [f"wasi:cli/{name}" for name in ("environment", "exit", "stdin", "stdout", "stderr",
                                     "terminal-input", "terminal-output", "terminal-stdin",
                                     "terminal-stdout", "terminal-stderr")]
    + ["wasi:clocks/wall-clock", "wasi:clocks/monotonic-clock", "wasi:filesystem/types",
       "wasi:filesystem/preopens", "wasi:io/error", "wasi:io/poll", "wasi:io/streams",
       "wasi:random/random", "wasi:random/insecure", "wasi:random/insecure-seed"]
    + [f"wasi:sockets/{name}" for name in ("network", "instance-network", "tcp",
                                           "tcp-create-socket", "udp", "udp-create-socket",
                                           "ip-name-lookup")])
_WASI_HTTP = frozenset({"wasi:http/types", "wasi:http/outgoing-handler"})


@dataclass
class _Prepared:
    """Per component and engine: its linker, the index of `run`, its imports."""

    linker: Linker
    run_index: ExportIndex | None
    imports: tuple[str, ...]
    checked: dict[tuple[bool, bool], str] = field(default_factory=dict)  # grants -> refusal


_prepared: dict[tuple[str, bool, bool], _Prepared] = {}
_TRAP_RE = re.compile(r"wasm trap: (.+)")


def prepare(invocation: Invocation,
            http: bool = False) -> tuple[EngineBundle, Component, _Prepared]:
    """Engine, compiled component, linker and export index for an invocation (all cached)."""
    bundle = get_engine(fuel=invocation.limits.fuel is not None)
    component = load_component(bundle, invocation.digest, invocation.component,
                               invocation.precompiled)
    key = (invocation.digest, bundle.fuel, http)
    prepared = _prepared.get(key)
    if prepared is None:
        linker = Linker(bundle.engine)
        linker.add_wasip2()
        if http:
            linker.add_wasi_http()
        imports = tuple(component.type.imports(bundle.engine))
        for name in imports:
            if name.split("@")[0] == TOOLS_INTERFACE:
                with linker.root() as root, root.add_instance(name) as tools:
                    tools.add_func("dispatch", _host_dispatch)
        if not all(_linked(name, http) for name in imports):
            linker.define_unknown_imports_as_traps(component)
        prepared = _Prepared(linker, _run_index(component, bundle.engine), imports)
        if len(_prepared) >= _MAX_PREPARED:
            _prepared.clear()
        _prepared[key] = prepared
    return bundle, component, prepared


def _linked(name: str, http: bool) -> bool:
    """Whether the linker defines this import. Only when one is missing are the missing ones
    defined as traps: wasmtime's define_unknown_imports_as_traps also shadows an import that
    the linker satisfies by semver matching (componentize-js's wasi:http@0.2.10 against
    wasmtime's 0.2.12) with traps of its exact name."""
    interface, _, version = name.partition("@")
    if interface == TOOLS_INTERFACE:
        return True
    return version.startswith("0.2.") and (
        interface in _WASIP2 or (http and interface in _WASI_HTTP))


class _Current(threading.local):
    dispatch: Dispatch | None = None


_current = _Current()  # the running guest's tool dispatch (linkers are shared across runs)


def _host_dispatch(_store: Any, name: str, args_json: str) -> Variant:
    dispatch = _current.dispatch
    ok, text = dispatch(name, args_json) if dispatch else (False, "no tools in this run")
    return Variant("ok" if ok else "err", text)


def forget_linkers() -> None:
    _prepared.clear()


def _run_index(component: Component, engine: wasmtime.Engine) -> ExportIndex | None:
    for name in component.type.exports(engine):
        if name.startswith("wasi:cli/run@"):
            return component.get_export_index("run", component.get_export_index(name))
    return None


def _refusal(prepared: _Prepared, grants: Grants) -> str:
    """Why this component may not run with these grants ("" when it may), memoised."""
    key = (grants.clocks, grants.random)
    found = prepared.checked.get(key)
    if found is None:
        try:
            check_imports(prepared.imports, grants)
            found = ""
        except CapabilityError as err:
            found = str(err).rstrip(".")
        prepared.checked[key] = found
    return found


def execute(invocation: Invocation, *, network_confined: bool = False,
            dispatch: Dispatch | None = None) -> RunOutcome:
    """Run to completion; every guest failure becomes a RunOutcome, never an exception.

    `network_confined` says the caller's network is already limited to the allow-list (a
    process-tier sandbox); only then are the host's sockets, name lookup and wasi:http
    handed to a guest whose grants list network endpoints. Tool calls go to `dispatch`,
    by default the invocation's own tools behind the manifest's declared names.
    """
    started = time.perf_counter()
    network = network_confined and bool(invocation.grants.network)
    try:
        bundle, component, prepared = prepare(invocation, http=network)
    except wasmtime.WasmtimeError as err:
        return RunOutcome(1, "internal", f"wasmtime cannot load the component: "
                          f"{_first_line(str(err))}", elapsed_s=time.perf_counter() - started)
    refusal = _refusal(prepared, invocation.grants)
    if refusal:
        return RunOutcome(1, "denied", refusal)
    if prepared.run_index is None:
        return RunOutcome(1, "denied", "the component exports no wasi:cli/run interface, "
                          "so it is not a command; build it with world = \"command\"")
    store = wasmtime.Store(bundle.engine)
    limits = invocation.limits
    store.set_limits(memory_size=limits.memory_bytes)
    store.set_epoch_deadline(deadline_ticks(limits.timeout_s))
    if limits.fuel is not None:
        store.set_fuel(limits.fuel)
    wasi = _wasi_config(invocation)
    if network:
        ffi.wasi_config_inherit_network(wasi.ptr())
        ffi.wasi_config_allow_ip_name_lookup(wasi.ptr(), True)
    store.set_wasi(wasi)
    if network:
        store.set_wasi_http()
    _current.dispatch = dispatch or dispatcher(invocation.grants.tools, invocation.tools)
    try:
        instance = prepared.linker.instantiate(store, component)
        func = instance.get_func(store, prepared.run_index)
        assert func is not None
        result = func(store)
        code = 0 if getattr(result, "tag", "ok") == "ok" else 1
        outcome = RunOutcome(code, None if code == 0 else "exit",
                             "" if code == 0 else "the guest returned failure")
    except wasmtime.ExitTrap as exit_trap:
        code = exit_trap.code
        outcome = RunOutcome(code, None if code == 0 else "exit",
                             "" if code == 0 else f"the guest exited with status {code}")
    except wasmtime.WasmtimeError as err:
        outcome = _network_hint(
            classify(str(err), limits.timeout_s, limits.memory_bytes, limits.fuel),
            bool(invocation.grants.network))
    finally:
        store = None  # free the instance's memory before returning
        _current.dispatch = None
    return RunOutcome(outcome.exit_code, outcome.failure, outcome.message, outcome.backtrace,
                      elapsed_s=time.perf_counter() - started)


def _wasi_config(invocation: Invocation) -> wasmtime.WasiConfig:
    grants = invocation.grants
    wasi = wasmtime.WasiConfig()
    wasi.argv = [invocation.name, *grants.args]
    wasi.env = [list(pair) for pair in grants.env]
    for preopen in grants.preopens:
        wasi.preopen_dir(preopen.host, preopen.guest, fs_mutable=not preopen.read_only)
    if grants.stdio:
        stdio = invocation.stdio
        if stdio.stdin == 0:
            wasi.inherit_stdin()
        elif stdio.stdin > 0:
            wasi.stdin_file = f"/proc/self/fd/{stdio.stdin}"
        # a negative descriptor discards the stream (wasmtime's default sink)
        if stdio.stdout == 1:
            wasi.inherit_stdout()
        elif stdio.stdout >= 0:
            wasi.stdout_custom = _writer(stdio.stdout)
        if stdio.stderr == 2:
            wasi.inherit_stderr()
        elif stdio.stderr >= 0:
            wasi.stderr_custom = _writer(stdio.stderr)
    return wasi


def _writer(fd: int) -> Callable[[Any], int]:
    def write(data: Any) -> int:
        view = memoryview(bytes(data))
        while view:
            view = view[os.write(fd, view):]
        return len(data)
    return write


def classify(text: str, timeout_s: float, memory_bytes: int, fuel: int | None) -> RunOutcome:
    """Turn wasmtime's error text into a failure kind and one sentence."""
    backtrace = _backtrace(text)
    trap = _TRAP_RE.search(text)
    if trap and trap.group(1).strip() == "interrupt":
        return RunOutcome(1, "timeout", f"the guest ran past its wall-time cap of {timeout_s:g} s "
                          "and was stopped", backtrace)
    if "all fuel consumed" in text:
        return RunOutcome(1, "fuel", f"the guest used up its fuel ({fuel} units) and was "
                          "stopped", backtrace)
    if "exceeds memory limits" in text or "memory limit" in text:
        return RunOutcome(1, "memory", f"the guest needs more memory than its cap of "
                          f"{memory_bytes // (1024 * 1024)} MiB", backtrace)
    if trap:
        return RunOutcome(1, "trap", f"the guest trapped: {trap.group(1).strip()}", backtrace)
    unknown = re.search(r"unknown import: `([^`#]+)#?([^`]*)`", text)
    if unknown:
        function = f" ({unknown.group(2)})" if unknown.group(2) else ""
        return RunOutcome(1, "denied", f"the guest called {unknown.group(1)}{function}, which "
                          "this run does not grant", backtrace)
    return RunOutcome(1, "internal", f"wasmtime stopped the guest: {_last_line(text)}",
                      backtrace)


def _network_hint(outcome: RunOutcome, granted: bool) -> RunOutcome:
    """Say which grant a denied wasi:http call lacks (it is linked only where a process-tier
    sandbox confines the network to the allow-list)."""
    if outcome.failure != "denied" or "called wasi:http/" not in outcome.message:
        return outcome
    hint = ("; [capabilities] network reaches a guest only in the process tier "
            "(--isolation process)" if granted else
            "; add the endpoint to [capabilities] network in wasmforge.toml")
    return replace(outcome, message=outcome.message + hint)


def _backtrace(text: str) -> str:
    frames = [line.strip() for line in text.splitlines() if re.match(r"\s*\d+:\s+0x", line)]
    return "\n".join(frames)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"

"""The `hypervisor` tier: each image's executor in its own Hyperlight micro-VM.

The image carries (build --hyperlight) the executor composed with the component and its
AOT code for the backend's guest wasmtime. `run` hands that AOT layer to this backend in
`Invocation.precompiled` (see `with_hyperlight_code`; its annotations carry
`org.wasmforge.hyperlight.wasmtime`).

Per image (and mounts, memory cap, tools) a worker process holds one WasmSandbox: sized by
`vm_memory` from the manifest's memory cap, its ro/rw mounts as the backend's /input and
/output dirs, loaded with an empty request and snapshotted; every call restores that
snapshot first, so each call starts clean. The call runs in the worker, so a timeout ends
it by killing the worker (and its VM). The guest's stdout, stderr and exit status come back
through files the executor writes in /output (see guest/executor).

Outbound HTTP: the manifest's network allow-list goes to the backend's `allow_domain`
(hyperlight-sandbox denies every other host). Fuel is not offered by this tier.

Host functions ("tools"): only names the manifest declares are registered; the backend's
`hyperlight:sandbox/tools.dispatch` refuses any other name, as `runtime.tools.dispatcher`
does in the other tiers. Implementations: see runtime/host_tools.py.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wasmforge.errors import RuntimeFailure
from wasmforge.guest import hyperlight as guest
from wasmforge.guest.executor import (
    BAD_REQUEST_EXIT,
    EXIT_FILE,
    STDERR_FILE,
    STDOUT_FILE,
    request_json,
)
from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, LoadedImage
from wasmforge.runtime.backend import Backend, FailureKind, Invocation, RunOutcome, TierStatus
from wasmforge.runtime.host_tools import dispatcher

WASMTIME_ANNOTATION = "org.wasmforge.hyperlight.wasmtime"


def with_hyperlight_code(image: LoadedImage, invocation: Invocation) -> Invocation:
    """The invocation for this tier: the image's Hyperlight AOT code as `precompiled`.

    AOT code is native code mapped into the VM, so, as for the wasm tier's precompiled
    layer, only a signed image's code is used: an unsigned image's is refused here.
    """
    layer = image.layer(HYPERLIGHT_AOT_MEDIA_TYPE)
    if layer is None:
        return replace(invocation, precompiled=None)
    if not image.signers:
        raise RuntimeFailure(UNSIGNED_CODE, fix="sign the image (`wasmforge sign`) and run it "
                             "with --trust, or pick another tier with --isolation")
    return replace(invocation, precompiled=(layer.data, dict(layer.annotations)))


UNSIGNED_CODE = ("the image's Hyperlight code is native code, which runs only from a signed "
                 "image, and this image is unsigned")


def unfit(image: LoadedImage, invocation: Invocation) -> str:
    """Why this tier cannot run this image as asked ("" when it can); for `--isolation auto`,
    which then takes the next tier instead of failing here."""
    layer = image.layer(HYPERLIGHT_AOT_MEDIA_TYPE)
    if layer is None:
        return "the image carries no Hyperlight code"
    if not image.signers:
        return UNSIGNED_CODE
    try:
        check_version(layer.data, layer.annotations)
    except RuntimeFailure as err:
        return str(err)
    return mount_refusal(invocation)


# ---- the executor under in-process wasmtime (tests, and images on hosts without VMs) ----

@dataclass(frozen=True)
class ExecutionResult:
    stdout: str
    stderr: str
    exit_code: int


def run_executor_in_wasmtime(component: bytes, request: str,
                             dispatch: Callable[[str, str], tuple[bool, str]],
                             output_dir: Path) -> ExecutionResult:
    """Call `hyperlight:sandbox/executor.run(request)` of a composed executor under
    wasmtime-py, with WASI from wasmtime (`output_dir` preopened at /output, as the backend
    does) and tools.dispatch from `dispatch`. The guest's stdout/stderr are collected."""
    import wasmtime
    from wasmtime.component import Component, Linker, Variant

    engine = wasmtime.Engine()
    linker = Linker(engine)
    linker.add_wasip2()

    def host_dispatch(_store: Any, name: str, args_json: str) -> Any:
        ok, text = dispatch(name, args_json)
        return Variant("ok", text) if ok else Variant("err", text)

    with linker.root() as root, root.add_instance("hyperlight:sandbox/tools") as tools:
        tools.add_func("dispatch", host_dispatch)
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.preopen_dir(str(output_dir), GUEST_OUTPUT)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, Component(engine, component))
    index = instance.get_export_index(store, "hyperlight:sandbox/executor")
    run = instance.get_func(store, instance.get_export_index(store, "run", index))
    assert run is not None
    try:
        result = run(store, request)
        code, out, err = getattr(result, "exit-code"), result.stdout, result.stderr
    except wasmtime.WasmtimeError:
        status = take_exit_status(output_dir)
        if status is None:
            raise
        code, out, err = status, "", ""  # the guest called exit(), which traps by design
    captured_out, captured_err = take_captured(output_dir)
    return ExecutionResult(captured_out + out, captured_err + err, code)


def take_exit_status(output_dir: Path) -> int | None:
    """The status the guest passed to exit() (recorded by the executor), or None."""
    path = output_dir / EXIT_FILE
    try:
        text = path.read_text().strip()
        path.unlink()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def take_captured(output_dir: Path) -> tuple[str, str]:
    """The guest's stdout and stderr as the executor left them in the output dir (removed)."""
    texts = []
    for name in (STDOUT_FILE, STDERR_FILE):
        path = output_dir / name
        try:
            texts.append(path.read_bytes().decode("utf-8", "replace"))
            path.unlink()
        except FileNotFoundError:
            texts.append("")
    return texts[0], texts[1]


# ---- the backend ------------------------------------------------------------------------

def _probe() -> TierStatus:
    from wasmforge.runtime.probe import probe_hypervisor

    status = probe_hypervisor()
    return TierStatus(status.usable, status.detail)


class HypervisorBackend(Backend):
    name = "hypervisor"

    def __init__(self) -> None:
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()

    def available(self) -> TierStatus:
        return _probe()

    def unfit(self, image: LoadedImage, invocation: Invocation) -> str:
        return unfit(image, invocation)

    def prepare(self, image: LoadedImage, invocation: Invocation) -> Invocation:
        """The image's Hyperlight code, not its wasmtime layer, runs here."""
        return with_hyperlight_code(image, invocation)

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.close()

    def run(self, invocation: Invocation) -> RunOutcome:
        started = time.perf_counter()
        try:
            aot = self._aot(invocation)
        except RuntimeFailure as err:
            return RunOutcome(1, "internal", str(err).rstrip("."))
        refused = mount_refusal(invocation)
        if refused:
            return RunOutcome(1, "denied", refused)
        key = f"{invocation.digest}:{hash(aot)}:{_sandbox_key(invocation)}"
        with self._lock:
            worker = self._workers.get(key)
            if worker is None or not worker.alive():
                worker = _Worker(invocation, aot)
                self._workers[key] = worker
        request = request_json([invocation.name, *invocation.grants.args],
                               invocation.grants.env)
        reply = worker.call(request, invocation.limits.timeout_s)
        elapsed = time.perf_counter() - started
        if reply is None or reply.get("fatal"):
            with self._lock:
                self._workers.pop(key, None)
            worker.close()
        if reply is None:
            return RunOutcome(1, "timeout", f"the guest ran past its wall-time cap of "
                              f"{invocation.limits.timeout_s:g} s and its VM was stopped",
                              elapsed_s=elapsed)
        _write(invocation.stdio.stdout, reply.get("stdout", ""))
        _write(invocation.stdio.stderr, reply.get("stderr", ""))
        if "error" in reply:
            kind, message = vm_failure(reply["error"], invocation.limits.memory_bytes)
            return RunOutcome(1, kind, message, elapsed_s=elapsed)
        code = int(reply["exit_code"])
        if code == BAD_REQUEST_EXIT:
            return RunOutcome(code, "internal", f"the executor refused the request: "
                              f"{reply['stderr'].strip()}", elapsed_s=elapsed)
        return RunOutcome(code, None if code == 0 else "exit",
                          "" if code == 0 else f"the guest exited with status {code}",
                          elapsed_s=elapsed)

    @staticmethod
    def _aot(invocation: Invocation) -> bytes:
        if invocation.precompiled is None or WASMTIME_ANNOTATION not in invocation.precompiled[1]:
            raise RuntimeFailure("the image carries no Hyperlight code",
                                 fix="build it with `wasmforge build --hyperlight` and sign it")
        data, annotations = invocation.precompiled
        return check_version(data, annotations)


# hyperlight-sandbox's capability filesystem: one read-only dir at /input, one writable
# dir at /output (emptied at the start of every run).
GUEST_INPUT, GUEST_OUTPUT = "/input", "/output"


def mount_refusal(invocation: Invocation) -> str:
    """Why these mounts cannot be given to a Hyperlight VM, or "" when they can."""
    preopens = invocation.grants.preopens
    ro = [p for p in preopens if p.read_only]
    rw = [p for p in preopens if not p.read_only]
    if len(ro) > 1 or len(rw) > 1:
        return ("the hypervisor tier offers one read-only and one read-write mount, and this "
                f"run asks for {len(ro)} read-only and {len(rw)} read-write")
    for group, where, kind in ((ro, GUEST_INPUT, "read-only"), (rw, GUEST_OUTPUT, "read-write")):
        if group and group[0].guest.rstrip("/") != where:
            return (f"the hypervisor tier mounts a {kind} directory at {where}, and this image "
                    f"wants it at {group[0].guest}")
    if rw and any(Path(rw[0].host).iterdir()):
        return (f"the hypervisor tier empties its /output directory before every call, so it "
                f"will not mount {rw[0].host}, which has files in it; mount an empty directory")
    return ""


def vm_failure(text: str, memory_bytes: int) -> tuple[FailureKind, str]:
    """A failed call's kind and one sentence, from hyperlight's error text."""
    if "Out of physical memory" in text:
        heap, _ = vm_memory(memory_bytes)
        return "memory", (f"the guest ran out of memory: its VM's heap of {heap} MiB (the "
                          f"cap of {memory_bytes / (1 << 20):g} MiB and the guest runtime's "
                          f"{HEAP_OVERHEAD_MIB} MiB) is full")
    aborted = re.search(r"Guest aborted: \d+ ([^\n]*)", text)
    if aborted:
        # A wasm trap ends the guest runtime's call with a CPU exception in the VM.
        return "trap", f"the guest trapped in its Hyperlight VM ({aborted.group(1).strip()})"
    return "trap", f"the Hyperlight VM failed: {hypervisor_error(text)}"


def hypervisor_error(text: str) -> str:
    """The innermost message of hyperlight's repeated error chain, on one line."""
    from wasmforge.runtime.probe import innermost_error

    return innermost_error(text)


def check_version(data: bytes, annotations: Mapping[str, str]) -> bytes:
    """Refuse AOT code the installed guest would not load, before any VM is created."""
    backend = guest.backend_guest()
    if backend is None:
        raise RuntimeFailure("the Hyperlight backend package is missing",
                             fix="pip install 'wasmforge[hyperlight]'")
    engine = guest.aot_engine(data)
    made_by = engine.wasmtime if engine else annotations.get(WASMTIME_ANNOTATION, "unknown")
    if engine is None or engine.wasmtime != backend.wasmtime or engine.target != guest.AOT_TARGET:
        raise RuntimeFailure(f"the image's Hyperlight code was precompiled by wasmtime "
                             f"{made_by}, but the installed {guest.BACKEND_PACKAGE} "
                             f"{backend.package_version} runs wasmtime {backend.wasmtime}",
                             fix="rebuild the image with `wasmforge build --hyperlight` "
                                 "against this backend")
    return data


# The guest's wasmtime, the loaded code and the wasm linear memory share the VM's heap.
HEAP_OVERHEAD_MIB = 16


def vm_memory(memory_bytes: int, code_bytes: int = 0) -> tuple[int, int]:
    """(heap, stack) MiB for a WasmSandbox whose guest may use `memory_bytes` and whose AOT
    code is `code_bytes` long.

    In hyperlight-sandbox-backend-wasm 0.8.0 `stack_size` sizes the VM's scratch region,
    which holds the pages the guest writes, among them the loaded code's: a module it
    cannot hold fails to load with "Out of physical memory". Measured in a nested KVM
    (tests/support/nested_kvm.py) with an 80 MiB heap: a componentize-py hello (39 MiB of code)
    loads with 76 MiB and not 70, a componentize-js one (46 MiB) with 70; a C hello with
    68. The backend refuses a value below min(heap + 64 KiB, about 66.8 MiB) and defaults
    to 35 MiB. So: the heap, the code and HEAP_OVERHEAD_MIB of headroom.
    """
    heap = max(1, -(-memory_bytes // (1 << 20))) + HEAP_OVERHEAD_MIB
    code = -(-code_bytes // (1 << 20))
    return heap, max(35, min(heap, 67) + 1, heap + code + HEAP_OVERHEAD_MIB)


def _sandbox_key(invocation: Invocation) -> str:
    """What a sandbox is created with: calls that differ here need their own VM."""
    grants = invocation.grants
    mounts = ";".join(f"{p.host}:{p.guest}:{p.read_only}" for p in grants.preopens)
    return f"{mounts}|{invocation.limits.memory_bytes}|{','.join(grants.tools)}|" \
           f"{id(invocation.tools)}"


def _write(fd: int, text: str) -> None:
    if fd < 0 or not text:
        return
    data = memoryview(text.encode())
    while data:
        data = data[os.write(fd, data):]


_LOAD_GRACE_S = 30.0


class _Worker:
    """A child process holding one loaded, snapshotted sandbox."""

    def __init__(self, invocation: Invocation, aot: bytes) -> None:
        self.lock = threading.Lock()  # one call at a time per VM
        self.loaded = False
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, invocation, aot), daemon=True)
        self.process.start()
        child.close()

    def alive(self) -> bool:
        return self.process.is_alive()

    def call(self, request: str, timeout_s: float) -> dict[str, Any] | None:
        """The reply, or None when the guest ran past `timeout_s` (the VM is then killed).

        The first call first waits (up to _LOAD_GRACE_S) for the VM to be created and
        loaded: the wall-time cap counts the guest's call only."""
        with self.lock:
            try:
                if not self.loaded:
                    if not self.conn.poll(_LOAD_GRACE_S):
                        return {"error": f"the VM was not loaded after {_LOAD_GRACE_S:g} s",
                                "fatal": True}
                    ready: dict[str, Any] = self.conn.recv()
                    if "error" in ready:
                        return ready
                    self.loaded = True
                self.conn.send(request)
                if not self.conn.poll(timeout_s):
                    return None
                reply: dict[str, Any] = self.conn.recv()
            except (EOFError, OSError):
                return {"error": "the VM worker exited", "fatal": True}
            return reply

    def close(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


def _serve(conn: Any, invocation: Invocation, aot: bytes) -> None:
    """Create and load the VM, say so, then serve calls: each from the snapshot.

    A failed call (a trap, memory exhausted) is replied and the VM kept, since the next
    call restores it; failing to create, load or restore the VM ends the worker."""
    try:
        from hyperlight_sandbox_backend_wasm import WasmSandbox

        with tempfile.TemporaryDirectory(prefix="wasmforge-hl-") as tmp:
            module = Path(tmp) / "executor.aot"
            module.write_bytes(aot)
            heap_mib, stack_mib = vm_memory(invocation.limits.memory_bytes, len(aot))
            kwargs: dict[str, Any] = {"heap_size": f"{heap_mib}Mi",
                                      "stack_size": f"{stack_mib}Mi"}
            # /output always exists: the executor writes the guest's stdout/stderr there.
            output = Path(tmp) / "output"
            output.mkdir()
            for preopen in invocation.grants.preopens:
                if preopen.read_only:
                    kwargs["input_dir"] = preopen.host
                else:
                    output = Path(preopen.host)
            kwargs["output_dir"] = str(output)
            sandbox = WasmSandbox(str(module), **kwargs)
            dispatch = dispatcher(invocation.grants.tools, invocation.tools)
            for name in invocation.grants.tools:
                sandbox.register_tool(name, _tool_callback(name, dispatch))
            for target in invocation.grants.network:  # the backend denies all others
                sandbox.allow_domain(target)
            sandbox.run("")  # create the VM and load the guest
            snapshot = sandbox.snapshot()
            conn.send({"loaded": True})
            while True:
                request = conn.recv()
                sandbox.restore(snapshot)
                conn.send(_call(sandbox, request, output))
    except EOFError:
        return
    except Exception as err:  # reported to the parent as the VM's failure
        with contextlib.suppress(OSError):
            conn.send({"error": str(err), "fatal": True})


def _call(sandbox: Any, request: str, output: Path) -> dict[str, Any]:
    try:
        result = sandbox.run(request)
        code, out, err = result.exit_code, result.stdout, result.stderr
    except RuntimeError as failed:
        status = take_exit_status(output)
        captured_out, captured_err = take_captured(output)
        if status is None:
            return {"error": str(failed), "stdout": captured_out, "stderr": captured_err}
        return {"stdout": captured_out, "stderr": captured_err, "exit_code": status}
    captured_out, captured_err = take_captured(output)
    return {"stdout": captured_out + out, "stderr": captured_err + err, "exit_code": code}


def _tool_callback(name: str, dispatch: Callable[[str, str], tuple[bool, str]]
                   ) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        ok, text = dispatch(name, json.dumps(kwargs))
        if not ok:
            raise RuntimeError(text)
        try:
            return json.loads(text)
        except ValueError:
            return text
    return call


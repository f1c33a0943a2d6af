"""A Hyperlight VM in a worker process: one loaded, snapshotted WasmSandbox per worker.

The hypervisor tier (runtime/hypervisor.py) keeps one `VmWorker` per image and sandbox
shape. The worker creates the VM, loads the executor's AOT code, snapshots it and then
serves calls, each from that snapshot; a call past its wall-time cap is ended by killing
the worker (and its VM). The guest's stdout, stderr and exit status come back through
files the executor writes in the VM's /output dir (see guest/executor).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.guest.executor import EXIT_FILE, STDERR_FILE, STDOUT_FILE
from wasmforge.runtime.backend import Invocation
from wasmforge.runtime.host_tools import dispatcher


@dataclass(frozen=True)
class VmReply:
    """What the worker answers: a call's output and exit code, or its failure.

    `error` set: the call failed (hyperlight's text); `fatal`: the VM is gone too. With
    neither and no exit code, the VM was loaded and waits for calls."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    error: str = ""
    fatal: bool = False


# hyperlight-sandbox's capability filesystem: one read-only dir at /input, one writable
# dir at /output (emptied at the start of every run).
GUEST_INPUT, GUEST_OUTPUT = "/input", "/output"


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


_LOAD_GRACE_S = 30.0


class VmWorker:
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

    def call(self, request: str, timeout_s: float) -> VmReply | None:
        """The reply, or None when the guest ran past `timeout_s` (the VM is then killed).

        The first call first waits (up to _LOAD_GRACE_S) for the VM to be created and
        loaded: the wall-time cap counts the guest's call only."""
        with self.lock:
            try:
                if not self.loaded:
                    if not self.conn.poll(_LOAD_GRACE_S):
                        return VmReply(error=f"the VM was not loaded after {_LOAD_GRACE_S:g} s",
                                       fatal=True)
                    ready: VmReply = self.conn.recv()
                    if ready.error:
                        return ready
                    self.loaded = True
                self.conn.send(request)
                if not self.conn.poll(timeout_s):
                    return None
                reply: VmReply = self.conn.recv()
            except (EOFError, OSError):
                return VmReply(error="the VM worker exited", fatal=True)
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
            conn.send(VmReply())  # loaded
            while True:
                request = conn.recv()
                sandbox.restore(snapshot)
                conn.send(_call(sandbox, request, output))
    except EOFError:
        return
    except Exception as err:  # reported to the parent as the VM's failure
        with contextlib.suppress(OSError):
            conn.send(VmReply(error=str(err), fatal=True))


def _call(sandbox: Any, request: str, output: Path) -> VmReply:
    try:
        result = sandbox.run(request)
        code, out, err = result.exit_code, result.stdout, result.stderr
    except RuntimeError as failed:
        status = take_exit_status(output)
        captured_out, captured_err = take_captured(output)
        if status is None:
            return VmReply(captured_out, captured_err, error=str(failed))
        return VmReply(captured_out, captured_err, status)
    captured_out, captured_err = take_captured(output)
    return VmReply(captured_out + out, captured_err + err, code)


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


"""The `hypervisor` tier: each image's executor in its own Hyperlight micro-VM.

The image carries (build --hyperlight) the executor composed with the component and its
AOT code for the backend's guest wasmtime. `run` hands that AOT layer to this backend in
`Invocation.precompiled` (see `with_hyperlight_code`; its annotations carry
`org.wasmforge.hyperlight.wasmtime`).

Per image (and mounts, memory cap, tools) a worker process holds one WasmSandbox: sized by
`vm_memory` from the manifest's memory cap, its ro/rw mounts as the backend's /input and
/output dirs, loaded with an empty request and snapshotted; every call restores that
snapshot first, so each call starts clean. The call runs in the worker, so a timeout ends
it by killing the worker (and its VM): see runtime/hyperlight_vm.py.

Outbound HTTP: the manifest's network allow-list goes to the backend's `allow_domain`
(hyperlight-sandbox denies every other host). Fuel is not offered by this tier.

Host functions ("tools"): only names the manifest declares are registered; the backend's
`hyperlight:sandbox/tools.dispatch` refuses any other name, as `runtime.host_tools.dispatcher`
does in the other tiers. Implementations: see runtime/host_tools.py.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from wasmforge.errors import RuntimeFailure
from wasmforge.guest import hyperlight as guest
from wasmforge.guest.executor import BAD_REQUEST_EXIT, request_json
from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, LoadedImage
from wasmforge.runtime import hyperlight_vm as vm
from wasmforge.runtime.backend import Backend, FailureKind, Invocation, RunOutcome, TierStatus

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
    return replace(invocation, precompiled=layer)


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


# ---- the backend ------------------------------------------------------------------------

def _probe() -> TierStatus:
    from wasmforge.runtime.probe import probe_hypervisor

    status = probe_hypervisor()
    return TierStatus(status.usable, status.detail)


class HypervisorBackend(Backend):
    name = "hypervisor"

    def __init__(self) -> None:
        self._workers: dict[str, vm.VmWorker] = {}
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
                worker = vm.VmWorker(invocation, aot)
                self._workers[key] = worker
        request = request_json([invocation.name, *invocation.grants.args],
                               invocation.grants.env)
        reply = worker.call(request, invocation.limits.timeout_s)
        elapsed = time.perf_counter() - started
        if reply is None or reply.fatal:
            with self._lock:
                self._workers.pop(key, None)
            worker.close()
        if reply is None:
            return RunOutcome(1, "timeout", f"the guest ran past its wall-time cap of "
                              f"{invocation.limits.timeout_s:g} s and its VM was stopped",
                              elapsed_s=elapsed)
        _write(invocation.stdio.stdout, reply.stdout)
        _write(invocation.stdio.stderr, reply.stderr)
        if reply.error or reply.exit_code is None:
            kind, message = vm_failure(reply.error, invocation.limits.memory_bytes)
            return RunOutcome(1, kind, message, elapsed_s=elapsed)
        code = reply.exit_code
        if code == BAD_REQUEST_EXIT:
            return RunOutcome(code, "internal", f"the executor refused the request: "
                              f"{reply.stderr.strip()}", elapsed_s=elapsed)
        return RunOutcome(code, None if code == 0 else "exit",
                          "" if code == 0 else f"the guest exited with status {code}",
                          elapsed_s=elapsed)

    @staticmethod
    def _aot(invocation: Invocation) -> bytes:
        code = invocation.precompiled
        if code is None or WASMTIME_ANNOTATION not in code.annotations:
            raise RuntimeFailure("the image carries no Hyperlight code",
                                 fix="build it with `wasmforge build --hyperlight` and sign it")
        return check_version(code.data, code.annotations)


def mount_refusal(invocation: Invocation) -> str:
    """Why these mounts cannot be given to a Hyperlight VM, or "" when they can."""
    preopens = invocation.grants.preopens
    ro = [p for p in preopens if p.read_only]
    rw = [p for p in preopens if not p.read_only]
    if len(ro) > 1 or len(rw) > 1:
        return ("the hypervisor tier offers one read-only and one read-write mount, and this "
                f"run asks for {len(ro)} read-only and {len(rw)} read-write")
    for group, where, kind in ((ro, vm.GUEST_INPUT, "read-only"),
                               (rw, vm.GUEST_OUTPUT, "read-write")):
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
        heap, _ = vm.vm_memory(memory_bytes)
        return "memory", (f"the guest ran out of memory: its VM's heap of {heap} MiB (the "
                          f"cap of {memory_bytes / (1 << 20):g} MiB and the guest runtime's "
                          f"{vm.HEAP_OVERHEAD_MIB} MiB) is full")
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



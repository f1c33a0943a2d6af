"""`wasmforge run`: verify -> policy -> backend."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE, LoadedImage
from wasmforge.isolation import Requested
from wasmforge.runtime import policy, tiers
from wasmforge.runtime.backend import Invocation, RunOutcome, Stdio

Notice = Callable[[str], None]
_WATCHDOG_GRACE_S = 1.0
_WATCHDOG_CONFIRM_S = 0.5


@dataclass(frozen=True)
class RunRequest:
    """A `wasmforge run` command line."""

    image: str  # an .oci.tar path or a registry reference
    args: tuple[str, ...] = ()
    trust: tuple[Path, ...] = ()
    isolation: Requested = "auto"
    mounts: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout_s: float | None = None
    memory: str | None = None
    fuel: int | None = None
    allow_unsigned: bool = False
    verbose: bool = False
    tools: tuple[str, ...] = ()  # host function implementations: NAME=module:function


def run_image(request: RunRequest, notice: Notice) -> int:
    """Run an image as `wasmforge run` does; returns the exit code.

    One run per process: in a tier whose wall-time cap does not bound host calls (wasm), a
    guest still blocked in a host call past its cap ends the whole process (see _Watchdog).
    """
    image = load(request, notice)
    invocation = invocation_for(image, request, notice)
    backend = tiers.choose(request.isolation, image.capabilities.isolation, notice,
                           tiers.unfit_for(image, invocation))
    invocation = backend.prepare(image, invocation)
    backend.prestart(invocation)
    for line in backend.notices(invocation):
        notice(line)
    watchdog = None
    if not backend.bounds_host_calls:
        watchdog = _Watchdog(invocation.limits.timeout_s, notice)
    try:
        outcome = backend.run(invocation)
    finally:
        if watchdog is not None:
            watchdog.cancel()
    report(outcome, request.verbose, notice)
    return outcome.exit_code


class _Watchdog:
    """The wasm tier's wall-time cap covers wasm code only (epoch interruption); a guest
    blocked in a host call (a sleep, a read of stdin) is beyond its reach. `run_image`
    serves one run per process, so past the cap plus a grace second it ends the process,
    after making sure the guest really is outside wasm code: it brings the epoch up to real
    time and gives a guest running wasm the moment it needs to stop on its own."""

    def __init__(self, timeout_s: float, notice: Notice) -> None:
        self.timeout_s, self.notice = timeout_s, notice
        self.finished = threading.Event()
        self.timer = threading.Timer(timeout_s + _WATCHDOG_GRACE_S, self.expire)
        self.timer.daemon = True
        self.timer.start()

    def expire(self) -> None:
        from wasmforge.runtime.engine import catch_up_all

        catch_up_all()
        if self.finished.wait(_WATCHDOG_CONFIRM_S):
            return  # it was in wasm code, and the epoch stopped it; the run reports that
        self.notice(f"error: the guest ran past its wall-time cap of {self.timeout_s:g} s "
                    "while waiting in a host call, and wasmforge stopped it.")
        sys.stderr.flush()
        os._exit(1)

    def cancel(self) -> None:
        self.finished.set()
        self.timer.cancel()


def load(request: RunRequest, notice: Notice) -> LoadedImage:
    from wasmforge.image.reader import load_image

    if request.allow_unsigned:
        notice("warning: --insecure-allow-unsigned: running without checking who signed this "
               "image; its digests are still checked, but it may come from anyone")
    path = Path(request.image)
    if path.exists() or request.image.endswith(".tar") or "/" not in request.image:
        return load_image(path, trust=request.trust, allow_unsigned=request.allow_unsigned)
    import tempfile  # only a pull needs it

    from wasmforge.image.registry import pull_image

    with tempfile.TemporaryDirectory(prefix="wasmforge-pull-") as tmp:
        pulled = pull_image(request.image, Path(tmp) / "image.oci.tar")
        return load_image(pulled, trust=request.trust, allow_unsigned=request.allow_unsigned)


def invocation_for(image: LoadedImage, request: RunRequest, notice: Notice) -> Invocation:
    caps = image.capabilities
    flags = policy.OperatorFlags(args=request.args, env=request.env, mounts=request.mounts,
                                 timeout_s=request.timeout_s, memory=request.memory,
                                 fuel=request.fuel)
    grants, limits = policy.resolve(caps, flags)
    # Precompiled code is native code: only a signature makes it safe to map and run.
    precompiled = image.layer(PRECOMPILED_MEDIA_TYPE) if image.signers else None
    tools = {}
    if request.tools:
        from wasmforge.runtime.host_tools import load_tools

        tools = load_tools(request.tools, caps.tools)
    return Invocation(
        name=image.name, component=image.component, digest=component_digest(image.component),
        grants=grants, limits=limits, stdio=Stdio(), precompiled=precompiled,
        tools=dict(tools), verbose=request.verbose, imports=tuple(image.wit.imports),
    )


def component_digest(component: bytes) -> str:
    return "sha256:" + hashlib.sha256(component).hexdigest()


def report(outcome: RunOutcome, verbose: bool, notice: Notice) -> None:
    if outcome.failure is None or outcome.failure == "exit" and not verbose:
        return
    notice(f"error: {outcome.message.rstrip('.')}.")
    if verbose and outcome.backtrace:
        notice("wasm backtrace:\n" + "\n".join(f"  {line}"
                                               for line in outcome.backtrace.splitlines()))

"""`wasmforge run`: verify -> policy -> backend."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wasmforge.errors import ImageError
from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE, LoadedImage
from wasmforge.project import Capabilities
from wasmforge.runtime import policy, tiers
from wasmforge.runtime.backend import Invocation, RunOutcome, Stdio

Notice = Callable[[str], None]
_WATCHDOG_GRACE_S = 1.0


@dataclass(frozen=True)
class RunRequest:
    image: str  # an .oci.tar path or a registry reference
    args: tuple[str, ...] = ()
    trust: tuple[Path, ...] = ()
    isolation: str = "auto"
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

    One run per process: in the wasm tier a guest still blocked in a host call past its
    wall-time cap ends the whole process (see _watchdog).
    """
    image = load(request, notice)
    invocation = invocation_for(image, request, notice)
    backend = tiers.choose(request.isolation, _caps(image).isolation, notice,
                           lambda tier: unfit(image, invocation, tier))
    prestart = getattr(backend, "prestart", None)  # a backend whose sandbox starts slowly
    if prestart is not None:
        prestart(invocation)
    network_notices(invocation.grants.network, backend.name, notice)
    watchdog = None
    if backend.name == "wasm":
        _compile_first(invocation)
        watchdog = _watchdog(invocation.limits.timeout_s, notice)
    try:
        outcome = backend.run(for_tier(image, invocation, backend.name))
    finally:
        if watchdog is not None:
            watchdog.cancel()
    report(outcome, request.verbose, notice)
    return outcome.exit_code


def _compile_first(invocation: Invocation) -> None:
    """Load (or, the first time, compile) the component before the wall clock starts."""
    import wasmtime

    from wasmforge.runtime.executor import prepare

    with contextlib.suppress(wasmtime.WasmtimeError):  # the run reports it
        prepare(invocation)


def _watchdog(timeout_s: float, notice: Notice) -> threading.Timer:
    """The wasm tier's wall-time cap covers wasm code only (epoch interruption); a guest
    blocked in a host call (a sleep, a read of stdin) is beyond its reach. `run_image`
    serves one run per process, so past the cap plus a grace second it ends the process."""
    def expire() -> None:
        notice(f"error: the guest ran past its wall-time cap of {timeout_s:g} s while waiting "
               "in a host call, and wasmforge stopped it.")
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(timeout_s + _WATCHDOG_GRACE_S, expire)
    timer.daemon = True
    timer.start()
    return timer


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
    caps = _caps(image)
    flags = policy.OperatorFlags(args=request.args, env=request.env, mounts=request.mounts,
                                 timeout_s=request.timeout_s, memory=request.memory,
                                 fuel=request.fuel)
    grants, limits = policy.resolve(caps, flags)
    precompiled = None
    layer = image.layer(PRECOMPILED_MEDIA_TYPE)
    # Precompiled code is native code: only a signature makes it safe to map and run.
    if layer is not None and image.signers:
        precompiled = (layer.data, dict(layer.annotations))
    tools = {}
    if request.tools:
        from wasmforge.runtime.tools import load_tools

        tools = load_tools(request.tools, caps.tools)
    return Invocation(
        name=image.name, component=image.component, digest=component_digest(image.component),
        grants=grants, limits=limits, stdio=Stdio(), precompiled=precompiled,
        tools=dict(tools), verbose=request.verbose,
    )


def unfit(image: LoadedImage, invocation: Invocation, tier: str) -> str:
    """Why `tier` cannot run this image as asked, or "" (see tiers.choose)."""
    if tier != "hypervisor":
        return ""
    from wasmforge.runtime.hypervisor import unfit as hyperlight_unfit

    return hyperlight_unfit(image, invocation)


def for_tier(image: LoadedImage, invocation: Invocation, tier: str) -> Invocation:
    """The hypervisor tier runs the image's Hyperlight code, not the wasmtime layer."""
    if tier != "hypervisor":
        return invocation
    from wasmforge.runtime.hypervisor import with_hyperlight_code

    return with_hyperlight_code(image, invocation)


def network_notices(entries: tuple[str, ...], tier: str, notice: Notice) -> None:
    if not entries:
        return
    if tier == "wasm":
        notice(policy.NETWORK_NOTICE.format(hosts=", ".join(entries)))
        return
    if tier == "process":
        from wasmforge.runtime.network import plan

        _, skipped = plan(entries)
        if skipped:
            notice(policy.NETWORK_SKIPPED.format(entries=", ".join(skipped)))


def component_digest(component: bytes) -> str:
    return "sha256:" + hashlib.sha256(component).hexdigest()


def _caps(image: LoadedImage) -> Capabilities:
    caps = image.capabilities
    if not isinstance(caps, Capabilities):
        raise ImageError("the image's capabilities could not be read", where=image.name)
    return caps


def report(outcome: RunOutcome, verbose: bool, notice: Notice) -> None:
    if outcome.failure is None or outcome.failure == "exit" and not verbose:
        return
    notice(f"error: {outcome.message.rstrip('.')}.")
    if verbose and outcome.backtrace:
        notice("wasm backtrace:\n" + "\n".join(f"  {line}"
                                               for line in outcome.backtrace.splitlines()))

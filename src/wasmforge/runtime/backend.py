"""The seam between `run` and the isolation tiers: one small Protocol every backend implements.

`runtime.run` verifies the image and turns manifest + operator flags into an `Invocation`
(what the guest may touch, how long and how big it may get); a backend runs it and reports a
`RunOutcome`. Backends never widen an Invocation: they may only refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from wasmforge.image.model import Layer
from wasmforge.isolation import TIER_ORDER, TierName

if TYPE_CHECKING:
    from wasmforge.image.model import LoadedImage

__all__ = ["TIER_ORDER", "TierName", "Backend"]  # the tier list lives in wasmforge.isolation


@dataclass(frozen=True)
class TierStatus:
    """Whether a backend can run guests on this host, and why not when it cannot."""

    usable: bool
    detail: str


@dataclass(frozen=True)
class Preopen:
    """A host directory bound at a guest path (already checked against the manifest)."""

    host: str  # absolute, existing directory
    guest: str
    read_only: bool


@dataclass(frozen=True)
class Grants:
    """Exactly what the guest may use; anything absent is denied."""

    args: tuple[str, ...] = ()  # argv[1:]; argv[0] is the image name
    env: tuple[tuple[str, str], ...] = ()
    preopens: tuple[Preopen, ...] = ()
    network: tuple[str, ...] = ()  # outbound allow-list, scheme://host:port
    clocks: bool = True
    random: bool = True
    stdio: bool = True
    tools: tuple[str, ...] = ()  # host functions by name (hypervisor/executor world)


@dataclass(frozen=True)
class RunLimits:
    """The caps one run gets: the manifest's, tightened by operator flags."""

    memory_bytes: int
    timeout_s: float
    fuel: int | None = None


@dataclass(frozen=True)
class Stdio:
    """File descriptors the guest's stdin/stdout/stderr go to (default: the host's own).

    A negative descriptor means "nothing": empty stdin, output discarded.
    """

    stdin: int = 0
    stdout: int = 1
    stderr: int = 2


@dataclass(frozen=True)
class Invocation:
    """One run of one component."""

    name: str  # argv[0] for the guest and the name in messages
    component: bytes
    digest: str  # "sha256:<hex>" of `component`: the key for compiled-code caches
    grants: Grants
    limits: RunLimits
    stdio: Stdio = field(default_factory=Stdio)
    # Precompiled code shipped in the image, or None; a backend uses it only when its
    # annotations match its engine, else its own compiled-code cache.
    precompiled: Layer | None = None
    # Host functions for `grants.tools`: name -> f(args_json) -> result json (raise to fail).
    tools: dict[str, Callable[[str], str]] = field(default_factory=dict)
    verbose: bool = False
    imports: tuple[str, ...] = ()  # the component's WIT imports, for notices
    # The process tier: the SHA-256 of the sealed compiled code the host checked; the
    # worker, which cannot read the seal's key, loads only bytes with this hash.
    code_sha256: str | None = None

    def to_wire(self) -> bytes:
        """JSON for the process tier's worker. Not on the wire: the component and its
        precompiled code (the worker maps compiled code from the cache), the tools (the
        worker asks the host), stdio (passed as descriptors) and the declared tool names."""
        grants, limits = self.grants, self.limits
        return json.dumps({
            "name": self.name, "digest": self.digest, "args": list(grants.args),
            "env": [list(pair) for pair in grants.env],
            "preopens": [{"path": p.host, "guest": p.guest, "ro": p.read_only}
                         for p in grants.preopens],
            "network": list(grants.network), "clocks": grants.clocks,
            "random": grants.random, "stdio": grants.stdio, "memory": limits.memory_bytes,
            "timeout": limits.timeout_s, "fuel": limits.fuel, "verbose": self.verbose,
            "code": self.code_sha256,
        }).encode()

    @classmethod
    def from_wire(cls, data: bytes) -> Invocation:
        """The worker's side of `to_wire` (the component left empty)."""
        job = json.loads(data)
        grants = Grants(
            args=tuple(job["args"]), env=tuple((k, v) for k, v in job["env"]),
            preopens=tuple(Preopen(host=p["path"], guest=p["guest"], read_only=p["ro"])
                           for p in job["preopens"]),
            network=tuple(job["network"]), clocks=job["clocks"], random=job["random"],
            stdio=job["stdio"],
        )
        limits = RunLimits(memory_bytes=job["memory"], timeout_s=job["timeout"],
                           fuel=job["fuel"])
        return cls(name=job["name"], component=b"", digest=job["digest"], grants=grants,
                   limits=limits, verbose=job["verbose"], code_sha256=job.get("code"))


FailureKind = Literal["exit", "trap", "timeout", "memory", "fuel", "denied", "internal"]


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended. `exit_code` is what `wasmforge run` exits with."""

    exit_code: int
    failure: FailureKind | None = None  # None when the guest returned success
    message: str = ""  # one sentence for the operator; empty on success
    backtrace: str = ""  # wasm frames, shown with --verbose
    elapsed_s: float = 0.0


class Backend:
    """An isolation tier: `available` and `run` to implement, and lifecycle hooks whose
    defaults do nothing. A caller (`run`, `bench`, `serve`) goes through them in order:
    `unfit` while choosing, then `prepare`, `prestart`, `notices`, any number of `run`s
    (with `prewarm` before a burst), and `close` when it is done with the backend."""

    name: ClassVar[TierName]
    # False when the tier's wall-time cap ends wasm code only, not a guest blocked in a
    # host call; `wasmforge run` (one run per process) then adds a watchdog of its own.
    bounds_host_calls: ClassVar[bool] = True

    def available(self) -> TierStatus:
        """Cheap check whether this tier can run here (no guest is started)."""
        raise NotImplementedError

    def run(self, invocation: Invocation) -> RunOutcome:
        """Run the guest to completion within its limits; never raises for guest failures."""
        raise NotImplementedError

    @classmethod
    def cold(cls, concurrency: int = 1) -> Backend:
        """A new backend with cold in-process caches, sized for `concurrency` parallel runs,
        as a fresh `wasmforge run` would see it (bench measures first runs with it)."""
        return cls()

    def unfit(self, image: LoadedImage, invocation: Invocation) -> str:
        """Asked while `--isolation auto` considers this usable tier: why it cannot run this
        image as asked ("" when it can), so that auto takes the next tier instead."""
        return ""

    def prepare(self, image: LoadedImage, invocation: Invocation) -> Invocation:
        """Called once the tier is chosen, before anything starts: the invocation this
        tier runs (a tier may run other code the image carries for it)."""
        return invocation

    def prestart(self, invocation: Invocation) -> None:
        """Called after `prepare`, before the first run: start slow set-up (a sandbox, a
        compile) so that it overlaps the caller's remaining work or precedes the clock."""

    def notices(self, invocation: Invocation) -> list[str]:
        """Called before the first run: sentences the operator should read about how this
        tier grants the invocation (an allow-list it cannot enforce, entries it skips)."""
        return []

    def prewarm(self, invocation: Invocation) -> None:
        """Called before a burst of runs (bench, serve): make later runs warm (blocking)."""

    def close(self) -> None:
        """Called when the caller is done with this backend: stop its workers and VMs."""

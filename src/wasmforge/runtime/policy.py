"""Manifest capabilities + operator flags -> the exact grants and limits of a run.

The operator may narrow what the manifest declares, never widen it. Everything here runs
before any guest code does, and every refusal is a CapabilityError of one sentence.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from wasmforge.errors import CapabilityError
from wasmforge.project import MAX_FUEL, Capabilities, parse_duration, parse_memory
from wasmforge.runtime.backend import Grants, Preopen, RunLimits

NETWORK_NOTICE = (
    "note: the manifest allows outbound network to {hosts}, but the wasm tier can only grant "
    "all of the network or none of it, so it stays denied; use --isolation process to grant it"
)
NETWORK_SKIPPED = "note: these network entries cannot be forwarded and stay denied: {entries}"


@dataclass(frozen=True)
class OperatorFlags:
    """What `wasmforge run` was given, still as text."""

    args: Sequence[str] = ()
    env: Sequence[str] = ()
    mounts: Sequence[str] = ()
    timeout_s: float | None = None
    memory: str | None = None
    fuel: int | None = None


def resolve(caps: Capabilities, flags: OperatorFlags) -> tuple[Grants, RunLimits]:
    if flags.args and not caps.args:
        raise CapabilityError("the image does not grant arguments, yet arguments were passed",
                              fix="run it without arguments after `--`")
    grants = Grants(
        args=tuple(flags.args),
        env=parse_env(flags.env, caps),
        preopens=parse_mounts(flags.mounts, caps),
        network=tuple(caps.network),  # only the process tier can confine it (network.py)
        clocks=caps.clocks,
        random=caps.random,
        stdio=caps.stdio,
        tools=tuple(caps.tools),
    )
    return grants, limits(caps, flags)


def parse_env(items: Iterable[str], caps: Capabilities) -> tuple[tuple[str, str], ...]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CapabilityError(f"--env {item!r} is not NAME=VALUE",
                                  fix="write it as --env NAME=VALUE")
        if name not in caps.env:
            declared = ", ".join(caps.env) or "none"
            raise CapabilityError(
                f"--env {name} is not declared by the image (declared: {declared})",
                fix="pass only declared names, or add it to [capabilities] env and rebuild")
        if name in pairs:
            raise CapabilityError(f"--env {name} is given twice", fix="pass each name once")
        pairs[name] = value
    return tuple(pairs.items())


def parse_mounts(items: Iterable[str], caps: Capabilities) -> tuple[Preopen, ...]:
    declared = {mount.guest: mount.mode for mount in caps.mounts}
    preopens: list[Preopen] = []
    for item in items:
        host, guest, mode = _split_mount(item)
        guest = guest.rstrip("/") or "/"
        if guest not in declared:
            names = ", ".join(sorted(declared)) or "none"
            raise CapabilityError(
                f"--mount {item!r} targets {guest}, which the image does not declare "
                f"(declared: {names})",
                fix="mount onto a declared guest path, or declare it and rebuild")
        if mode == "rw" and declared[guest] == "ro":
            raise CapabilityError(f"--mount {item!r} asks for write access to {guest}, "
                                  "which the image declares read-only",
                                  fix="drop ':rw' (the mount will be read-only)")
        if any(p.guest == guest for p in preopens):
            raise CapabilityError(f"--mount binds {guest} twice", fix="bind each guest path once")
        real = os.path.realpath(host)
        if not os.path.isdir(real):
            raise CapabilityError(f"--mount host path {host} is not an existing directory",
                                  fix="create it or correct the path")
        read_only = mode == "ro" or declared[guest] == "ro"
        preopens.append(Preopen(host=real, guest=guest, read_only=read_only))
    return tuple(preopens)


def _split_mount(item: str) -> tuple[str, str, str | None]:
    parts = item.split(":")
    mode: str | None = None
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        mode = parts.pop()
    if len(parts) != 2 or not parts[0] or not parts[1].startswith("/"):
        raise CapabilityError(f"--mount {item!r} is not HOST:GUEST[:ro]",
                              fix="write it as --mount ./data:/data:ro with an absolute GUEST path")
    return parts[0], parts[1], mode


def limits(caps: Capabilities, flags: OperatorFlags) -> RunLimits:
    declared = caps.limits
    memory = declared.memory_bytes
    if flags.memory is not None:
        memory = int(_narrowed("--memory", flags.memory, repr(flags.memory), flags.memory,
                               parse_memory, memory, f"{memory // (1024 * 1024)} MiB"))
    timeout = declared.timeout_s
    if flags.timeout_s is not None:
        shown = f"{flags.timeout_s:g}"
        timeout = _narrowed("--timeout", flags.timeout_s, shown, shown, parse_duration,
                            timeout, f"{timeout:g} s", fix="give a positive number of seconds")
    fuel = declared.fuel
    if flags.fuel is not None:
        if not 0 < flags.fuel <= MAX_FUEL:
            raise CapabilityError(f"--fuel must be between 1 and {MAX_FUEL}")
        if fuel is not None and flags.fuel > fuel:
            raise CapabilityError(f"--fuel {flags.fuel} is above the image's cap of {fuel}",
                                  fix="ask for the same or less")
        fuel = flags.fuel
    return RunLimits(memory_bytes=memory, timeout_s=timeout, fuel=fuel)


def _narrowed(flag: str, given: Any, quoted: str, shown: str, parse: Callable[[Any], float],
              cap: float, cap_text: str, fix: str = "") -> float:
    """An operator's limit flag, parsed, and never above the image's cap."""
    try:
        asked = parse(given)
    except ValueError as err:
        raise CapabilityError(f"{flag} {quoted} is invalid: {err}", fix=fix) from None
    if asked > cap:
        raise CapabilityError(f"{flag} {shown} is above the image's cap of {cap_text}",
                              fix="ask for the same or less")
    return asked


# Interfaces wasmtime-py's WASIp2 linker always offers, by the grant that covers them.
_GRANT_PREFIXES = (("wasi:clocks/", "clocks"), ("wasi:random/", "random"))


def check_imports(imports: Iterable[str], grants: Grants) -> None:
    """Refuse a component importing a WASI interface that is linked but not granted."""
    for name in imports:
        for prefix, grant in _GRANT_PREFIXES:
            if name.startswith(prefix) and not getattr(grants, grant):
                raise CapabilityError(
                    f"the component imports {name}, but its manifest does not grant {grant}",
                    fix="rebuild it (wasmforge build composes deny stubs over ungranted "
                        "imports) or grant it in [capabilities]")

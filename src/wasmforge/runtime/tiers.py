"""The isolation tiers this host offers, and the choice `--isolation` makes among them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wasmforge.errors import RuntimeFailure
from wasmforge.runtime.backend import TIER_ORDER, Backend, TierStatus

_backends: dict[str, Backend] = {}


def backend(name: str) -> Backend:
    """The (process-wide) backend object of a tier."""
    found = _backends.get(name)
    if found is None:
        found = _make(name)
        _backends[name] = found
    return found


def _make(name: str) -> Backend:
    if name == "wasm":
        from wasmforge.runtime.wasm import WasmBackend

        return WasmBackend()
    if name == "process":
        from wasmforge.runtime.process import ProcessBackend

        return ProcessBackend()
    if name == "hypervisor":
        return _hypervisor()
    raise RuntimeFailure(f"unknown isolation tier {name!r}",
                         fix="use auto, wasm, process or hypervisor")


def _hypervisor() -> Backend:
    try:
        from wasmforge.runtime import hypervisor
    except ImportError:
        return _Unavailable("hypervisor", _probe_reason())
    made = getattr(hypervisor, "backend", None) or getattr(hypervisor, "HypervisorBackend", None)
    if made is None:
        return _Unavailable("hypervisor", "runtime/hypervisor.py defines no backend")
    return made() if isinstance(made, type) else made


def _probe_reason() -> str:
    try:
        from wasmforge.runtime.probe import probe_hypervisor
    except ImportError:
        return "wasmforge's Hyperlight backend is not installed"
    probed = probe_hypervisor()
    if not probed.usable:
        return probed.detail
    return "Hyperlight VMs boot here, but wasmforge's Hyperlight backend is not installed"


class _Unavailable:
    def __init__(self, name: Any, reason: str) -> None:
        self.name = name
        self.reason = reason

    def available(self) -> TierStatus:
        return TierStatus(False, self.reason)

    def run(self, invocation: Any) -> Any:
        raise RuntimeFailure(f"isolation tier {self.name} is unavailable: {self.reason}")


def status(name: str) -> TierStatus:
    try:
        if name == "hypervisor" and name not in _backends:
            # The probe is cached per boot; asking it first spares `run --isolation auto`
            # the backend's imports on hosts where no VM can boot.
            from wasmforge.runtime.probe import probe_hypervisor

            probed = probe_hypervisor()
            if not probed.usable:
                return TierStatus(False, probed.detail)
        return backend(name).available()
    except Exception as err:  # a broken backend must not break `doctor` or `auto`
        return TierStatus(False, f"checking it failed: {err}")


def tier_report() -> list[dict[str, Any]]:
    """For `wasmforge doctor`: every tier, strongest first."""
    rows = []
    for name in TIER_ORDER:
        state = status(name)
        rows.append({"tier": name, "usable": state.usable, "detail": state.detail})
    return rows


def choose(requested: str, minimum: str, notice: Callable[[str], None],
           unfit: Callable[[str], str] = lambda _tier: "") -> Backend:
    """The backend for `--isolation requested`, never weaker than the manifest's minimum.

    `auto` passes over a usable tier for which `unfit(tier)` gives a reason (the image
    cannot run there as asked), and says so when it settles on another."""
    if requested not in ("auto", *TIER_ORDER):
        raise RuntimeFailure(f"--isolation {requested!r} is not a tier",
                             fix="use auto, wasm, process or hypervisor")
    strength = {name: rank for rank, name in enumerate(reversed(TIER_ORDER))}
    if requested != "auto":
        if strength[requested] < strength[minimum]:
            raise RuntimeFailure(f"--isolation {requested} is weaker than the {minimum} tier "
                                 "the image requires", fix=f"use --isolation {minimum} or auto")
        state = status(requested)
        if not state.usable:
            raise RuntimeFailure(f"isolation tier {requested} is not usable here: "
                                 f"{state.detail.rstrip('.')}")
        return backend(requested)
    reasons: list[str] = []  # why each stronger tier was not taken
    passed_over: list[str] = []  # the usable ones among them
    for name in TIER_ORDER:
        if strength[name] < strength[minimum]:
            break
        state = status(name)
        why = unfit(name) if state.usable else state.detail
        if not why:
            extra = "".join(f"; {reason}" for reason in passed_over)
            notice(f"isolation: {name} ({state.detail}{extra})")
            return backend(name)
        reasons.append(f"{name}: {why.rstrip('.')}")
        if state.usable:
            passed_over.append(f"{name} not used: {why.rstrip('.')}")
    raise RuntimeFailure(f"the image requires isolation tier {minimum} or stronger and this "
                         f"host offers none ({'; '.join(reasons)})",
                         fix="run it on a host that offers that tier")

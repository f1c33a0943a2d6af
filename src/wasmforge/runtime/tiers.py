"""The isolation tiers this host offers, and the choice `--isolation` makes among them.

The tiers and their order come from `wasmforge.isolation.TIERS`; each backend is built
once per process from its entry there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wasmforge.errors import RuntimeFailure
from wasmforge.isolation import (
    TIER_ORDER,
    TIERS,
    Requested,
    TierName,
    at_least,
    is_tier,
    tier_list,
)
from wasmforge.isolation import requested as checked_request
from wasmforge.runtime.backend import Backend, Invocation, TierStatus

if TYPE_CHECKING:
    from wasmforge.image.model import LoadedImage

_backends: dict[str, Backend] = {}


def backend(name: str) -> Backend:
    """The (process-wide) backend object of a tier."""
    found = _backends.get(name)
    if found is None:
        found = backend_class(name)()
        _backends[name] = found
    return found


def backend_class(name: str) -> type[Backend]:
    """The backend class of a tier, from its entry in `wasmforge.isolation.TIERS`."""
    if not is_tier(name):
        raise RuntimeFailure(f"unknown isolation tier {name!r}", fix=f"use {tier_list()}")
    made: type[Backend] = _load(TIERS[name].backend)
    return made


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def status(name: str) -> TierStatus:
    try:
        probe = TIERS[name].probe if is_tier(name) else ""
        if probe and name not in _backends:
            # A cached cheap probe first spares `run --isolation auto` the backend's
            # imports on hosts where the tier cannot run.
            probed = _load(probe)()
            if not probed.usable:
                return TierStatus(False, probed.detail)
        return backend(name).available()
    except Exception as err:  # a broken backend must not break `doctor` or `auto`
        return TierStatus(False, f"checking it failed: {err}")


@dataclass(frozen=True)
class TierRow:
    """One line of `wasmforge doctor`'s tier table."""

    tier: TierName
    usable: bool
    detail: str


def tier_report() -> list[TierRow]:
    """For `wasmforge doctor`: every tier, strongest first."""
    rows = []
    for name in TIER_ORDER:
        state = status(name)
        rows.append(TierRow(name, state.usable, state.detail))
    return rows


def unfit_for(image: LoadedImage, invocation: Invocation) -> Callable[[str], str]:
    """`choose`'s `unfit`: each tier's own reason why it cannot run this image as asked."""
    return lambda tier: backend(tier).unfit(image, invocation)


def choose(requested: Requested | str, minimum: TierName, notice: Callable[[str], None],
           unfit: Callable[[str], str] = lambda _tier: "") -> Backend:
    """The backend for `--isolation requested`, never weaker than the manifest's minimum.

    `auto` passes over a usable tier for which `unfit(tier)` gives a reason (the image
    cannot run there as asked), and says so when it settles on another."""
    requested = checked_request(requested)
    if requested == "auto":
        return _choose_auto(minimum, notice, unfit)
    if not at_least(requested, minimum):
        raise RuntimeFailure(f"--isolation {requested} is weaker than the {minimum} tier "
                             "the image requires", fix=f"use --isolation {minimum} or auto")
    state = status(requested)
    if not state.usable:
        raise RuntimeFailure(f"isolation tier {requested} is not usable here: "
                             f"{state.detail.rstrip('.')}")
    return backend(requested)


def _choose_auto(minimum: TierName, notice: Callable[[str], None],
                 unfit: Callable[[str], str]) -> Backend:
    reasons: list[str] = []  # why each stronger tier was not taken
    passed_over: list[str] = []  # the usable ones among them
    for name in TIER_ORDER:
        if not at_least(name, minimum):
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

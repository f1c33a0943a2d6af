"""The isolation tiers: the one list of them, strongest first, and where each is built.

Everything that names tiers derives from this table: the manifest's `isolation` key
(`project.py`), the capability schema's enum (`image/capabilities.py`), the CLI's help,
the fix strings, the strength order `--isolation auto` walks, and `runtime/tiers.py`,
which builds a backend from its entry. Adding a tier is a backend module in `runtime/`
(a `runtime.backend.Backend` subclass) plus one entry here: its name in `TierName` and
in `TIERS`. Nothing here imports the runtime: entries are import paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard

TierName = Literal["hypervisor", "process", "wasm"]
Requested = TierName | Literal["auto"]  # what `--isolation` takes


@dataclass(frozen=True)
class TierEntry:
    """Where a tier's backend class lives, as `module:Class`, and optionally a cheap probe
    (`module:function` returning an object with `usable` and `detail`) asked before that
    module is imported, so that hosts where the tier cannot run skip its imports."""

    backend: str
    probe: str = ""


# Strongest first: `--isolation auto` takes the first usable one.
TIERS: dict[TierName, TierEntry] = {
    "hypervisor": TierEntry("wasmforge.runtime.hypervisor:HypervisorBackend",
                            probe="wasmforge.runtime.probe:probe_hypervisor"),
    "process": TierEntry("wasmforge.runtime.process:ProcessBackend"),
    "wasm": TierEntry("wasmforge.runtime.wasm:WasmBackend"),
}
TIER_ORDER: tuple[TierName, ...] = tuple(TIERS)
WEAKEST: TierName = TIER_ORDER[-1]


def is_tier(name: str) -> TypeGuard[TierName]:
    return name in TIERS


def strength(tier: TierName) -> int:
    """Higher is stronger; the weakest tier is 0."""
    return len(TIER_ORDER) - 1 - TIER_ORDER.index(tier)


def at_least(tier: TierName, minimum: TierName) -> bool:
    return strength(tier) >= strength(minimum)


def tier_list(last: str = "or", *, extra: tuple[str, ...] = ()) -> str:
    """The tiers in words, weakest first as users pick them: "wasm, process or hypervisor"."""
    names = [*extra, *reversed(TIER_ORDER)]
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


def requested(text: str) -> Requested:
    """`--isolation TEXT` checked: a tier or "auto"."""
    if text == "auto":
        return "auto"
    if is_tier(text):
        return text
    from wasmforge.errors import RuntimeFailure

    raise RuntimeFailure(f"--isolation {text!r} is not a tier",
                         fix=f"use {tier_list(extra=('auto',))}")

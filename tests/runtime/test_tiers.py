"""The tier registry (`wasmforge.isolation.TIERS`) and the backend lifecycle every tier
shares: each name builds its backend, and every list of tiers users see derives from it."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from wasmforge.errors import RuntimeFailure
from wasmforge.image.capabilities import schema
from wasmforge.isolation import TIER_ORDER, TIERS, TierName, at_least, requested
from wasmforge.runtime import tiers
from wasmforge.runtime.backend import Backend


def test_every_tier_name_has_a_backend_of_that_name() -> None:
    assert tuple(TIERS) == get_args(TierName)
    for name in TIER_ORDER:
        made = tiers.backend_class(name)
        assert issubclass(made, Backend) and made.name == name


def test_the_strength_order_is_the_table_order() -> None:
    assert TIER_ORDER == ("hypervisor", "process", "wasm")
    assert at_least("hypervisor", "process") and at_least("wasm", "wasm")
    assert not at_least("wasm", "process")


def test_the_schema_and_the_manifest_take_exactly_the_tiers(tmp_path: Path) -> None:
    from wasmforge.errors import ManifestError
    from wasmforge.project import Capabilities, parse_manifest

    assert schema()["properties"]["isolation"]["enum"] == list(reversed(TIER_ORDER))
    assert Capabilities().isolation == TIER_ORDER[-1]
    with pytest.raises(ManifestError, match="use wasm, process or hypervisor"):
        parse_manifest('[project]\nname = "a"\nversion = "0.1.0"\nlanguage = "c"\n'
                       '[capabilities]\nisolation = "vm"\n', tmp_path / "wasmforge.toml")


def test_a_request_that_names_no_tier_is_one_sentence() -> None:
    assert requested("auto") == "auto" and requested("process") == "process"
    with pytest.raises(RuntimeFailure) as refused:
        requested("vm")
    assert refused.value.fix == "use auto, wasm, process or hypervisor"


def test_default_hooks_change_nothing() -> None:
    class Plain(Backend):
        name = "wasm"

    backend = Plain.cold(4)
    invocation = object()
    assert backend.prepare(None, invocation) is invocation  # type: ignore[arg-type]
    assert backend.unfit(None, invocation) == ""  # type: ignore[arg-type]
    assert backend.notices(invocation) == []  # type: ignore[arg-type]
    backend.prestart(invocation)  # type: ignore[arg-type]
    backend.prewarm(invocation)  # type: ignore[arg-type]
    backend.close()

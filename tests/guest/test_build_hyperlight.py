"""`wasmforge build --hyperlight` end to end, through the lead's build_project (runs once
the C driver and its template exist; skips with the reason until then)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

from wasmforge.guest import hyperlight as guest
from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, HYPERLIGHT_COMPONENT_MEDIA_TYPE

pytestmark = pytest.mark.slow


def test_build_hyperlight_adds_the_executor_and_its_aot_code(
        tmp_path: Path, jco: Path, aot_wasmtime: str) -> None:
    if importlib.util.find_spec("wasmforge.languages.c") is None:
        pytest.skip("the C language driver (wasmforge.languages.c) has not landed yet")
    from wasmforge.errors import ToolchainMissing
    from wasmforge.image.reader import load_image
    from wasmforge.templates import scaffold
    from wasmforge.toolchain.build import build_project

    root = tmp_path / "hello"
    scaffold("hello", "c", root)
    try:
        result = build_project(root, hyperlight=True)
    except ToolchainMissing as missing:
        pytest.skip(f"the C toolchain is not installed here: {missing}")
    image = load_image(result.image, allow_unsigned=True)
    component = image.layer(HYPERLIGHT_COMPONENT_MEDIA_TYPE)
    aot = image.layer(HYPERLIGHT_AOT_MEDIA_TYPE)
    assert component is not None and aot is not None
    executor = tmp_path / "executor.wasm"
    executor.write_bytes(component.data)
    wit = subprocess.run(["wasm-tools", "component", "wit", str(executor)], check=True,
                         capture_output=True, text=True).stdout
    assert "export hyperlight:sandbox/executor;" in wit
    engine = guest.aot_engine(aot.data)
    assert engine is not None and engine.wasmtime == aot_wasmtime
    assert aot.annotations["org.wasmforge.hyperlight.wasmtime"] == aot_wasmtime

"""`wasmforge build --hyperlight` end to end for every language with a toolchain here:
the image carries the composed executor and its AOT code, the composition passed the
hosted-interface check, and under in-process wasmtime the executor runs the user's hello
with the request's arguments and environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from executor_harness import run_executor_in_wasmtime
from guest_fixtures import aot_wasmtime, jco, monkeypatch_session  # noqa: F401  (fixtures)

from wasmforge.guest import hyperlight as guest
from wasmforge.guest.executor import request_json
from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, HYPERLIGHT_COMPONENT_MEDIA_TYPE

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("language", ["c", "go", "rust", "python", "javascript"])
def test_build_hyperlight_adds_a_runnable_executor_and_its_aot_code(
        language: str, tmp_path: Path, jco: Path, aot_wasmtime: str) -> None:  # noqa: F811
    from wasmforge.errors import ToolchainMissing
    from wasmforge.image.reader import load_image
    from wasmforge.runtime.host_tools import dispatcher
    from wasmforge.templates import scaffold
    from wasmforge.toolchain.build import build_project

    root = tmp_path / "hello"
    scaffold("hello", language, root)
    try:
        result = build_project(root, hyperlight=True)
    except ToolchainMissing as missing:
        pytest.skip(f"the {language} toolchain is not installed here: {missing}")
    # What made the Hyperlight layers is part of the build key and the provenance.
    assert result.toolchains["hyperlight-guest-wasmtime"] == aot_wasmtime
    assert result.toolchains[guest.BACKEND_PACKAGE] == guest.backend_guest().package_version
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
    from wasmforge.image.inspect import describe

    assert describe(result.image)["hyperlight"].startswith(
        f"wasmtime {aot_wasmtime} for x86_64-unknown-none (hyperlight-sandbox-backend-wasm ")

    output = tmp_path / "output"
    output.mkdir()
    request = request_json(["hello", "hyperlight"], [("GREETING", "Howdy")])
    ran = run_executor_in_wasmtime(component.data, request, dispatcher([], {}), output)
    assert (ran.exit_code, ran.stderr) == (0, "")
    assert "Howdy" in ran.stdout and "hyperlight" in ran.stdout

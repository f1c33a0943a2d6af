"""`build --hyperlight` layers: the composed executor and its AOT code, whose engine version
must equal the wasmtime inside the installed backend's guest."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from wasmforge.errors import BuildFailed
from wasmforge.guest import hyperlight as guest
from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, HYPERLIGHT_COMPONENT_MEDIA_TYPE, Layer


def _backend() -> guest.BackendGuest:
    backend = guest.backend_guest()
    if backend is None:
        pytest.skip("hyperlight-sandbox-backend-wasm is not installed")
    return backend


def test_the_guest_wasmtime_version_is_read_from_the_installed_backend() -> None:
    backend = _backend()
    assert re.fullmatch(r"\d+\.\d+\.\d+", backend.wasmtime)
    native = backend.native.read_bytes()
    # The backend's own build info names the same guest wasmtime version.
    assert b"wasmtime version: " in native
    assert backend.wasmtime.encode() in native[native.find(b"hyperlight_wasm::build_info") - 400:]


def test_no_embedded_guest_means_no_version() -> None:
    assert guest.guest_wasmtime_version(b"\x7fELF\x02\x01\x01" + b"\0" * 100) is None
    assert guest.aot_engine(b"\0asm\x01\0\0\0") is None
    assert guest.elf_section(b"not an elf", ".text") is None


@pytest.mark.slow
def test_layers_carry_the_executor_and_matching_aot_code(
        hyperlight_image_layers: list[Layer], tmp_path: Path) -> None:
    backend = _backend()
    by_type = {layer.media_type: layer for layer in hyperlight_image_layers}
    assert set(by_type) == {HYPERLIGHT_COMPONENT_MEDIA_TYPE, HYPERLIGHT_AOT_MEDIA_TYPE}

    component = by_type[HYPERLIGHT_COMPONENT_MEDIA_TYPE]
    path = tmp_path / "executor.wasm"
    path.write_bytes(component.data)
    subprocess.run(["wasm-tools", "validate", str(path)], check=True)
    wit = subprocess.run(["wasm-tools", "component", "wit", str(path)], check=True,
                         capture_output=True, text=True).stdout
    assert "export hyperlight:sandbox/executor;" in wit

    aot = by_type[HYPERLIGHT_AOT_MEDIA_TYPE]
    assert aot.data.startswith(b"\x7fELF")
    engine = guest.aot_engine(aot.data)
    assert engine == guest.EngineInfo(wasmtime=backend.wasmtime, target="x86_64-unknown-none")
    assert aot.annotations["org.wasmforge.hyperlight.wasmtime"] == backend.wasmtime
    assert aot.annotations["org.wasmforge.hyperlight.target"] == "x86_64-unknown-none"
    assert aot.annotations["org.wasmforge.hyperlight.component"] == \
        "sha256:" + hashlib.sha256(component.data).hexdigest()


@pytest.mark.slow
def test_aot_from_another_wasmtime_is_refused_at_build(
        hyperlight_image_layers: list[Layer], aot_wasmtime: str) -> None:
    from wasmforge.toolchain.hyperlight import check_aot

    wasmtime = aot_wasmtime
    aot = next(x for x in hyperlight_image_layers if x.media_type == HYPERLIGHT_AOT_MEDIA_TYPE)
    check_aot(aot.data, wasmtime)
    with pytest.raises(BuildFailed, match=r"made by wasmtime .* but the backend's guest runs "
                                          r"wasmtime 1\.2\.3"):
        check_aot(aot.data, "1.2.3")
    with pytest.raises(BuildFailed, match="not a wasmtime precompiled ELF"):
        check_aot(b"\0asm\x01\0\0\0", wasmtime)


def test_a_missing_precompiler_is_a_clear_toolchain_error(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    from wasmforge.errors import ToolchainMissing
    from wasmforge.toolchain.hyperlight import aot_tool

    monkeypatch.delenv("WASMFORGE_HYPERLIGHT_AOT", raising=False)
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(tmp_path))
    with pytest.raises(ToolchainMissing, match="precompiler for wasmtime 9.9.9 is not built"):
        aot_tool("9.9.9")


@pytest.mark.slow
def test_the_layers_are_reproducible(hyperlight_image_layers: list[Layer], jco: Path,
                                     user_component: Path, tmp_path: Path) -> None:
    from wasmforge.project import Capabilities, Project
    from wasmforge.toolchain.hyperlight import hyperlight_layers

    project = Project(root=tmp_path, name="hello", version="0.1.0", language="c",
                      capabilities=Capabilities(tools=("add",)))
    again = hyperlight_layers(user_component.read_bytes(), project, tmp_path / "elsewhere")
    assert again == hyperlight_image_layers


@pytest.fixture(scope="module")
def loadable(hyperlight_image_layers: list[Layer], composed: Path, aot_wasmtime: str,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    """(precompiler, the AOT code on disk, what the guest must host for it)."""
    from wasmforge.toolchain.hyperlight import aot_tool, check_hosted

    aot = tmp_path_factory.mktemp("load") / "executor.aot"
    aot.write_bytes(next(x.data for x in hyperlight_image_layers
                         if x.media_type == HYPERLIGHT_AOT_MEDIA_TYPE))
    hosted = check_hosted(composed, _backend(), where="wasmforge.toml")
    return aot_tool(aot_wasmtime), aot, hosted


@pytest.mark.slow
def test_the_aot_code_links_against_the_guests_wasi_0_2_0_names_and_answers_a_load(
        loadable: tuple[Path, Path, list]) -> None:
    from wasmforge.toolchain.hyperlight import check_load

    tool, aot, hosted = loadable
    # The composition imports WASI @0.2.12; the guest hosts @0.2.0 (and tools, unversioned).
    assert {item.interface for item in hosted} >= {"wasi:io/streams@0.2.0",
                                                    "hyperlight:sandbox/tools"}
    check_load(tool, aot, hosted)
    answer = subprocess.run([str(tool), "link", str(aot), str(aot.with_suffix(".hosted.tsv"))],
                            capture_output=True, text=True, check=True).stdout
    assert 'Record([("stdout", String("")), ("stderr", String("")), ("exit-code", S32(0))])' \
        in answer


@pytest.mark.slow
def test_aot_code_the_guest_could_not_link_is_refused_at_build(
        loadable: tuple[Path, Path, list]) -> None:
    from dataclasses import replace

    from wasmforge.toolchain.hyperlight import check_load

    tool, aot, hosted = loadable
    without = [item for item in hosted if item.name != "get-directories"]
    with pytest.raises(BuildFailed, match="get-directories` has the wrong type: function "
                                          "implementation is missing"):
        check_load(tool, aot, without)
    other_track = [replace(item, interface=item.interface.replace("@0.2.0", "@0.3.0"))
                   for item in hosted]
    with pytest.raises(BuildFailed, match="a matching implementation was not found"):
        check_load(tool, aot, other_track)
    truncated = aot.with_name("truncated.aot")
    truncated.write_bytes(aot.read_bytes()[:4096])
    with pytest.raises(BuildFailed, match="the guest's wasmtime would not load"):
        check_load(tool, truncated, hosted)

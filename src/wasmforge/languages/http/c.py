"""C handlers: every .c file of the project, against the bindings wit-bindgen's C generator
(crates.io wit-bindgen-cli 0.63.0, built once by cargo) writes for the http world
(`#include "http.h"`, defining `exports_wasi_http_incoming_handler_handle`), compiled with
the pinned zig as a wasip1 reactor and wrapped with the reactor adapter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.languages.c import compile_flags, driver
from wasmforge.languages.http import adapter, wit
from wasmforge.languages.pins import ZIG
from wasmforge.languages.tools import python_with, require_pip, run_tool, toolchains_dir
from wasmforge.project import Project

WIT_BINDGEN = "0.63.0"
_INSTALL_TIMEOUT_S = 3600


def build(project: Project, ctx: BuildContext) -> BuildOutput:
    sources = [p for p in driver.source_files(project) if p.suffix == ".c"]
    if not sources:
        raise BuildFailed("the project has no .c files", where=str(project.root),
                          fix="add main.c defining exports_wasi_http_incoming_handler_handle")
    bindgen = wit_bindgen()
    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    wit.proxy_world(work / "wit", "c")
    gen = work / "gen"
    run_tool([bindgen, "c", "--world", wit.WORLD, "--out-dir", gen, work / "wit"],
             what="wit-bindgen c", cwd=work)
    core = work / "core.wasm"
    relative = [str(p.relative_to(project.root)) for p in sources]
    zig_cc([*compile_flags(project), f"-I{gen}", *relative, gen / f"{wit.WORLD}.c",
            gen / f"{wit.WORLD}_component_type.o", "-o", core], cwd=project.root)
    out = work / f"{project.name}.wasm"
    adapter.adapt(core, out, "c")  # the linked object carries the component type
    return BuildOutput(out, "component")


def zig_cc(args: Sequence[str | Path], *, cwd: Path, language: str = "c") -> None:
    """The pinned zig's `cc` for a wasm32-wasip1 reactor."""
    env = python_with(require_pip(ZIG, language))
    cache = toolchains_dir() / "zig-cache"
    env.setdefault("ZIG_GLOBAL_CACHE_DIR", str(cache))
    env.setdefault("ZIG_LOCAL_CACHE_DIR", str(cache))
    run_tool([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi",
              "-mexec-model=reactor", *args], what="zig cc", cwd=cwd, env=env)


def wit_bindgen_path() -> Path:
    return toolchains_dir() / "cargo" / f"wit-bindgen-cli-{WIT_BINDGEN}" / "bin" / "wit-bindgen"


def wit_bindgen() -> Path:
    path = wit_bindgen_path()
    if not path.is_file():
        raise ToolchainMissing(f"wit-bindgen {WIT_BINDGEN} (for C and Go HTTP handlers) is not "
                               f"installed (expected {path})",
                               fix="run `wasmforge toolchain install serve` (cargo; minutes)")
    return path


def install_wit_bindgen(*, jobs: int = 2) -> Path:
    """`cargo install wit-bindgen-cli` (C generator only) into the toolchains folder."""
    path = wit_bindgen_path()
    if path.is_file():
        return path
    rustup_cargo = Path.home() / ".cargo" / "bin" / "cargo"
    cargo = str(rustup_cargo) if rustup_cargo.is_file() else shutil.which("cargo")
    if cargo is None:
        raise ToolchainMissing("cargo is not on PATH (needed once to build wit-bindgen)",
                               fix="install Rust >= 1.88 with rustup")
    argv = [cargo, "install", "wit-bindgen-cli", "--version", WIT_BINDGEN, "--locked",
            "--no-default-features", "--features", "c", "-j", str(jobs),
            "--root", str(path.parent.parent)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S,
                              env={**os.environ})
    except subprocess.TimeoutExpired:
        raise BuildFailed("building wit-bindgen took too long and was stopped") from None
    if proc.returncode != 0:
        raise BuildFailed(f"building wit-bindgen failed: {proc.stderr.strip()[-2000:]}")
    return path


def versions() -> dict[str, str]:
    return {"wit-bindgen-cli": WIT_BINDGEN, **adapter.versions()}

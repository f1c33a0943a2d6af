"""Core wasm32-wasip1 modules -> wasm32-wasip2 command components.

The WASI preview1 command adapter comes from the pinned npm package
@bytecodealliance/jco (its lib/ folder), installed by `wasmforge toolchain install`.
"""

from __future__ import annotations

from pathlib import Path

from wasmforge.errors import ToolchainMissing
from wasmforge.languages.tools import Requirement, install_remedy, npm_package_dir, run_tool
from wasmforge.toolchain.validate import wasm_tools

JCO = Requirement("npm", "@bytecodealliance/jco", "1.35.0")
COMMAND_ADAPTER = "lib/wasi_snapshot_preview1.command.wasm"


def command_adapter() -> Path:
    adapter = npm_package_dir(JCO) / COMMAND_ADAPTER
    if not adapter.is_file():
        raise ToolchainMissing(f"the WASI preview1 command adapter ({JCO.spec}) is not "
                               "installed", fix=install_remedy("c"))
    return adapter


def componentize(core: Path, out: Path) -> None:
    run_tool([wasm_tools(), "component", "new", str(core), "--adapt",
              f"wasi_snapshot_preview1={command_adapter()}", "-o", str(out)],
             what="wrapping the core module into a component (wasm-tools component new)")

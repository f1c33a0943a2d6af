"""Core wasm32-wasip1 modules -> wasm32-wasip2 command components.

The WASI preview1 command adapter comes from the pinned npm package
@bytecodealliance/jco (its lib/ folder), installed by `wasmforge toolchain install`;
the drivers record its sha256 in their toolchain versions (languages.c.adapter_versions).
"""

from __future__ import annotations

from pathlib import Path

from wasmforge.errors import ToolchainMissing
from wasmforge.languages.c import JCO, command_adapter_path
from wasmforge.languages.tools import install_remedy, run_tool
from wasmforge.toolchain.validate import wasm_tools


def command_adapter() -> Path:
    adapter = command_adapter_path()
    if not adapter.is_file():
        raise ToolchainMissing(f"the WASI preview1 command adapter ({JCO.spec}) is not "
                               "installed", fix=install_remedy("c"))
    return adapter


def componentize(core: Path, out: Path) -> None:
    run_tool([wasm_tools(), "component", "new", str(core), "--adapt",
              f"wasi_snapshot_preview1={command_adapter()}", "-o", str(out)],
             what="wrapping the core module into a component (wasm-tools component new)")

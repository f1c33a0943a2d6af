"""Core wasm32-wasip1 modules -> wasm32-wasip2 command components.

The WASI preview1 command adapter comes from the pinned npm package
@bytecodealliance/jco (its lib/ folder), installed by `wasmforge toolchain install` for
every language that needs it; its sha256 is pinned (languages.pins.ADAPTER_SHA256,
recorded in the drivers' toolchain versions) and checked here before every use.
"""

from __future__ import annotations

from pathlib import Path

from wasmforge.commands import wasm_tools
from wasmforge.languages.pins import ADAPTER_SHA256, COMMAND_ADAPTER, JCO, checked_adapter
from wasmforge.languages.tools import npm_package_dir, run_tool

# Whichever language needs the adapter installs it: say so without naming one.
_INSTALL = ("run `wasmforge toolchain install LANG` for the project's language (it installs "
            f"{JCO.spec})")


def command_adapter_path() -> Path:
    """The WASI preview1 command adapter of the pinned jco (may not be installed)."""
    return npm_package_dir(JCO) / COMMAND_ADAPTER


def command_adapter() -> Path:
    return checked_adapter(COMMAND_ADAPTER, ADAPTER_SHA256, _INSTALL)


def componentize(core: Path, out: Path) -> None:
    run_tool([wasm_tools(), "component", "new", str(core), "--adapt",
              f"wasi_snapshot_preview1={command_adapter()}", "-o", str(out)],
             what="wrapping the core module into a component (wasm-tools component new)")

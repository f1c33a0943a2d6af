"""Core wasm32-wasip1 reactor modules (C, Go) -> wasi:http/proxy components.

The module carries no `_start`: it exports the handler (and `_initialize`). wasm-tools embeds
the world's WIT into it and wraps it with the WASI preview1 *reactor* adapter jco ships
(its sha256 pinned in languages/pins.py, beside the command adapter's)."""

from __future__ import annotations

from pathlib import Path

from wasmforge.commands import wasm_tools
from wasmforge.languages.http import wit
from wasmforge.languages.pins import JCO, REACTOR_ADAPTER, REACTOR_SHA256, checked_adapter
from wasmforge.languages.tools import install_remedy, run_tool


def reactor_adapter(language: str) -> Path:
    return checked_adapter(REACTOR_ADAPTER, REACTOR_SHA256, install_remedy(language))


def versions() -> dict[str, str]:
    return {JCO.name: JCO.version, "wasi-preview1-reactor-adapter.sha256": REACTOR_SHA256}


def componentize(core: Path, wit_dir: Path, out: Path, language: str,
                 world: str = wit.WORLD) -> None:
    """Embed `world` of `wit_dir` into `core`, then adapt it."""
    embedded = core.with_suffix(".embed.wasm")
    run_tool([wasm_tools(), "component", "embed", str(wit_dir), "--world", world,
              str(core), "-o", str(embedded)], what=f"embedding the {world} world (wasm-tools)")
    adapt(embedded, out, language)


def adapt(core: Path, out: Path, language: str) -> None:
    """A core module that carries its component type -> a component (reactor adapter)."""
    run_tool([wasm_tools(), "component", "new", str(core), "--adapt",
              f"wasi_snapshot_preview1={reactor_adapter(language)}", "-o", str(out)],
             what="wrapping the core module into a component (wasm-tools component new)")

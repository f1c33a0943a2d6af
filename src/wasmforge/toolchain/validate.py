"""Validation of built components with wasm-tools, and their WIT world."""

from __future__ import annotations

import re
from pathlib import Path

from wasmforge.commands import run_command, wasm_tools
from wasmforge.errors import BuildFailed
from wasmforge.image.model import WitSummary

_WORLD_ITEM = re.compile(r"^\s*(import|export)\s+([^;{]+?)\s*;", re.MULTILINE)
COMMAND_EXPORT = "wasi:cli/run"


def validate_component(path: Path) -> None:
    run_command([wasm_tools(), "validate", str(path)],
                what=f"validating the built component {path.name} (it is not valid)",
                fix="report this with the project attached; the toolchain produced an "
                    "invalid component")


def world_of(path: Path) -> WitSummary:
    """The imports and exports of a component's root world, as fully qualified names."""
    return parse_world(run_command(
        [wasm_tools(), "component", "wit", str(path)],
        what=f"reading the WIT world of {path.name} (is it a WebAssembly component?)"))


def parse_world(wit: str) -> WitSummary:
    """Read the `world root { ... }` block that `wasm-tools component wit` prints first."""
    start = wit.find("world ")
    body = wit[start:wit.find("\n}", start)] if start >= 0 else ""
    imports: list[str] = []
    exports: list[str] = []
    for kind, item in _WORLD_ITEM.findall(body):
        (imports if kind == "import" else exports).append(item.strip())
    return WitSummary(imports=tuple(imports), exports=tuple(exports))


def unversioned(interface: str) -> str:
    return interface.split("@", 1)[0]


def check_command_world(summary: WitSummary, path: Path) -> None:
    if not any(unversioned(e) == COMMAND_EXPORT for e in summary.exports):
        exported = ", ".join(summary.exports) or "nothing"
        raise BuildFailed(f"{path.name} does not export {COMMAND_EXPORT} (it exports "
                          f"{exported}), so it is not a command component",
                          fix="give the program a main entry point")


HTTP_EXPORT = "wasi:http/incoming-handler"


def check_http_world(summary: WitSummary, path: Path) -> None:
    if not any(unversioned(e) == HTTP_EXPORT for e in summary.exports):
        exported = ", ".join(summary.exports) or "nothing"
        raise BuildFailed(f"{path.name} does not export {HTTP_EXPORT} (it exports "
                          f"{exported}), so it is not an HTTP handler",
                          fix="implement the handler as the template of `wasmforge new NAME "
                              "--world http` does, or set world = \"command\"")

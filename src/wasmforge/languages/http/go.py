"""Go handlers: the module's main package written against the bindings wit-bindgen-go
(go.bytecodealliance.org v0.7.0, with go.bytecodealliance.org/cm v0.3.0, both from the Go
module proxy) generates for the http world, built by TinyGo for wasip2 (when `tinygo` is on
PATH, as the command driver does). The pinned Go cannot build them (see MAINLINE_GO).

The bindings are generated into `internal/` of a scratch copy of the project (the user's
folder is never written), under the module's own path: `<module>/internal/wasi/http/types`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.languages.go import GO, _go_env
from wasmforge.languages.http import adapter, wit
from wasmforge.languages.tools import require_pip, run_tool, toolchains_dir
from wasmforge.project import Project

# Why the pinned Go cannot build them (measured with Go 1.27.3): wit-bindgen-go lays strings
# and lists out as the canonical ABI does, with 32-bit pointers, as TinyGo's wasm has; Go's
# own wasm port has 64-bit pointers, and it rejects the generated imports outright.
MAINLINE_GO = ("Go HTTP handlers need TinyGo: the bindings wit-bindgen-go v0.7.0 generates "
               "assume 32-bit pointers, and Go 1.27's wasip1 port (64-bit pointers) rejects "
               "them (go:wasmimport: unsupported parameter type *string)")
BINDGEN_MODULE = "go.bytecodealliance.org"
BINDGEN_VERSION = "v0.7.0"
_MODULE_RE = re.compile(r"^module\s+(\S+)\s*$", re.MULTILINE)


def build(project: Project, ctx: BuildContext) -> BuildOutput:
    go = require_pip(GO, "go") / "go" / "bin" / "go"
    manifest = project.root / "go.mod"
    if not manifest.is_file():
        raise BuildFailed("go.mod is missing", where=str(project.root),
                          fix=f"run `go mod init {project.name}` in the project")
    found = _MODULE_RE.search(manifest.read_text("utf-8"))
    if found is None:
        raise BuildFailed("go.mod names no module", where=str(manifest),
                          fix=f"start it with `module {project.name}`")
    tinygo = shutil.which("tinygo")
    if tinygo is None:
        raise BuildFailed(MAINLINE_GO, where=str(project.root),
                          fix="install TinyGo 0.34 or newer and put `tinygo` on PATH")
    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    source = work / "src"
    shutil.copytree(project.root, source, ignore=shutil.ignore_patterns("build", "internal"))
    wit.proxy_world(work / "wit", "go")
    run_tool([_bindgen(go), "generate", "--world", wit.WORLD, "--out", source / "internal",
              "--package-root", f"{found[1]}/internal", work / "wit"],
             what="wit-bindgen-go generate", cwd=work)
    out = work / f"{project.name}.wasm"
    env = {**_go_env(), "PATH": os.pathsep.join([str(go.parent), os.environ.get("PATH", "")])}
    run_tool([tinygo, "build", "-target=wasip2", "--wit-package", work / "wit",
              "--wit-world", wit.WORLD, "-o", out, "."], what="tinygo build", cwd=source,
             env=env)
    return BuildOutput(out, "component")


def _bindgen(go: Path) -> Path:
    """wit-bindgen-go, built once from the Go module proxy into the toolchains folder."""
    folder = toolchains_dir() / "go-work" / f"wit-bindgen-go-{BINDGEN_VERSION}"
    binary = folder / "wit-bindgen-go"
    if binary.is_file():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "go.mod").write_text(f"module wasmforge/bindgen\n\ngo 1.24\n\n"
                                   f"require {BINDGEN_MODULE} {BINDGEN_VERSION}\n")
    run_tool([go, "build", "-o", binary.with_suffix(".tmp"),
              f"{BINDGEN_MODULE}/cmd/wit-bindgen-go"], what="building wit-bindgen-go",
             cwd=folder, env=_go_env())
    binary.with_suffix(".tmp").rename(binary)
    return binary


def versions() -> dict[str, str]:
    return {"wit-bindgen-go": BINDGEN_VERSION, **adapter.versions()}


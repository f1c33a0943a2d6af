"""Go handlers written against the bindings wit-bindgen-go (go.bytecodealliance.org
v0.7.0, with go.bytecodealliance.org/cm v0.3.0, both from the Go module proxy) generates
for the http world, built by TinyGo for wasip2 when `tinygo` is on PATH. The pinned Go
cannot build them (see MAINLINE_GO); net/http handlers (go.py) need no TinyGo.

The bindings are generated into `internal/` of a scratch copy of the project (the user's
folder is never written), under the module's own path: `<module>/internal/wasi/http/types`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.languages.go import GO, _go_env
from wasmforge.languages.http import wit
from wasmforge.languages.tools import require_pip, run_tool, toolchains_dir
from wasmforge.project import Project

# Why the pinned Go cannot build them (measured with Go 1.27.3): wit-bindgen-go lays strings
# and lists out as the canonical ABI does, with 32-bit pointers, as TinyGo's wasm has; Go's
# own wasm port has 64-bit pointers, and it rejects the generated imports outright.
MAINLINE_GO = ("this handler imports wit-bindgen-go's bindings (internal/wasi/http/...), "
               "which need TinyGo: they assume 32-bit pointers, and Go 1.27's wasip1 port "
               "(64-bit pointers) rejects them (go:wasmimport: unsupported parameter type "
               "*string)")
BINDGEN_MODULE = "go.bytecodealliance.org"
BINDGEN_VERSION = "v0.7.0"


def build(project: Project, ctx: BuildContext, module: str) -> BuildOutput:
    go = require_pip(GO, "go") / "go" / "bin" / "go"
    tinygo = shutil.which("tinygo")
    if tinygo is None:
        raise BuildFailed(MAINLINE_GO, where=str(project.root),
                          fix="install TinyGo 0.34 or newer and put `tinygo` on PATH, or "
                              "write the handler with net/http (`wasmforge new NAME --lang "
                              "go --world http` shows how)")
    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    source = work / "src"
    shutil.copytree(project.root, source, ignore=shutil.ignore_patterns("build", "internal"))
    wit.proxy_world(work / "wit", "go")
    run_tool([_bindgen(go), "generate", "--world", wit.WORLD, "--out", source / "internal",
              "--package-root", f"{module}/internal", work / "wit"],
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

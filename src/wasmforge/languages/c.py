"""C: every .c file of the project, compiled with zig's clang for wasm32-wasi.

With WASI_SDK_PATH set, the wasi-sdk's clang targets wasm32-wasip2 and emits the
component directly; otherwise the pinned `ziglang` from PyPI builds a preview1 core
module that the build wraps with the command adapter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages import tools
from wasmforge.languages.base import BuildContext, BuildOutput, ToolStatus
from wasmforge.languages.tools import (
    Requirement,
    install_remedy,
    npm_package_dir,
    python_with,
    require_npm,
    require_pip,
    run_tool,
    toolchains_dir,
)
from wasmforge.project import Project

ZIG = Requirement("pip", "ziglang", "0.17.0")
JCO = Requirement("npm", "@bytecodealliance/jco", "1.35.0")
COMMAND_ADAPTER = "lib/wasi_snapshot_preview1.command.wasm"  # inside the jco package
_SKIP_DIRS = {"build", ".git", "node_modules"}
# -s: zig's wasi-libc carries DWARF that would make a hello component 1 MB.
_BASE_FLAGS = ("-O2", "-s", "-Wall")


def project_files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files with `suffixes` under `root`, skipping build outputs and VCS folders."""
    return tools.project_files(root, lambda path: path.suffix in suffixes,
                               skip_dirs=_SKIP_DIRS, skip_hidden=False)


class CDriver:
    name = "c"
    entry_file = "main.c"

    def requirements(self) -> list[Requirement]:
        return [ZIG, JCO]

    def status(self) -> ToolStatus:
        sdk = _wasi_sdk()
        if sdk is not None:
            return ToolStatus(True, {"wasi-sdk": str(sdk)})
        try:
            require_pip(ZIG, self.name)
            require_npm(JCO, self.name)
        except ToolchainMissing as missing:
            return ToolStatus(False, problem=missing.what, remedy=install_remedy(self.name))
        return ToolStatus(True, {"zig": ZIG.version, "jco": JCO.version})

    def source_files(self, project: Project) -> list[Path]:
        return project_files(project.root, (".c", ".h"))

    def template_vars(self, name: str) -> dict[str, str]:
        return {}

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
        flags = _flags(project)
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


# The adapter inside the pinned jco, pinned by content too: toolchain_versions() must be
# constant (it is on the no-op rebuild path and must not depend on what is installed), so
# the digest is checked where the adapter is used (toolchain.adapter.command_adapter).
ADAPTER_SHA256 = "2a652d711c1fff34f9d5a0e073e50ef7eeb8fe7d8a6d559eae643a4c049a7b94"


def command_adapter_path() -> Path:
    """The WASI preview1 command adapter of the pinned jco (may not be installed)."""
    return npm_package_dir(JCO) / COMMAND_ADAPTER


def adapter_versions() -> dict[str, str]:
    """jco's version and the adapter's pinned sha256, for the cache key and provenance."""
    return {JCO.name: JCO.version, "wasi-preview1-command-adapter.sha256": ADAPTER_SHA256}


def _flags(project: Project) -> list[str]:
    flags = list(_BASE_FLAGS)
    flags += [f"-I{d}" for d in project.build.include_dirs]
    flags += [f"-D{d}" for d in project.build.defines]
    return flags + list(project.build.cflags)


def _wasi_sdk() -> Path | None:
    path = os.environ.get("WASI_SDK_PATH")
    return Path(path) if path and (Path(path) / "bin" / "clang").is_file() else None


driver = CDriver()

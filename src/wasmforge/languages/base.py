"""The seam every language sits behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from wasmforge.languages.tools import Requirement
from wasmforge.project import Project


@dataclass(frozen=True)
class ToolStatus:
    """What `doctor` shows for one language."""

    usable: bool
    versions: dict[str, str] = field(default_factory=dict)  # tool name -> version
    problem: str = ""  # one sentence: what is missing
    remedy: str = ""  # the exact command that fixes it


@dataclass(frozen=True)
class BuildContext:
    work_dir: Path  # an empty scratch directory owned by this build
    verbose: bool = False


@dataclass(frozen=True)
class BuildOutput:
    path: Path  # inside ctx.work_dir
    kind: Literal["core", "component"]  # a core module gets the preview1 command adapter


class LanguageDriver(Protocol):
    name: str  # "c", "go", ...
    entry_file: str  # relative to the project root: "main.c", "src/main.rs", ...

    def requirements(self) -> list[Requirement]:
        """The pinned packages `wasmforge toolchain install LANG` installs."""
        ...

    def status(self) -> ToolStatus:
        """Is the toolchain usable here? Fast (cached versions), never installs."""
        ...

    def source_files(self, project: Project) -> list[Path]:
        """Every input that affects the output (for the build cache key)."""
        ...

    def template_vars(self, name: str) -> dict[str, str]:
        """Extra jinja2 variables for `wasmforge new`."""
        ...

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        """Compile. Raises ToolchainMissing or BuildFailed (with the compiler's message)."""
        ...

    def toolchain_versions(self) -> dict[str, str]:
        """Pinned names and versions, recorded in the cache key and the provenance."""
        ...

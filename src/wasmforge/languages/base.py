"""The seam every language sits behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages.tools import Requirement, install_remedy, require_npm, require_pip
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


class LanguageDriver:
    """A language: `source_files` and `build` to implement; the rest has defaults derived
    from `requirements()`, which a driver overrides where its toolchain has other routes
    (a wasi-sdk, TinyGo, rustup) or its build other inputs (flags, glue)."""

    name: ClassVar[str]  # "c", "go", ...: the key in wasmforge.project.LANGUAGES
    # Relative to the project root ("main.c", "src/main.rs"): the template writes it.
    entry_file: ClassVar[str]

    def requirements(self) -> list[Requirement]:
        """The pinned packages `wasmforge toolchain install LANG` installs."""
        return []

    def source_files(self, project: Project) -> list[Path]:
        """Every input that affects the output (for the build cache key)."""
        raise NotImplementedError

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        """Compile. Raises ToolchainMissing or BuildFailed (with the compiler's message)."""
        raise NotImplementedError

    def entry(self, project: Project, role: str) -> Path:
        """The project's `entry_file`, or BuildFailed saying to create it as `role`."""
        entry = project.root / self.entry_file
        if not entry.is_file():
            raise BuildFailed(f"{self.entry_file} is missing", where=str(project.root),
                              fix=f"create {self.entry_file}: {role}")
        return entry

    def status(self) -> ToolStatus:
        """Is the toolchain usable here? Fast (cached versions), never installs. By default:
        usable when `check_installed` passes, showing the toolchain versions and extras."""
        try:
            self.check_installed()
            extras = self.status_extras()
        except ToolchainMissing as missing:
            return ToolStatus(False, problem=missing.what,
                              remedy=missing.fix or install_remedy(self.name))
        return ToolStatus(True, {**self.toolchain_versions(), **extras})

    def check_installed(self) -> None:
        """Raise ToolchainMissing unless every pip and npm requirement is installed (apt
        packages are the driver's to find: they have no install marker)."""
        for req in self.requirements():
            if req.kind == "pip":
                require_pip(req, self.name)
            elif req.kind == "npm":
                require_npm(req, self.name)

    def status_extras(self) -> dict[str, str]:
        """What `doctor` shows beside the versions (may raise ToolchainMissing)."""
        return {}

    def template_vars(self, name: str) -> dict[str, str]:
        """Extra jinja2 variables for `wasmforge new`."""
        return {}

    def toolchain_versions(self) -> dict[str, str]:
        """Pinned names and versions, recorded in the cache key and the provenance."""
        return {req.name: req.version for req in self.requirements()}

"""C#: `Program.cs` + a project file, made into a wasi:cli command by componentize-dotnet.

componentize-dotnet (NuGet `BytecodeAlliance.Componentize.DotNet.Wasm.SDK`) drives
NativeAOT-LLVM, the WASI SDK and wasm-tools from one PackageReference; it needs a .NET 10
SDK and NuGet access to the gallery plus the dotnet-experimental feed (for NativeAOT-LLVM).
Where `dotnet` or the package is absent (as on machines whose registries serve no
WASI-capable .NET toolchain), `status` names what is missing and `build` fails with the
remedy instead of producing anything.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages.base import BuildContext, BuildOutput, LanguageDriver, ToolStatus
from wasmforge.languages.tools import project_files, run_tool
from wasmforge.project import Project

COMPONENTIZE_DOTNET = "BytecodeAlliance.Componentize.DotNet.Wasm.SDK"
COMPONENTIZE_DOTNET_VERSION = "0.8.0-preview00011"
DOTNET_MAJOR = 10
ENTRY = "Program.cs"
_SKIP_DIRS = {"bin", "obj", "build"}
_REMEDY = (f"on a machine that reaches the NuGet gallery and the dotnet-experimental feed "
           f"(which serves NativeAOT-LLVM), install the .NET {DOTNET_MAJOR} SDK and "
           f"run `dotnet restore` in the project to fetch {COMPONENTIZE_DOTNET} "
           f"{COMPONENTIZE_DOTNET_VERSION}; no registry wasmforge installs from serves a "
           "WASI-capable .NET toolchain")


class CSharpDriver(LanguageDriver):
    name = "csharp"
    entry_file = ENTRY

    # requirements(): none, nothing `toolchain install` can fetch (see _REMEDY)

    def status(self) -> ToolStatus:
        missing = _missing()
        if missing:
            return ToolStatus(False, problem=missing, remedy=_REMEDY)
        return ToolStatus(True, self.toolchain_versions() | {"dotnet": _dotnet_version()})

    def source_files(self, project: Project) -> list[Path]:
        return project_files(project.root, lambda path: (
            path.suffix in {".cs", ".csproj", ".wit", ".props"}
            or path.name.lower() == "nuget.config"), skip_dirs=_SKIP_DIRS)

    def template_vars(self, name: str) -> dict[str, str]:
        namespace = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name))
        return {"namespace": namespace or "App", "componentize_dotnet": COMPONENTIZE_DOTNET,
                "componentize_dotnet_version": COMPONENTIZE_DOTNET_VERSION,
                "dotnet_major": str(DOTNET_MAJOR)}

    def toolchain_versions(self) -> dict[str, str]:
        return {COMPONENTIZE_DOTNET: COMPONENTIZE_DOTNET_VERSION}

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        missing = _missing()
        if missing:
            raise ToolchainMissing(f"C# needs {missing}", fix=_REMEDY)
        projects = sorted(project.root.glob("*.csproj"))
        if not projects:
            raise BuildFailed("no .csproj project file", where=str(project.root),
                              fix=f"add a project file referencing {COMPONENTIZE_DOTNET}")
        work = ctx.work_dir / "src"
        shutil.copytree(project.root, work, ignore=shutil.ignore_patterns(*_SKIP_DIRS, ".*"))
        run_tool([shutil.which("dotnet") or "dotnet", "build", "-c", "Release", "-nologo",
                  work / projects[0].name], what="dotnet build", cwd=work)
        built = sorted((work / "bin").rglob("wasi-wasm/**/*.wasm"))
        native = [path for path in built if path.parent.name in ("native", "publish")]
        if not (native or built):
            raise BuildFailed("dotnet build produced no .wasm under bin/",
                              where=str(projects[0]),
                              fix=f"keep <RuntimeIdentifier>wasi-wasm</RuntimeIdentifier> and "
                                  f"the {COMPONENTIZE_DOTNET} PackageReference in it")
        return BuildOutput((native or built)[0], "component")


def _nuget_packages() -> Path:
    return Path(os.environ.get("NUGET_PACKAGES", Path.home() / ".nuget" / "packages"))


def _missing() -> str:
    """What is absent, in words ("" when both the SDK and the package are here)."""
    gaps = []
    if shutil.which("dotnet") is None:
        gaps.append(f"the .NET {DOTNET_MAJOR} SDK (`dotnet` is not on PATH)")
    package = _nuget_packages() / COMPONENTIZE_DOTNET.lower() / COMPONENTIZE_DOTNET_VERSION
    if not package.is_dir():
        gaps.append(f"the NuGet package {COMPONENTIZE_DOTNET} {COMPONENTIZE_DOTNET_VERSION} "
                    f"(not in {_nuget_packages()})")
    return " and ".join(gaps)


def _dotnet_version() -> str:
    proc = subprocess.run(["dotnet", "--version"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


driver = CSharpDriver()

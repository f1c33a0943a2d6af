"""The C# driver: componentize-dotnet where a .NET SDK and the package are present; here
(no registry serves a WASI-capable .NET toolchain) `build` fails with the precise remedy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from wasmforge.errors import ToolchainMissing
from wasmforge.languages.csharp import COMPONENTIZE_DOTNET, driver
from wasmforge.toolchain.build import build_project


def test_template_has_program_and_project_file(new_project: Callable[..., Path],
                                               tmp_path: Path) -> None:
    root = new_project(tmp_path, "csharp", "cs-hello", {})
    program = (root / "Program.cs").read_text()
    assert "namespace CsHello;" in program and "static int Main(string[] args)" in program
    project = (root / "App.csproj").read_text()
    assert "<RuntimeIdentifier>wasi-wasm</RuntimeIdentifier>" in project
    assert "<AssemblyName>cs-hello</AssemblyName>" in project
    assert f'Include="{COMPONENTIZE_DOTNET}"' in project
    assert [p.name for p in driver.source_files(_project(root))] == ["App.csproj", "Program.cs"]


def _project(root: Path):
    from wasmforge.project import load_project

    return load_project(root)


def test_status_names_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUGET_PACKAGES", str(tmp_path / "no-nuget"))
    status = driver.status()
    assert not status.usable
    assert COMPONENTIZE_DOTNET in status.problem
    if shutil.which("dotnet") is None:
        assert "`dotnet` is not on PATH" in status.problem
    assert "dotnet restore" in status.remedy and "NuGet" in status.remedy


@pytest.mark.skipif(shutil.which("dotnet") is not None,
                    reason="a .NET SDK is on PATH here: the remedy path is not reachable")
def test_build_fails_with_the_remedy_and_leaves_nothing(
        new_project: Callable[..., Path], lang_home: Path, tmp_path: Path) -> None:
    root = new_project(tmp_path, "csharp", "cs-none", {})
    with pytest.raises(ToolchainMissing) as caught:
        build_project(root)
    message = str(caught.value)
    assert "the .NET 10 SDK" in message and COMPONENTIZE_DOTNET in message
    assert "install the .NET 10 SDK" in message
    assert message.count(". ") == 0  # one sentence
    assert not (root / "build" / "cs-none.wasm").exists()
    proc = subprocess.run([sys.executable, "-m", "wasmforge", "build", str(root)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert proc.returncode == 3
    assert COMPONENTIZE_DOTNET in proc.stderr and "Traceback" not in proc.stderr

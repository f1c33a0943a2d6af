"""The CLI as a user meets it: one-sentence errors, non-zero exits, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wasmforge.project import LANGUAGES


def wasmforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("language", LANGUAGES)
def test_new_scaffolds_a_project_per_language(tmp_path: Path, language: str) -> None:
    proc = wasmforge("new", "hello-app", "--lang", language, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "hello-app"
    manifest = (root / "wasmforge.toml").read_text()
    assert 'name = "hello-app"' in manifest and f'language = "{language}"' in manifest
    assert (root / ".gitignore").is_file() and (root / "README.md").is_file()
    entry = {"c": "main.c", "go": "main.go", "rust": "src/main.rs", "python": "main.py",
             "javascript": "main.js", "csharp": "Program.cs"}[language]
    assert (root / entry).is_file()


def test_new_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    proc = wasmforge("new", "taken", "--lang", "c", cwd=tmp_path)
    assert proc.returncode != 0
    assert "not empty" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("name", ["Hello", "1st", "a_b", "x-", "a" * 70])
def test_new_rejects_bad_names_with_the_rule(tmp_path: Path, name: str) -> None:
    proc = wasmforge("new", name, "--lang", "c", cwd=tmp_path)
    assert proc.returncode != 0
    assert "lowercase letters" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_rejects_an_unknown_language(tmp_path: Path) -> None:
    proc = wasmforge("new", "x", "--lang", "cobol", cwd=tmp_path)
    assert proc.returncode != 0
    assert "unknown language 'cobol'" in proc.stderr and "Traceback" not in proc.stderr


def test_build_reports_a_malformed_manifest_with_key_and_line(tmp_path: Path) -> None:
    assert wasmforge("new", "app", "--lang", "c", cwd=tmp_path).returncode == 0
    manifest = tmp_path / "app" / "wasmforge.toml"
    manifest.write_text(manifest.read_text().replace('memory = "64MiB"', 'memory = "plenty"'))
    proc = wasmforge("build", str(tmp_path / "app"), cwd=tmp_path)
    assert proc.returncode != 0
    assert "capabilities.limits.memory" in proc.stderr and "wasmforge.toml:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "app" / "build").exists()

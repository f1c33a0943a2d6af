"""The contract every language driver keeps, one parametrized test per promise.

Each language is one `Case` line below, plus its template folder (src/wasmforge/templates/)
and its program in tests/languages/contract/<language>/ (see the README there). A case
builds through build_project with the real toolchain and runs in wasmtime-py (WASIp2: args,
env, stdin, no preopens); it skips where the language's toolchain is not installed.
Language-specific behaviour (dependencies, routes, glue) stays in test_<language>.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import GuestRunner

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages import ToolStatus, get_driver
from wasmforge.project import LANGUAGES
from wasmforge.templates import scaffold
from wasmforge.toolchain.build import BuildResult, build_project

CONTRACT = Path(__file__).parent / "contract"


@dataclass(frozen=True)
class Case:
    language: str
    broken: dict[str, str]  # a source with a compile error
    says: str  # what the compiler's message says about it


CASES = [
    Case("c", {"main.c": "int main(void) { return 0 }\n"}, "expected ';'"),
    Case("go", {"main.go": "package main\n\nfunc main() {\n\tx :=\n}\n"}, "syntax error"),
    Case("rust", {"src/main.rs": "fn main() {\n    let x = ;\n}\n"}, "expected expression"),
    Case("python", {"main.py": "print('ok')\ndef f(:\n"}, "SyntaxError"),
    Case("javascript", {"main.js": "const x = = 1;\n"}, "Unexpected"),
]
BUILT = [pytest.param(case, id=case.language, marks=pytest.mark.slow) for case in CASES]
Build = Callable[[str, str, dict[str, str]], BuildResult]


def _program(language: str) -> dict[str, str]:
    folder = CONTRACT / language
    return {str(path.relative_to(folder)): path.read_text()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _cli_build(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", "build", str(root)],
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def contract_build(build_lang: Build) -> Callable[[Case], BuildResult]:
    """The contract program of a case's language, built once per module."""
    built: dict[str, BuildResult] = {}

    def build(case: Case) -> BuildResult:
        if case.language not in built:
            built[case.language] = build_lang(case.language, "contract",
                                                _program(case.language))
        return built[case.language]
    return build


def test_every_language_has_a_driver_a_template_and_a_contract_case(tmp_path: Path) -> None:
    covered = {case.language for case in CASES}
    for language in LANGUAGES:
        driver = get_driver(language)
        assert driver.name == language
        written = scaffold("hello", language, tmp_path / language)
        assert (tmp_path / language / driver.entry_file).is_file(), (language, written)
        if language != "csharp":  # no registry here serves a WASI-capable .NET toolchain
            assert language in covered and (CONTRACT / language).is_dir()


@pytest.mark.parametrize("case", BUILT)
def test_template_hello_runs_with_args_and_env(case: Case, build_lang: Build,
                                               guest_runner: GuestRunner) -> None:
    hello = build_lang(case.language, "hello", {})
    assert hello.component.read_bytes()[:8] == b"\0asm\x0d\x00\x01\x00"
    run = guest_runner(hello.component, ["Ada"], env={"GREETING": "Howdy"})
    assert run.ok, run.stderr
    assert run.stdout.startswith("Howdy, Ada!\n") or run.stdout.startswith("Hello, Ada!\n")
    assert "Howdy" in run.stdout
    assert guest_runner(hello.component).stdout.startswith("Hello, world!\n")


@pytest.mark.parametrize("case", BUILT)
def test_multi_file_program_reads_stdin(case: Case, contract_build: Callable[[Case], BuildResult],
                                        guest_runner: GuestRunner) -> None:
    run = guest_runner(contract_build(case).component, ["quiet"], stdin="typed in\nmore\n")
    assert run.ok, run.stderr
    lines = run.stdout.splitlines()
    assert "stdin: typed in" in lines and "shout: QUIET!" in lines


@pytest.mark.parametrize("case", BUILT)
def test_nonzero_exit_is_a_failure(case: Case, contract_build: Callable[[Case], BuildResult],
                                   guest_runner: GuestRunner) -> None:
    assert not guest_runner(contract_build(case).component, ["a", "b"]).ok


@pytest.mark.parametrize("case", BUILT)
def test_compile_error_fails_with_the_compilers_message(
        case: Case, new_project: Callable[..., Path], lang_home: Path, tmp_path: Path) -> None:
    _require_toolchain(case.language)
    root = new_project(tmp_path, case.language, "broken", case.broken)
    with pytest.raises(BuildFailed) as failed:
        build_project(root)
    assert case.says in str(failed.value)
    proc = _cli_build(root, dict(os.environ))
    assert proc.returncode == 1
    assert case.says in proc.stderr and "Traceback" not in proc.stderr
    assert not (root / "build" / "broken.wasm").exists()


@pytest.mark.parametrize("case", BUILT)
def test_missing_entry_file_is_a_build_failure(case: Case, new_project: Callable[..., Path],
                                               lang_home: Path, tmp_path: Path) -> None:
    _require_toolchain(case.language)
    entry = get_driver(case.language).entry_file
    root = new_project(tmp_path, case.language, "noentry", {entry: ""})
    with pytest.raises(BuildFailed):
        build_project(root)
    proc = _cli_build(root, dict(os.environ))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert not (root / "build").exists() or not any((root / "build").iterdir())


@pytest.mark.parametrize("case", [pytest.param(case, id=case.language) for case in CASES])
def test_missing_toolchain_names_the_remedy(case: Case, new_project: Callable[..., Path],
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    driver = get_driver(case.language)
    remedy = f"wasmforge toolchain install {case.language}"
    # the message names a pinned package, or (Rust's pinned .debs) the pinned version
    pins = [req.spec for req in driver.requirements() if req.kind in ("pip", "npm")]
    pins += [version for version in driver.toolchain_versions().values() if version]
    root = new_project(tmp_path, case.language, "notools", {})
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(tmp_path / "empty"))
    status = driver.status()
    if status.usable:
        pytest.skip(f"{case.language} builds here without wasmforge's toolchains "
                    f"({status.versions})")
    assert remedy in status.remedy
    with pytest.raises(ToolchainMissing) as missing:
        build_project(root)
    assert remedy in str(missing.value) and any(pin in str(missing.value) for pin in pins)
    proc = _cli_build(root, dict(os.environ))
    assert proc.returncode == 3
    assert remedy in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("case", [pytest.param(case, id=case.language) for case in CASES])
def test_status_shows_the_pinned_versions(case: Case) -> None:
    driver = get_driver(case.language)
    status = _require_toolchain(case.language)
    versions = driver.toolchain_versions()
    assert status.versions and versions
    for req in driver.requirements():
        if req.kind in ("pip", "npm") and req.name in versions:
            assert versions[req.name] == req.version


def _require_toolchain(language: str) -> ToolStatus:
    status = get_driver(language).status()
    if not status.usable:
        pytest.skip(f"{language} toolchain not usable here: {status.problem}")
    return status

"""Fixtures for the language driver tests: real toolchains from the wasmforge cache, real
builds through build_project, real wasmtime-py WASIp2 runs.

Every language's tests share them: `build_lang` (a scaffolded, built project),
`new_project` (scaffolded only), `lang_home` (a private WASMFORGE_HOME with the real
toolchains), `guest_runner` (runs a command component) and `wasmforge_cli` (the CLI in a
subprocess).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import wasmtime
from wasmtime.component import Component, Linker

from wasmforge.languages import get_driver
from wasmforge.languages.tools import toolchains_dir
from wasmforge.templates import scaffold
from wasmforge.toolchain.build import BuildResult, build_project

REAL_TOOLCHAINS = toolchains_dir()


@dataclass(frozen=True)
class GuestRun:
    ok: bool
    stdout: str
    stderr: str


@dataclass
class GuestRunner:
    """Runs command components in wasmtime-py (WASIp2); each component is compiled once."""

    engine: wasmtime.Engine = field(default_factory=wasmtime.Engine)
    compiled: dict[Path, Component] = field(default_factory=dict)

    def __call__(self, component: Path, args: Sequence[str] = (), *,
                 env: dict[str, str] | None = None, stdin: str = "",
                 preopens: Sequence[tuple[Path, str]] = ()) -> GuestRun:
        loaded = self.compiled.get(component)
        if loaded is None:
            loaded = self.compiled[component] = Component.from_file(self.engine, component)
        linker = Linker(self.engine)
        linker.add_wasip2()
        with tempfile.TemporaryDirectory() as scratch:
            stdin_path, out_path, err_path = (Path(scratch) / n for n in ("in", "out", "err"))
            stdin_path.write_text(stdin)
            wasi = wasmtime.WasiConfig()
            wasi.argv = [component.stem, *args]
            wasi.env = [[k, v] for k, v in (env or {}).items()]
            wasi.stdin_file = str(stdin_path)
            wasi.stdout_file = str(out_path)
            wasi.stderr_file = str(err_path)
            for host, guest in preopens:
                wasi.preopen_dir(str(host), guest)
            store = wasmtime.Store(self.engine)
            store.set_wasi(wasi)
            instance = linker.instantiate(store, loaded)
            run_name = next(n for n in loaded.type.exports(self.engine)
                            if n.startswith("wasi:cli/run@"))
            index = loaded.get_export_index("run", loaded.get_export_index(run_name))
            func = instance.get_func(store, index)
            assert func is not None
            try:
                result = func(store)
                ok = getattr(result, "tag", "ok") == "ok"
            except wasmtime.ExitTrap as trap:
                ok = trap.code == 0
            del store
            return GuestRun(ok, out_path.read_text(), err_path.read_text())


@pytest.fixture(scope="session")
def guest_runner() -> GuestRunner:
    return GuestRunner()


@pytest.fixture(scope="session")
def build_lang(tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Callable[[str, str, dict[str, str]], BuildResult]]:
    """build(language, name, files) -> BuildResult: scaffolds a project, overwrites/adds
    `files` (relative path -> text, "" deletes), builds it with a private WASMFORGE_HOME and
    the real toolchains; skips when the language's toolchain is not installed."""
    home = tmp_path_factory.mktemp("lang-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WASMFORGE_TOOLCHAINS", str(REAL_TOOLCHAINS))
        patch.setenv("WASMFORGE_HOME", str(home))

        def build(language: str, name: str, files: dict[str, str]) -> BuildResult:
            status = get_driver(language).status()
            if not status.usable:
                pytest.skip(f"{language} toolchain not usable here: {status.problem} "
                            f"({status.remedy})")
            root = make_project(tmp_path_factory.mktemp(name), language, name, files)
            return build_project(root)

        yield build


def make_project(parent: Path, language: str, name: str, files: dict[str, str]) -> Path:
    root = parent / name
    scaffold(name, language, root)
    for rel, text in files.items():
        path = root / rel
        if text == "":
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture()
def lang_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private WASMFORGE_HOME sharing the real toolchains (for per-test builds)."""
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(REAL_TOOLCHAINS))
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="session")
def new_project() -> Callable[[Path, str, str, dict[str, str]], Path]:
    """new(parent, language, name, files) -> project root (no build)."""
    return make_project


@dataclass(frozen=True)
class Cli:
    """`python -m wasmforge ARGS` in a subprocess, with a given WASMFORGE_HOME/TOOLCHAINS."""

    home: Path

    def __call__(self, *args: str, toolchains: Path | None = None,
                 timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, WASMFORGE_HOME=str(self.home),
                   WASMFORGE_TOOLCHAINS=str(toolchains or REAL_TOOLCHAINS))
        return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                              text=True, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def wasmforge_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(tmp_path_factory.mktemp("cli-home"))
